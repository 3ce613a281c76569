"""DFT refinement of an ML adhesion study (issue #12).

An adhesion study (`ssbflow.workflows.adhesion.AdhesionMaker`) screens and relaxes interface
candidates with a cheap potential. `RefineMaker` takes its ML summary and recomputes the
``top_k`` best relaxed candidates (the summary's selection order) at a second, higher level
of theory (any maker whose task document has ``.output.energy``: GPAW through
`CalcStaticMaker`, atomate2's VASP makers):

- single points (``static_maker``) of the ML-relaxed interface, metal slab and electrolyte
  slab of each candidate → DFT W_ad = (E_m + E_e − E_int)/A; with ``relax_maker`` these
  three are instead relaxed (a short fixed-cell relaxation from the ML geometry);
- DFT surface energies from single points of the ML-relaxed slabs of the thickness series
  (always single points, also with ``relax_maker``): the metal's lowest-γ termination (one
  series shared by every candidate) and each refined candidate's electrolyte contact face
  (one series per distinct face), against DFT single points of the ML-relaxed bulks
  (``bulk_static_maker``; metal-rich limit, μ_M from the DFT metal bulk). The DFT series is
  converged when |Δγ| of its last two slabs is below the ML series' tolerance;
- γ_int = γ_metal + γ_face − W_ad and θ (Young–Dupré) per candidate, ML and DFT side by
  side; the headline comes from DFT when a refined candidate has a DFT W_ad, and
  ``headline_level_of_theory`` says which level it is. Disagreements (sign of W_ad, wetting
  class, order of the refined candidates) become warnings.

A failed DFT calculation marks its candidate ``failed`` with the reason; if every refined
candidate fails the ML headline stays, with a warning. The candidates are known only at run
time, so the refinement fans out with ``Response(replace=Flow(...))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jobflow import Flow, Maker, OnMissing, Response, job
from jobflow.core.reference import OutputReference
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.adhesion import (
    contact_angle_deg,
    interface_energy_J_per_m2,
    work_of_adhesion_J_per_m2,
)
from ssbflow.analysis.refinement import (
    LevelComparison,
    RankedCandidate,
    level_disagreements,
    select_headline,
    selection_order,
    slab_surface_energy_J_per_m2,
    thickness_converged,
)
from ssbflow.calculators.registry import CALCULATORS
from ssbflow.errors import InputError
from ssbflow.schemas import Provenance, as_model
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
from ssbflow.workflows.common import (
    provenance_for,
    task_energy_eV,
    task_failure,
    task_n_steps,
    task_structure,
)

#: Tag of the ML summary of a study whose refinement follows.
ML_STAGE_TAG = "ml-stage, refined later"
#: Tag of the refined summary.
REFINED_TAG = "dft-refined"

#: GPAW presets a refinement can name (the calculator registry's, in its order).
GPAW_PRESETS: tuple[str, ...] = tuple(CALCULATORS["gpaw"].presets)


# --------------------------------------------------------------------------------------
# documents


class RefinedNumbers(BaseModel):
    """One candidate's adhesion numbers at one level of theory (None: not computed)."""

    work_of_adhesion_J_per_m2: float | None = None
    metal_surface_energy_J_per_m2: float | None = None
    electrolyte_surface_energy_J_per_m2: float | None = None
    interface_energy_J_per_m2: float | None = None
    contact_angle_deg: float | None = None
    wetting: str | None = None


class RefinedCandidate(BaseModel):
    """A refined candidate: ML and DFT numbers side by side."""

    label: str
    status: Literal["refined", "failed"] = "refined"
    failure_reason: str | None = None
    ml_rank: int = Field(..., description="1-based place in the ML selection order")
    ml: RefinedNumbers = Field(default_factory=RefinedNumbers)
    dft: RefinedNumbers = Field(default_factory=RefinedNumbers)
    reactive: bool = Field(False, description="DFT γ_int < 0")
    migrated: bool = Field(False, description="Atoms crossed the contact plane (ML relaxation)")
    ml_reactive: bool = Field(False, description="ML γ_int < 0")
    notes: list[str] = Field(default_factory=list, description="Why a DFT number is missing")


class SurfaceSeriesRefinement(BaseModel):
    """One surface-energy thickness series, ML and DFT (single points of the ML slabs)."""

    face: str = Field(..., description="'metal' or the electrolyte termination label")
    termination: str = ""
    thicknesses_A: list[float] = Field(default_factory=list)
    ml_surface_energies_J_per_m2: list[float | None] = Field(default_factory=list)
    dft_surface_energies_J_per_m2: list[float | None] = Field(default_factory=list)
    dft_surface_energy_J_per_m2: float | None = Field(None, description="Thickest slab, J/m²")
    tolerance_J_per_m2: float = 0.01
    dft_converged: bool | None = Field(
        None, description="|Δγ_DFT| of the last two slabs < the ML series' tolerance"
    )
    status: Literal["successful", "failed"] = "successful"
    failure_reason: str | None = None


class RefinementBlock(BaseModel):
    """The DFT refinement of an adhesion study."""

    level_of_theory: str
    provenance: Provenance
    relaxed: bool = Field(False, description="Interfaces and slabs relaxed at the DFT level")
    top_k: int
    ml_level_of_theory: str | None = None
    ml_provenance: Provenance | None = Field(None, description="Of the ML stage")
    ml_selected_label: str | None = None
    candidates: list[RefinedCandidate] = Field(default_factory=list)
    disagreements: list[str] = Field(default_factory=list)
    n_dft_single_points: int = 0
    n_dft_relaxation_steps: int = 0
    surface_series: list[SurfaceSeriesRefinement] = Field(default_factory=list)
    same_minimum_as: dict[str, str] = Field(
        default_factory=dict,
        description="ML candidates not refined because they relaxed into the same interface "
        "as a refined one (label → refined label); the next distinct candidate took the place",
    )
    method: str = Field(
        "DFT single points of the ML-relaxed interface, metal slab and electrolyte slab "
        "(W_ad), of the ML-relaxed surface-energy slabs and of the ML-relaxed bulks (γ, "
        "metal-rich limit); with a DFT relaxation the interface and both slabs are relaxed "
        "from the ML geometry, the surface-energy series stay single points"
    )


# --------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class RefineSpec:
    """Which DFT code refines, normalised from 'gpaw', 'gpaw:fast', 'vasp', 'vasp:...'."""

    backend: Literal["gpaw", "vasp"]
    preset: str | None = None

    @classmethod
    def parse(cls, text: str) -> RefineSpec:
        """Parse 'gpaw', 'gpaw:<fast|standard|accurate>', 'vasp' or 'vasp:<anything>'."""
        valid = "valid forms: " + ", ".join(["gpaw", *(f"gpaw:{p}" for p in GPAW_PRESETS), "vasp"])
        raw = (text or "").strip()
        backend, _, rest = raw.partition(":")
        backend, rest = backend.strip().lower(), rest.strip().lower()
        if backend == "gpaw":
            if not rest:
                return cls("gpaw", None)
            if rest in GPAW_PRESETS:
                return cls("gpaw", rest)
            raise InputError(f"unknown GPAW preset '{rest}' in '{text}'; {valid}", field="refine")
        if backend == "vasp":
            return cls("vasp", None)
        raise InputError(f"unknown refinement '{text}'; {valid}", field="refine")


def _gpaw_fast_static() -> CalcStaticMaker:
    return CalcStaticMaker(
        name="dft single point", calculator_name="gpaw", calculator_kwargs={"preset": "fast"}
    )


@dataclass
class RefineMaker(Maker):
    """DFT refinement of the best candidates of an ML adhesion study.

    Parameters
    ----------
    name
        Job name.
    top_k
        Candidates refined: the best ``top_k`` relaxed ones by the ML selection order.
    static_maker
        DFT single points (interfaces, slabs; bulks too when ``bulk_static_maker`` is None).
    bulk_static_maker
        DFT single points of the bulk references (bulk k-points); None: ``static_maker``.
    relax_maker
        Optional short DFT relaxation (fixed cell) of each interface and its two slabs,
        from the ML geometry; the surface-energy series stay single points.
    level_of_theory
        Label of the DFT level for the document; None: from the static maker's calculator.
    tags
        Labels added to the refined document.
    """

    name: str = "dft refinement"
    top_k: int = 2
    static_maker: Maker = field(default_factory=_gpaw_fast_static)
    bulk_static_maker: Maker | None = None
    relax_maker: Maker | None = None
    level_of_theory: str | None = None
    tags: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        """Scalar settings, for provenance."""
        return {"top_k": self.top_k, "relaxed": self.relax_maker is not None}

    def validate(self) -> None:
        """Raise InputError for impossible settings."""
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 1:
            raise InputError(f"top_k must be a whole number ≥ 1, got {self.top_k}", field="top_k")
        if self.static_maker is None:
            raise InputError("a static_maker is needed for DFT single points", field="static_maker")

    def _job_kwargs(self) -> dict[str, Any]:
        """What `refine_top_candidates` takes from the maker: sub-makers and scalars."""
        return {
            "top_k": self.top_k,
            "static_maker": self.static_maker,
            "bulk_static_maker": self.bulk_static_maker,
            "relax_maker": self.relax_maker,
            "level_of_theory": self.level_of_theory,
            "tags": list(self.tags),
        }

    def dft_level_of_theory(self) -> str:
        """Label of the refinement's level of theory."""
        return _dft_level_of_theory(self.level_of_theory, self.static_maker)

    def make(
        self,
        ml_summary: Any,
        relaxed: Any,
        metal_surface: Any,
        electrolyte_surfaces: Any,
        metal_bulk: Structure | Any,
        electrolyte_bulk: Structure | Any,
    ):
        """The refinement job (computes nothing now); its output is the refined
        `AdhesionDocument`.

        Parameters
        ----------
        ml_summary
            The ML `AdhesionDocument` (or a reference to it).
        relaxed
            The ML `RelaxedCandidate` list (``relax_selected`` output).
        metal_surface, electrolyte_surfaces
            The ML surface-energy sets of the metal plane and of the electrolyte plane.
        metal_bulk, electrolyte_bulk
            The ML-relaxed bulks (the slabs were cut from them).
        """
        self.validate()
        upstream = [ml_summary.uuid] if isinstance(ml_summary, OutputReference) else []
        j = refine_top_candidates(
            ml_summary,
            relaxed,
            metal_surface,
            electrolyte_surfaces,
            metal_bulk,
            electrolyte_bulk,
            upstream,
            **self._job_kwargs(),
        )
        j.name = self.name
        j.config.on_missing_references = OnMissing.NONE
        return j


def refine_maker_for(spec: RefineSpec, top_k: int = 2, relax: bool = False) -> RefineMaker:
    """The `RefineMaker` of a backend: GPAW through `CalcStaticMaker` (preset, default
    standard) or atomate2's VASP makers (`ssbflow.workflows.vasp`)."""
    if spec.backend == "gpaw":
        kw = {"preset": spec.preset or "standard"}
        relax_maker = None
        if relax:
            relax_maker = CalcRelaxMaker(
                name="dft relax",
                calculator_name="gpaw",
                calculator_kwargs=dict(kw),
                relax_cell=False,
                steps=30,
                relax_kwargs={"fmax": 0.05},
            )
        return RefineMaker(
            top_k=top_k,
            static_maker=CalcStaticMaker(
                name="dft single point", calculator_name="gpaw", calculator_kwargs=dict(kw)
            ),
            relax_maker=relax_maker,
        )
    from ssbflow.workflows.vasp import (
        vasp_bulk_static_maker,
        vasp_slab_relax_maker,
        vasp_static_maker,
    )

    relax_maker = None
    if relax:
        relax_maker = vasp_slab_relax_maker()
        # a short relaxation from the ML geometry (30 ionic steps, 0.05 eV/Å)
        relax_maker.input_set_generator.user_incar_settings = {
            **dict(relax_maker.input_set_generator.user_incar_settings or {}),
            "NSW": 30,
            "EDIFFG": -0.05,
        }
    return RefineMaker(
        top_k=top_k,
        static_maker=vasp_static_maker(),
        bulk_static_maker=vasp_bulk_static_maker(),
        relax_maker=relax_maker,
        level_of_theory="DFT (VASP, PBE)",
    )


# --------------------------------------------------------------------------------------
# run time


def _ml_ranked(ml_doc: Any) -> list[str]:
    """Relaxed candidates of the ML summary in its selection order (failed ones left out)."""
    return selection_order(
        [
            RankedCandidate(
                label=c.label,
                usable=c.status == "relaxed" and c.work_of_adhesion_J_per_m2 is not None,
                flagged=bool(c.reactive or c.migrated),
                interface_energy_J_per_m2=c.interface_energy_J_per_m2,
                work_of_adhesion_J_per_m2=c.work_of_adhesion_J_per_m2,
            )
            for c in ml_doc.candidates
        ]
    )


def distinct_candidates(
    ranked: list[str], relaxed_by_label: dict[str, Any], top_k: int
) -> tuple[list[str], dict[str, str]]:
    """The first ``top_k`` labels of ``ranked`` that relaxed into distinct minima.

    Different starting registries often relax into the same interface
    (`ssbflow.structures.interfaces.same_configuration`); refining both would spend DFT
    time on one structure twice. Returns the chosen labels and, for each skipped duplicate,
    the chosen label it equals.
    """
    from ssbflow.structures.interfaces import same_configuration

    def known(rc: Any) -> bool:
        return rc is not None and rc.interface is not None and rc.interface_energy_eV is not None

    chosen: list[str] = []
    same_as: dict[str, str] = {}
    for label in ranked:
        if len(chosen) == top_k:
            break
        rc = relaxed_by_label.get(label)
        twin = None
        if known(rc):
            twin = next(
                (
                    other
                    for other in chosen
                    if known(oc := relaxed_by_label.get(other))
                    and same_configuration(
                        oc.interface, oc.interface_energy_eV, rc.interface, rc.interface_energy_eV
                    )
                ),
                None,
            )
        if twin is None:
            chosen.append(label)
        else:
            same_as[label] = twin
    return chosen, same_as


def _counts(structure: Structure) -> dict[str, float]:
    return {el.symbol: float(n) for el, n in structure.composition.items()}


def _dft_level_of_theory(level_of_theory: str | None, static_maker: Maker) -> str:
    """The refinement's level-of-theory label: the one given, else the static maker's."""
    if level_of_theory:
        return level_of_theory
    return provenance_for(static_maker, {}).level_of_theory


@job(name="dft refinement")
def refine_top_candidates(
    ml_summary: Any,
    relaxed: Any,
    metal_surface: Any,
    electrolyte_surfaces: Any,
    metal_bulk: Structure,
    electrolyte_bulk: Structure,
    upstream_uuids: list[str],
    *,
    top_k: int,
    static_maker: Maker,
    bulk_static_maker: Maker | None,
    relax_maker: Maker | None,
    level_of_theory: str | None,
    tags: list[str],
) -> Response:
    """Fan out the DFT calculations of the ``top_k`` best ML candidates, then merge.

    The job of `RefineMaker.make`: it takes the sub-makers it fans out with and the
    scalar settings, not the maker itself (see `RefineMaker` for the parameters).
    """
    from ssbflow.workflows.adhesion import AdhesionDocument, RelaxedCandidate
    from ssbflow.workflows.surface import lowest_surface_energy, slab_key, surface_documents

    if ml_summary is None:
        raise RuntimeError("the ML adhesion summary is missing: nothing to refine")
    ml = as_model(ml_summary, AdhesionDocument)
    relaxed_by_label = {
        r.label: r
        for r in (as_model(r, RelaxedCandidate) for r in (relaxed or []))
        if r is not None
    }
    ranked = _ml_ranked(ml)
    chosen, same_as = distinct_candidates(ranked, relaxed_by_label, top_k)
    by_label = {c.label: c for c in ml.candidates}

    static = static_maker
    bulk_maker = bulk_static_maker or static
    cand_maker = relax_maker or static
    jobs: list = []
    n_static = 0

    candidate_docs: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for label in chosen:
        rc = relaxed_by_label.get(label)
        parts = {}
        if rc is not None:
            parts = {
                "interface": rc.interface,
                "metal_slab": rc.metal_slab,
                "electrolyte_slab": rc.electrolyte_slab,
            }
        if rc is None or any(s is None for s in parts.values()):
            missing[label] = "the ML-relaxed structures are not available"
            continue
        refs = {}
        for part, structure in parts.items():
            j = cand_maker.make(structure)
            j.name = f"dft {'relax' if relax_maker else 'single point'} {part} {label}"
            jobs.append(j)
            refs[part] = j.output
        if relax_maker is None:
            n_static += 3
            refs["structures"] = parts  # the ML-relaxed structures are the DFT geometry
        candidate_docs[label] = refs

    # surface-energy series: the metal's lowest-γ termination, each refined contact face
    series_specs: list[dict[str, Any]] = []
    wanted: list[tuple[str, Any]] = []
    if chosen:
        best_metal = lowest_surface_energy(surface_documents(metal_surface))
        if best_metal is not None:
            wanted.append(("metal", best_metal))
        faces = {d.termination: d for d in surface_documents(electrolyte_surfaces)}
        seen = set()
        for label in chosen:
            term = by_label[label].electrolyte_reference_termination
            # a polar face (no symmetric slab) has no γ at either level
            symmetric = by_label[label].electrolyte_reference_symmetric
            if term is None or not symmetric or term in seen or term not in faces:
                continue
            seen.add(term)
            wanted.append((term, faces[term]))
    for face, doc in wanted:
        slabs = [doc.structures.get(slab_key(t)) for t in doc.thicknesses_A]
        spec = {
            "face": face,
            "termination": doc.termination,
            "thicknesses_A": list(doc.thicknesses_A),
            "ml_surface_energies_J_per_m2": list(doc.surface_energies_J_per_m2),
            "tolerance_J_per_m2": doc.tolerance_J_per_m2,
            "area_A2": doc.area_A2,
            "metal_element": None if face == "metal" else doc.metal_element,
            "delta_mu_metal_eV": doc.delta_mu_metal_eV,
            "slab_counts": [None if s is None else _counts(s) for s in slabs],
            "docs": [],
            "failure_reason": None,
        }
        if doc.status != "successful":
            spec["failure_reason"] = f"the ML series failed: {doc.failure_reason}"
        elif not slabs or any(s is None for s in slabs):
            spec["failure_reason"] = (
                "the ML-relaxed slabs of this series are not stored (a study run before they "
                "were kept)"
            )
        else:
            for t, s in zip(doc.thicknesses_A, slabs, strict=True):
                j = static.make(s)
                j.name = f"dft single point slab {face} {t:.1f} Å"
                jobs.append(j)
                spec["docs"].append(j.output)
                n_static += 1
        series_specs.append(spec)

    bulk_refs: dict[str, Any] = {"metal": None, "electrolyte": None}
    if candidate_docs:
        for key, bulk in (("metal", metal_bulk), ("electrolyte", electrolyte_bulk)):
            j = bulk_maker.make(bulk)
            j.name = f"dft bulk reference {key}"
            jobs.append(j)
            bulk_refs[key] = j.output
            n_static += 1
    info_same = dict(same_as)
    merge = merge_refinement(
        ml,
        chosen,
        ranked,
        missing,
        candidate_docs,
        series_specs,
        bulk_refs,
        {"metal": _counts(metal_bulk), "electrolyte": _counts(electrolyte_bulk)},
        {
            "level_of_theory": _dft_level_of_theory(level_of_theory, static),
            "provenance": provenance_for(
                static, {"top_k": top_k, "relaxed": relax_maker is not None}, upstream_uuids
            ).model_dump(mode="json"),
            "relaxed": relax_maker is not None,
            "top_k": top_k,
            "tags": list(tags),
            "n_static": n_static,
            "upstream_uuids": list(upstream_uuids),
            "same_as": info_same,
        },
    )
    merge.name = "dft refinement summary"
    merge.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([*jobs, merge], output=merge.output, name="dft refinement"))


@job(name="dft refinement")
def refine_adhesion(
    maker: RefineMaker,
    ml_summary: Any,
    relaxed: Any,
    metal_surface: Any,
    electrolyte_surfaces: Any,
    metal_bulk: Structure,
    electrolyte_bulk: Structure,
    upstream_uuids: list[str],
) -> Response:
    """Deprecated job taking the whole maker; kept so that workflows stored before
    `refine_top_candidates` (e.g. on a FireWorks LaunchPad) still run."""
    import warnings

    warnings.warn(
        "refine_adhesion is deprecated; use refine_top_candidates", DeprecationWarning, stacklevel=2
    )
    return refine_top_candidates.original(
        ml_summary,
        relaxed,
        metal_surface,
        electrolyte_surfaces,
        metal_bulk,
        electrolyte_bulk,
        upstream_uuids,
        **maker._job_kwargs(),
    )


def _numbers_ml(ml_doc: Any, cand: Any) -> RefinedNumbers:
    return RefinedNumbers(
        work_of_adhesion_J_per_m2=cand.work_of_adhesion_J_per_m2,
        metal_surface_energy_J_per_m2=ml_doc.metal_surface_energy_J_per_m2,
        electrolyte_surface_energy_J_per_m2=cand.electrolyte_surface_energy_J_per_m2,
        interface_energy_J_per_m2=cand.interface_energy_J_per_m2,
        contact_angle_deg=cand.contact_angle_deg,
        wetting=cand.wetting,
    )


def _dft_series(
    spec: dict[str, Any], bulk_docs: dict[str, Any], bulk_counts: dict[str, dict[str, float]]
) -> SurfaceSeriesRefinement:
    """DFT γ of each slab of one ML series against the DFT bulk references."""
    out = SurfaceSeriesRefinement(
        face=spec["face"],
        termination=spec["termination"],
        thicknesses_A=spec["thicknesses_A"],
        ml_surface_energies_J_per_m2=spec["ml_surface_energies_J_per_m2"],
        tolerance_J_per_m2=spec["tolerance_J_per_m2"],
    )
    if spec["failure_reason"]:
        out.status, out.failure_reason = "failed", spec["failure_reason"]
        return out
    which = "metal" if spec["face"] == "metal" else "electrolyte"
    reasons = [
        r
        for r in (
            task_failure(bulk_docs.get(which), f"DFT {which} bulk"),
            None if which == "metal" else task_failure(bulk_docs.get("metal"), "DFT metal bulk"),
        )
        if r
    ]
    docs = list(spec["docs"])
    for t, d in zip(spec["thicknesses_A"], docs, strict=True):
        r = task_failure(d, f"DFT slab of {t:.1f} Å")
        if r:
            reasons.append(r)
    if reasons:
        out.status, out.failure_reason = "failed", "; ".join(reasons)
        out.dft_surface_energies_J_per_m2 = [None] * len(docs)
        return out
    bulk_energy = task_energy_eV(bulk_docs[which])
    metal_counts = bulk_counts["metal"]
    mu_metal = task_energy_eV(bulk_docs["metal"]) / sum(metal_counts.values())
    gammas: list[float | None] = []
    how = ""
    for d, counts in zip(docs, spec["slab_counts"], strict=True):
        g, how = slab_surface_energy_J_per_m2(
            task_energy_eV(d),  # type: ignore[arg-type]
            counts,
            spec["area_A2"],
            bulk_counts[which],
            bulk_energy,  # type: ignore[arg-type]
            spec["metal_element"],
            mu_metal + spec["delta_mu_metal_eV"],
        )
        gammas.append(g)
    out.dft_surface_energies_J_per_m2 = gammas
    if gammas[-1] is None:
        out.status, out.failure_reason = "failed", how
        return out
    out.dft_surface_energy_J_per_m2 = gammas[-1]
    out.dft_converged = thickness_converged(gammas, spec["tolerance_J_per_m2"])
    return out


@job(name="dft refinement summary")
def merge_refinement(
    ml: Any,
    chosen: list[str],
    ranked: list[str],
    missing: dict[str, str],
    candidate_docs: dict[str, dict[str, Any]],
    series_specs: list[dict[str, Any]],
    bulk_docs: dict[str, Any],
    bulk_counts: dict[str, dict[str, float]],
    info: dict[str, Any],
):
    """ML and DFT side by side for each refined candidate; headline from the highest level
    with numbers; disagreements as warnings."""
    from ssbflow.workflows.adhesion import AdhesionDocument

    ml = as_model(ml, AdhesionDocument)
    doc = ml.model_copy(deep=True)
    doc.tags = [t for t in doc.tags if t != ML_STAGE_TAG]
    doc.tags += [t for t in [*info["tags"], REFINED_TAG] if t not in doc.tags]
    doc.provenance.upstream_uuids = [*doc.provenance.upstream_uuids, *info["upstream_uuids"]]
    ml_level = doc.provenance.level_of_theory
    doc.headline_level_of_theory = ml_level
    block = RefinementBlock(
        level_of_theory=info["level_of_theory"],
        provenance=Provenance.model_validate(info["provenance"]),
        relaxed=info["relaxed"],
        top_k=info["top_k"],
        ml_level_of_theory=ml_level,
        ml_provenance=doc.provenance.model_copy(deep=True),
        ml_selected_label=ml.selected_label,
        same_minimum_as=dict(info.get("same_as") or {}),
    )
    doc.refinement = block
    if not chosen:
        doc.warnings.append("DFT refinement: no relaxed ML candidate to refine")
        return doc

    series = [_dft_series(s, bulk_docs, bulk_counts) for s in series_specs]
    block.surface_series = series
    metal_series = next((s for s in series if s.face == "metal"), None)
    face_series = {s.face: s for s in series if s.face != "metal"}
    n_relax_steps = 0
    if info["relaxed"]:
        for refs in candidate_docs.values():
            n_relax_steps += sum(task_n_steps(d) for d in refs.values())
    block.n_dft_single_points = info["n_static"]
    block.n_dft_relaxation_steps = n_relax_steps

    gamma_m, metal_note = None, None
    if metal_series is None:
        metal_note = "no ML metal surface-energy series to refine"
    elif metal_series.status != "successful":
        metal_note = f"DFT metal surface energy failed: {metal_series.failure_reason}"
    elif metal_series.dft_surface_energy_J_per_m2 <= 0:  # type: ignore[operator]
        metal_note = (
            f"DFT metal surface energy is not positive "
            f"({metal_series.dft_surface_energy_J_per_m2:.3f} J/m²): no contact angle"
        )
        gamma_m = metal_series.dft_surface_energy_J_per_m2
    else:
        gamma_m = metal_series.dft_surface_energy_J_per_m2
    warnings: list[str] = []
    for s in series:
        if s.status == "failed":
            warnings.append(f"DFT surface energy of {s.face}: {s.failure_reason}")
        elif s.dft_converged is False:
            warnings.append(
                f"DFT surface energy of {s.face} not converged in thickness: |Δγ| of the last "
                f"two slabs ≥ {s.tolerance_J_per_m2} J/m²"
            )

    by_label = {c.label: c for c in ml.candidates}
    refined: list[RefinedCandidate] = []
    for label in chosen:
        cand = by_label[label]
        rc = RefinedCandidate(
            label=label,
            ml_rank=ranked.index(label) + 1,
            ml=_numbers_ml(ml, cand),
            migrated=bool(cand.migrated),
            ml_reactive=bool(cand.reactive),
        )
        refined.append(rc)
        if label in missing:
            rc.status, rc.failure_reason = "failed", missing[label]
            continue
        refs = candidate_docs[label]
        what = "DFT relaxation" if info["relaxed"] else "DFT single point"
        reasons = [
            r
            for r in (
                task_failure(refs["interface"], f"{what} of the interface"),
                task_failure(refs["metal_slab"], f"{what} of the metal slab"),
                task_failure(refs["electrolyte_slab"], f"{what} of the electrolyte slab"),
            )
            if r
        ]
        if reasons:
            rc.status, rc.failure_reason = "failed", "; ".join(reasons)
            continue
        w = work_of_adhesion_J_per_m2(
            task_energy_eV(refs["interface"]),  # type: ignore[arg-type]
            task_energy_eV(refs["metal_slab"]),  # type: ignore[arg-type]
            task_energy_eV(refs["electrolyte_slab"]),  # type: ignore[arg-type]
            cand.area_A2,
        )
        rc.dft.work_of_adhesion_J_per_m2 = w
        rc.dft.metal_surface_energy_J_per_m2 = gamma_m
        face = face_series.get(cand.electrolyte_reference_termination or "")
        if face is not None and face.dft_surface_energy_J_per_m2 is not None:
            rc.dft.electrolyte_surface_energy_J_per_m2 = face.dft_surface_energy_J_per_m2
        elif face is not None:
            rc.notes.append(f"no DFT face energy: {face.failure_reason}")
        else:
            rc.notes.append(
                "no DFT face energy: "
                + (cand.interface_energy_reason or "no symmetric reference for this face")
            )
        if metal_note:
            rc.notes.append(metal_note)
        if gamma_m is not None and gamma_m > 0:
            rc.dft.contact_angle_deg, rc.dft.wetting = contact_angle_deg(w, gamma_m)
        if gamma_m is not None and rc.dft.electrolyte_surface_energy_J_per_m2 is not None:
            g = interface_energy_J_per_m2(gamma_m, rc.dft.electrolyte_surface_energy_J_per_m2, w)
            rc.dft.interface_energy_J_per_m2 = g
            rc.reactive = g < 0
    block.candidates = refined

    ok = [c for c in refined if c.status == "refined"]
    block.disagreements = level_disagreements(
        [
            LevelComparison(
                label=c.label,
                ml_work_of_adhesion_J_per_m2=c.ml.work_of_adhesion_J_per_m2,
                dft_work_of_adhesion_J_per_m2=c.dft.work_of_adhesion_J_per_m2,
                ml_interface_energy_J_per_m2=c.ml.interface_energy_J_per_m2,
                dft_interface_energy_J_per_m2=c.dft.interface_energy_J_per_m2,
                ml_wetting=c.ml.wetting,
                dft_wetting=c.dft.wetting,
            )
            for c in ok
        ]
    )
    warnings += [f"ML vs DFT: {d}" for d in block.disagreements]
    for c in refined:
        if c.status == "failed":
            warnings.append(f"DFT refinement of {c.label} failed: {c.failure_reason}")
        elif c.reactive:
            warnings.append(
                f"{c.label}: reactive at the DFT level (γ_int = "
                f"{c.dft.interface_energy_J_per_m2:.2f} J/m² < 0); not the headline"
            )
    if not ok:
        warnings.append(
            "DFT refinement failed for every refined candidate: the headline stays at the "
            f"ML level ({ml_level})"
        )
        doc.warnings += warnings
        return doc
    doc.warnings += warnings
    _dft_headline(doc, ml, ok, info, gamma_m, metal_series, candidate_docs)
    return doc


def _structures(candidate_docs: dict[str, dict[str, Any]], label: str) -> dict[str, Structure]:
    """The DFT-level geometry of a refined candidate: the ML-relaxed structures for single
    points, the DFT-relaxed ones after a DFT relaxation."""
    refs = candidate_docs[label]
    if "structures" in refs:
        return {k: v for k, v in refs["structures"].items() if v is not None}
    out = {}
    for part in ("interface", "metal_slab", "electrolyte_slab"):
        s = task_structure(refs[part])
        if s is not None:
            out[part] = s
    return out


def _dft_headline(doc, ml, ok, info, gamma_m, metal_series, candidate_docs) -> None:
    """Top-level numbers from the DFT level (the refined candidates only)."""
    label, criterion = select_headline(
        [
            RankedCandidate(
                label=c.label,
                usable=c.dft.work_of_adhesion_J_per_m2 is not None,
                # reactive at the DFT level; the ML flag only where DFT has no γ_int
                flagged=c.reactive
                or c.migrated
                or (c.dft.interface_energy_J_per_m2 is None and c.ml_reactive),
                interface_energy_J_per_m2=c.dft.interface_energy_J_per_m2,
                work_of_adhesion_J_per_m2=c.dft.work_of_adhesion_J_per_m2,
            )
            for c in ok
        ]
    )
    level = info["level_of_theory"]
    doc.headline_level_of_theory = level
    doc.calculator = doc.refinement.provenance.calculator
    doc.provenance = doc.refinement.provenance.model_copy(deep=True)
    doc.selection_criterion = f"{criterion}, among the {len(ok)} DFT-refined candidate(s)"
    doc.metal_surface_energy_J_per_m2 = gamma_m
    doc.metal_surface_converged = None if metal_series is None else metal_series.dft_converged
    doc.work_of_adhesion_ideal_J_per_m2 = None  # an ML-level number; see the candidates
    doc.reactive = False
    doc.reactive_candidates = [c.label for c in ok if c.reactive]
    if label is None:
        doc.selected_label = None
        doc.work_of_adhesion_J_per_m2 = None
        doc.interface_energy_J_per_m2 = None
        doc.electrolyte_surface_energy_J_per_m2 = None
        doc.contact_angle_deg = None
        doc.wetting = None
        doc.structures = {}
        with_gamma = [c for c in ok if c.dft.interface_energy_J_per_m2 is not None]
        doc.reactive = bool(with_gamma) and all(c.reactive for c in with_gamma)
        doc.headline = (
            f"At the DFT level ({level}) no refined candidate is free of flags "
            f"({'every one is reactive' if doc.reactive else 'reactive or migrated'}); see the "
            "refined candidates"
        )
        return
    best = next(c for c in ok if c.label == label)
    cand = next(c for c in ml.candidates if c.label == label)
    doc.selected_label = label
    doc.work_of_adhesion_J_per_m2 = best.dft.work_of_adhesion_J_per_m2
    doc.interface_energy_J_per_m2 = best.dft.interface_energy_J_per_m2
    doc.electrolyte_surface_energy_J_per_m2 = best.dft.electrolyte_surface_energy_J_per_m2
    doc.contact_angle_deg = best.dft.contact_angle_deg
    doc.wetting = best.dft.wetting
    doc.electrolyte_termination = cand.electrolyte_termination
    doc.electrolyte_termination_chemistry = cand.electrolyte_termination_chemistry
    doc.electrolyte_reference_symmetric = cand.electrolyte_reference_symmetric
    doc.strain_percent = cand.strain_percent
    doc.area_A2 = cand.area_A2
    doc.n_atoms = cand.n_atoms
    doc.equilibrium_gap_A = cand.uber_equilibrium_gap_A
    doc.structures = _structures(candidate_docs, label)
    gamma_text = (
        f"γ_int = {best.dft.interface_energy_J_per_m2:.2f} J/m²"
        if best.dft.interface_energy_J_per_m2 is not None
        else "γ_int undefined"
    )
    doc.headline = (
        f"{ml.metal}{tuple(ml.metal_miller)} on the {cand.electrolyte_termination_chemistry} "
        f"{ml.electrolyte}{tuple(ml.electrolyte_miller)} face, {level}: W_ad = "
        f"{best.dft.work_of_adhesion_J_per_m2:.2f} J/m², {gamma_text}"
    )
    if doc.status == "failed" and gamma_m is not None:
        doc.status, doc.failure_reason = "successful", None
