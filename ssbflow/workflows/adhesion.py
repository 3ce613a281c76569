"""Work of adhesion, interface energy and wetting of a metal on a solid electrolyte.

The flow (`AdhesionMaker`):

1. relax both bulks (``bulk_relax_maker``; ``None`` uses the structures as given);
2. surface energies, converged in thickness, one face at a time (``surface_energy_maker``):
   the metal's contact plane (its lowest-γ termination) and every termination of the
   electrolyte's contact plane, each from slabs with that face on both sides;
3. build every interface candidate (ZSL match × termination pair × registry shift) and
   screen them with single points (``static_maker``): the ideal (rigid) W_ad and an
   ideal interface energy for each;
4. for the ``n_relax`` best candidates (best registry of each termination pair first):
   a rigid gap scan fitted with the universal binding-energy relation (UBER), then
   relaxation of the interface and of both slab references in the same cell
   (``relax_maker``, fixed cell, fixed electrolyte planes);
5. W_ad, γ_int, γ_metal, θ for each relaxed candidate, with γ_electrolyte the energy of
   the candidate's own contact face; a candidate with γ_int < 0 is reactive and one whose
   atoms crossed the contact plane during relaxation has migrated: both are flagged and
   never the headline. The headline is the lowest-γ_int candidate that is neither;
   everything goes into one `AdhesionDocument`.

The number of candidates is known only at run time, so steps 3 and 4 fan out with
``Response(replace=Flow(...))``. Any maker whose output has ``.structure`` and
``.output.energy`` (ssbflow's Calc makers, atomate2's VASP makers) can be plugged in.

Electrolyte surface energy of a candidate: the γ of the termination whose face is the
candidate's contact face (matched plane by plane), from symmetric slabs with that face on
both sides, at the metal-rich limit (Δμ_M = 0, μ_M of the relaxed metal bulk; for a binary
electrolyte the other μ follows from the bulk). W_ad needs no face separation: it uses
the candidate's own (asymmetric) electrolyte slab, whose other face cancels. A polar
termination (no symmetric slab) has W_ad only; its γ_int is null with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from jobflow import Flow, Maker, OnMissing, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.adhesion import (
    EV_PER_A2_TO_J_PER_M2,
    contact_angle_deg,
    contact_plane_migration,
    fit_uber,
    interface_energy_J_per_m2,
    work_of_adhesion_J_per_m2,
)
from ssbflow.errors import InputError
from ssbflow.schemas import ResultDocument
from ssbflow.structures.interfaces import (
    CandidateInfo,
    InterfaceCandidate,
    build_interface_candidates,
    same_configuration,
)
from ssbflow.structures.slabs import check_miller, normal_coords_A
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
from ssbflow.workflows.common import (
    provenance_for,
    task_energy_eV,
    task_failure,
    task_n_steps,
    task_structure,
)
from ssbflow.workflows.refine import ML_STAGE_TAG, RefineMaker, RefinementBlock
from ssbflow.workflows.stability import StabilityBlock, StabilityMaker, stability_block
from ssbflow.workflows.surface import SurfaceEnergyMaker

#: Gap offsets (Å) around the initial gap for the rigid UBER scan.
DEFAULT_GAP_OFFSETS_A = (-0.6, -0.3, 0.0, 0.3, 0.6, 1.0, 1.6, 2.5)


class CandidateResult(BaseModel):
    """Numbers for one interface candidate (screened, and relaxed if selected)."""

    label: str
    metal_termination: str
    electrolyte_termination: str
    registry_index: int
    match_index: int
    in_plane_offset: tuple[float, float]
    strain_percent: float
    area_A2: float
    n_atoms: int
    initial_gap_A: float
    status: Literal["screened", "relaxed", "failed"] = "screened"
    failure_reason: str | None = None
    work_of_adhesion_ideal_initial_gap_J_per_m2: float | None = Field(
        None, description="Rigid W_ad at the initial gap (screening), J/m²"
    )
    interface_energy_ideal_J_per_m2: float | None = Field(
        None, description="Screening estimate of γ_int from rigid slabs, J/m²"
    )
    uber_equilibrium_gap_A: float | None = None
    work_of_adhesion_ideal_J_per_m2: float | None = Field(
        None, description="Ideal work of separation from the UBER fit of the rigid gap scan, J/m²"
    )
    uber_length_scale_A: float | None = None
    work_of_adhesion_J_per_m2: float | None = Field(None, description="Relaxed W_ad, J/m²")
    electrolyte_surface_energy_J_per_m2: float | None = None
    interface_energy_J_per_m2: float | None = None
    contact_angle_deg: float | None = None
    wetting: str | None = None
    n_force_evaluations: int = 0
    electrolyte_termination_chemistry: str = Field(
        "", description="Species of the electrolyte plane in contact, e.g. 'Li-terminated'"
    )
    electrolyte_reference_termination: str | None = Field(
        None, description="Surface-energy termination whose face is this contact face"
    )
    electrolyte_reference_symmetric: bool = Field(
        False, description="γ_electrolyte from slabs with the contact face on both sides"
    )
    electrolyte_reference_stoichiometric: bool | None = None
    electrolyte_reference_converged: bool | None = None
    interface_energy_reason: str | None = Field(None, description="Why γ_int is null")
    reactive: bool = Field(False, description="γ_int < 0: the metal reduces/completes the face")
    max_normal_displacement_A: float | None = Field(
        None, description="Largest displacement normal to the contact plane in relaxation, Å"
    )
    n_atoms_crossed: int | None = Field(
        None, description="Atoms that ended on the other side of the contact plane"
    )
    migrated: bool = False
    flags: list[str] = Field(default_factory=list, description="reactive | migrated | polar")


class ElectrolyteFace(BaseModel):
    """Surface energy of one termination of the electrolyte's contact plane."""

    termination: str
    chemistry: str
    surface_energy_J_per_m2: float | None = Field(None, description="At Δμ_M = 0, J/m²")
    dgamma_d_delta_mu_metal_J_per_m2_per_eV: float | None = None
    symmetric: bool
    stoichiometric: bool
    polar: bool
    converged: bool
    thickness_A: float | None = None
    status: str
    failure_reason: str | None = None


class AdhesionDocument(ResultDocument):
    """Summary of an adhesion study: the selected interface and every candidate."""

    result_type: str = "adhesion"
    headline_level_of_theory: str | None = Field(
        None,
        description="Level of theory of the top-level numbers (W_ad, γ's, θ, wetting, "
        "selected_label, headline), e.g. 'ML potential (chgnet)' or 'DFT (GPAW, PBE, fast preset)'",
    )
    refinement: RefinementBlock | None = Field(
        None, description="DFT refinement of the best ML candidates (ML and DFT side by side)"
    )
    metal: str
    electrolyte: str
    metal_miller: tuple[int, int, int]
    electrolyte_miller: tuple[int, int, int]
    selected_label: str | None = None
    selection_criterion: str = "lowest relaxed interface energy γ_int"
    work_of_adhesion_J_per_m2: float | None = Field(None, description="Relaxed W_ad, J/m²")
    work_of_adhesion_ideal_J_per_m2: float | None = Field(
        None, description="Ideal (rigid) work of separation from the UBER fit, J/m²"
    )
    interface_energy_J_per_m2: float | None = Field(None, description="γ_int, J/m²")
    metal_surface_energy_J_per_m2: float | None = Field(
        None, description="γ_metal: lowest-γ termination of the metal plane, converged, J/m²"
    )
    metal_surface_termination: str | None = None
    metal_surface_converged: bool | None = None
    electrolyte_surface_energy_J_per_m2: float | None = Field(
        None,
        description="γ of the selected candidate's contact face (symmetric reference, "
        "metal-rich limit), J/m²",
    )
    electrolyte_termination: str | None = Field(
        None, description="Selected candidate's contact termination (pymatgen label)"
    )
    electrolyte_termination_chemistry: str | None = None
    electrolyte_reference_symmetric: bool | None = None
    reactive: bool = Field(
        False, description="Every candidate with a γ_int is reactive (γ_int < 0): no headline"
    )
    reactive_candidates: list[str] = Field(default_factory=list)
    stability: StabilityBlock | None = Field(
        None, description="Thermodynamic stability of the pair (ssbflow stability), if run"
    )
    headline: str | None = Field(None, description="The result in one sentence")
    electrolyte_faces: list[ElectrolyteFace] = Field(
        default_factory=list, description="Every termination of the electrolyte contact plane"
    )
    chemical_potentials: str = Field(
        "metal-rich limit: Δμ_M = 0 (μ_M of the relaxed metal bulk); for a binary "
        "electrolyte the other μ from the bulk electrolyte",
    )
    contact_angle_deg: float | None = Field(None, description="Young–Dupré θ, degrees")
    wetting: str | None = Field(None, description="perfect wetting | wetting | non-wetting")
    strain_percent: float | None = Field(None, description="Largest in-plane strain, %")
    strained_side: str = "metal"
    area_A2: float | None = None
    n_atoms: int | None = None
    equilibrium_gap_A: float | None = None
    n_candidates: int = 0
    n_relaxed: int = 0
    n_force_evaluations: int = Field(0, description="Total force/energy evaluations")
    candidates: list[CandidateResult] = Field(default_factory=list)
    conventions: str = Field(
        "W_ad = (E_metal_slab + E_electrolyte_slab - E_interface)/A with both slabs in the "
        "interface's strained cell; relaxed: each of the three relaxed with the same fixed "
        "atoms; ideal: UBER fit of a rigid gap scan. γ_int = γ_metal + γ_electrolyte - W_ad. "
        "cos θ = W_ad/γ_metal - 1, θ = 0 when W_ad >= 2 γ_metal.",
    )


@dataclass
class AdhesionMaker(Maker):
    """Adhesion and wetting of a metal on a solid electrolyte.

    Parameters
    ----------
    name
        Flow name.
    metal_miller, electrolyte_miller
        Contact planes, Miller indices in each bulk cell.
    max_strain
        Largest in-plane strain allowed (fraction).
    max_area_A2
        Largest interface area searched, Å².
    max_atoms
        Largest interface cell, atoms.
    metal_layers, electrolyte_layers
        Slab thicknesses in unit planes (d_hkl spacings).
    gap_A
        Initial gap between the outermost planes, Å; ``None``: 0.85 × the mean of the two
        bulks' nearest-neighbour distances (a bonding distance across the interface,
        shortened because interface atoms sit in hollow sites).
    vacuum_A
        Vacuum above the interface, Å.
    registry_grid
        n×n in-plane shifts over the electrolyte's primitive surface cell.
    n_fixed_planes
        Electrolyte planes held fixed (farthest from the interface).
    max_matches
        Lattice matches kept per termination pair (smallest areas first).
    strained_side
        Which side takes the strain ("metal" by default: alkali metals are soft).
    electrolyte_termination
        Only terminations whose label contains this string.
    n_relax
        Candidates relaxed after screening.
    gap_offsets_A
        Rigid gap-scan offsets around the initial gap for the UBER fit; empty to skip.
    bulk_relax_maker
        Relaxes each bulk (cell and positions); ``None`` skips.
    static_maker
        Single points for screening and the gap scan.
    relax_maker
        Fixed-cell relaxation of interfaces and slab references.
    surface_energy_maker
        Converged surface energies, one termination at a time: of the metal on
        ``metal_miller`` and of the electrolyte on ``electrolyte_miller`` (its ``miller``
        and ``metal_element`` are set per use).
    tags
        Labels stored with the result.
    stability_maker
        Optional `StabilityMaker`: the pair's phase diagram, whose reaction energy and
        products go into the summary's ``stability`` block (library names only).
    refine_maker
        Optional `RefineMaker`: DFT refinement of the best relaxed candidates, the flow's
        last job (its output is the refined summary; the ML summary is still stored, tagged
        ``ML_STAGE_TAG``).
    """

    name: str = "adhesion"
    metal_miller: tuple[int, int, int] = (1, 0, 0)
    electrolyte_miller: tuple[int, int, int] = (1, 1, 1)
    max_strain: float = 0.05
    max_area_A2: float = 200.0
    max_atoms: int = 300
    metal_layers: int = 3
    electrolyte_layers: int = 2
    gap_A: float | None = None
    vacuum_A: float = 12.0
    registry_grid: int = 2
    n_fixed_planes: int = 2
    max_matches: int = 1
    strained_side: Literal["metal", "electrolyte"] = "metal"
    electrolyte_termination: str | None = None
    n_relax: int = 2
    gap_offsets_A: tuple[float, ...] = DEFAULT_GAP_OFFSETS_A
    bulk_relax_maker: Maker | None = field(
        default_factory=lambda: CalcRelaxMaker(name="bulk relax", relax_cell=True)
    )
    static_maker: Maker = field(default_factory=lambda: CalcStaticMaker(name="single point"))
    relax_maker: Maker = field(
        default_factory=lambda: CalcRelaxMaker(name="interface relax", relax_cell=False, steps=300)
    )
    surface_energy_maker: SurfaceEnergyMaker = field(default_factory=SurfaceEnergyMaker)
    tags: list[str] = field(default_factory=list)
    stability_maker: StabilityMaker | None = None
    refine_maker: RefineMaker | None = None

    @classmethod
    def from_calculator(
        cls, calculator_name: str, calculator_kwargs: dict | None = None, **settings: Any
    ) -> AdhesionMaker:
        """All steps with one named calculator (see `ssbflow.calculators`)."""
        kw = dict(calculator_kwargs or {})
        relax = CalcRelaxMaker(
            name="interface relax",
            relax_cell=False,
            steps=300,
            calculator_name=calculator_name,
            calculator_kwargs=kw,
        )
        return cls(
            bulk_relax_maker=CalcRelaxMaker(
                name="bulk relax",
                relax_cell=True,
                calculator_name=calculator_name,
                calculator_kwargs=kw,
            ),
            static_maker=CalcStaticMaker(
                name="single point", calculator_name=calculator_name, calculator_kwargs=kw
            ),
            relax_maker=relax,
            surface_energy_maker=SurfaceEnergyMaker(
                relax_maker=CalcRelaxMaker(
                    name="slab relax",
                    relax_cell=False,
                    calculator_name=calculator_name,
                    calculator_kwargs=kw,
                ),
                static_maker=CalcStaticMaker(
                    name="bulk reference", calculator_name=calculator_name, calculator_kwargs=kw
                ),
            ),
            **settings,
        )

    def settings(self) -> dict[str, Any]:
        """The scalar settings of this study, for provenance."""
        keys = (
            "metal_miller electrolyte_miller max_strain max_area_A2 max_atoms metal_layers "
            "electrolyte_layers gap_A vacuum_A registry_grid n_fixed_planes max_matches "
            "strained_side electrolyte_termination n_relax gap_offsets_A"
        ).split()
        return {k: getattr(self, k) for k in keys}

    def validate(self) -> None:
        """Raise InputError for impossible settings."""
        self.metal_miller = check_miller(self.metal_miller, "metal Miller index")
        self.electrolyte_miller = check_miller(self.electrolyte_miller, "electrolyte Miller index")
        if not 0 < self.max_strain <= 0.3:
            raise InputError(f"max strain {self.max_strain} must be in (0, 0.3] (0.05 = 5 %)")
        if not 0 < self.max_area_A2 <= 5000:
            raise InputError(f"max area {self.max_area_A2} Å² must be in (0, 5000]")
        if not 0 < self.max_atoms <= 5000:
            raise InputError(f"max atoms {self.max_atoms} must be in (0, 5000]")
        if self.n_relax < 1:
            raise InputError("n_relax must be at least 1")
        if self.gap_A is not None and not 0.5 <= self.gap_A <= 6:
            raise InputError(f"initial gap {self.gap_A} Å must be in [0.5, 6]")
        if self.gap_offsets_A and len(self.gap_offsets_A) < 4:
            raise InputError("a UBER gap scan needs at least 4 offsets (or none to skip it)")
        if self.gap_offsets_A and min(self.gap_offsets_A) + (self.gap_A or 1.5) < 0.5:
            raise InputError("the gap scan would bring the slabs closer than 0.5 Å")

    def candidate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `build_interface_candidates` (gap filled in at run time)."""
        return {
            "metal_miller": self.metal_miller,
            "electrolyte_miller": self.electrolyte_miller,
            "max_strain": self.max_strain,
            "max_area_A2": self.max_area_A2,
            "max_atoms": self.max_atoms,
            "metal_layers": self.metal_layers,
            "electrolyte_layers": self.electrolyte_layers,
            "gap_A": self.gap_A,
            "vacuum_A": self.vacuum_A,
            "registry_grid": self.registry_grid,
            "n_fixed_planes": self.n_fixed_planes,
            "max_matches": self.max_matches,
            "strained_side": self.strained_side,
            "electrolyte_termination": self.electrolyte_termination,
        }

    def make(
        self,
        metal: Structure,
        electrolyte: Structure,
        metal_name: str | None = None,
        electrolyte_name: str | None = None,
    ) -> Flow:
        """Build the adhesion flow (computes nothing).

        Parameters
        ----------
        metal, electrolyte
            Bulk structures.
        metal_name, electrolyte_name
            Names for the summary (default: reduced formulas).
        """
        self.validate()
        if self.refine_maker is not None:
            self.refine_maker.validate()
        from ssbflow.structures.library import is_metal
        from ssbflow.validation import check_min_distance

        check_min_distance(metal, "metal")
        check_min_distance(electrolyte, "electrolyte")
        if not is_metal(metal):
            raise InputError(
                f"'{metal.composition.reduced_formula}' is not a metal; give a metal such as Li, Na "
                "or K as METAL (the electrolyte comes second)"
            )
        metal_name = metal_name or metal.composition.reduced_formula
        electrolyte_name = electrolyte_name or electrolyte.composition.reduced_formula
        jobs: list = []
        if self.bulk_relax_maker is not None:
            relax_m = self.bulk_relax_maker.make(metal)
            relax_m.name = f"bulk relax {metal_name}"
            relax_e = self.bulk_relax_maker.make(electrolyte)
            relax_e.name = f"bulk relax {electrolyte_name}"
            jobs += [relax_m, relax_e]
            metal_doc, electrolyte_doc = relax_m.output, relax_e.output
            metal_bulk, electrolyte_bulk = relax_m.output.structure, relax_e.output.structure
        else:
            sp_m = self.static_maker.make(metal)
            sp_e = self.static_maker.make(electrolyte)
            jobs += [sp_m, sp_e]
            metal_doc, electrolyte_doc = sp_m.output, sp_e.output
            metal_bulk, electrolyte_bulk = metal, electrolyte

        gamma_job = replace(self.surface_energy_maker, miller=self.metal_miller).make(metal_bulk)
        gamma_job.name = f"surface energy {metal_name}{self.metal_miller}"
        metal_element = metal.composition.elements[0].symbol
        faces_job = replace(
            self.surface_energy_maker, miller=self.electrolyte_miller, metal_element=metal_element
        ).make(electrolyte_bulk, metal_bulk)
        faces_job.name = f"surface energies {electrolyte_name}{self.electrolyte_miller}"

        screen = screen_interfaces(
            metal_bulk,
            electrolyte_bulk,
            self.candidate_kwargs(),
            self.static_maker,
            self.n_relax,
        )
        relax = relax_selected(
            screen.output,
            self.static_maker,
            self.relax_maker,
            tuple(self.gap_offsets_A),
        )
        stability = None
        if self.stability_maker is not None:  # library names only (see StabilityMaker.plan)
            stab = self.stability_maker.make(metal_name, electrolyte_name)
            jobs.append(stab)
            stability = {"uuid": stab.output.uuid, "doc": stab.output}
        summary = summarize_adhesion(
            stability=stability,
            metal_doc=metal_doc,
            electrolyte_doc=electrolyte_doc,
            metal_surface=gamma_job.output,
            electrolyte_surfaces=faces_job.output,
            screening=screen.output,
            relaxed=relax.output,
            metal_name=metal_name,
            electrolyte_name=electrolyte_name,
            metal_formula=metal.composition.reduced_formula,
            electrolyte_formula=electrolyte.composition.reduced_formula,
            metal_miller=self.metal_miller,
            electrolyte_miller=self.electrolyte_miller,
            strained_side=self.strained_side,
            provenance=provenance_for(self.relax_maker, self.settings()).model_dump(mode="json"),
            tags=[*self.tags, ML_STAGE_TAG] if self.refine_maker is not None else list(self.tags),
        )
        summary.config.on_missing_references = OnMissing.NONE
        final = [summary]
        if self.refine_maker is not None:
            refine = self.refine_maker.make(
                summary.output,
                relax.output,
                gamma_job.output,
                faces_job.output,
                metal_bulk,
                electrolyte_bulk,
            )
            final.append(refine)
        return Flow(
            [*jobs, gamma_job, faces_job, screen, relax, *final],
            output=final[-1].output,
            name=self.name,
        )


# --------------------------------------------------------------------------------------
# screening


def default_gap_A(metal: Structure, electrolyte: Structure) -> float:
    """0.85 × the mean nearest-neighbour distance of the two bulks, Å."""
    nn = []
    for s in (metal, electrolyte):
        dm = s.distance_matrix + np.eye(len(s)) * 1e6 if len(s) > 1 else None
        own = float(dm.min()) if dm is not None else np.inf
        # a one-atom cell: nearest periodic image
        image = min(s.lattice.abc)
        nn.append(min(own, image))
    return round(0.85 * float(np.mean(nn)), 3)


class ScreeningResult(BaseModel):
    """Candidates with their rigid energies, and the ones selected for relaxation.

    Lean: every candidate is described by its `CandidateInfo`; only the selected ones carry
    their structures (``selected_candidates``), because every job that reads this result
    decodes all of it.
    """

    candidates: list[CandidateInfo]
    selected_candidates: list[InterfaceCandidate] = Field(
        default_factory=list, description="The selected candidates, in selection order"
    )
    interface_energies_eV: list[float | None]
    metal_slab_energies_eV: list[float | None]
    electrolyte_slab_energies_eV: list[float | None]
    selected: list[str]
    equivalent_to: dict[str, str] = Field(
        default_factory=dict,
        description="Candidates not relaxed because they equal a selected one (same rigid "
        "energy and structure): label → selected label",
    )
    n_force_evaluations: int


@job(name="screen interfaces")
def screen_interfaces(
    metal_bulk: Structure,
    electrolyte_bulk: Structure,
    candidate_kwargs: dict[str, Any],
    static_maker: Maker,
    n_relax: int,
) -> Response:
    """Build all candidates and fan out single points; a ranking job selects the best."""
    kwargs = dict(candidate_kwargs)
    if kwargs.get("gap_A") is None:
        kwargs["gap_A"] = default_gap_A(metal_bulk, electrolyte_bulk)
    candidates = build_interface_candidates(metal_bulk, electrolyte_bulk, **kwargs)
    jobs, int_refs, metal_refs, elec_refs = [], [], [], []
    ref_jobs: dict[tuple[int, str, str], tuple[Any, Any]] = {}
    for cand in candidates:
        j = static_maker.make(cand.interface)
        j.name = f"screen {cand.label}"
        jobs.append(j)
        int_refs.append(j.output)
        # slab references depend on the match and terminations, not on the registry
        key = (cand.match_index, cand.metal_termination, cand.electrolyte_termination)
        if key not in ref_jobs:
            jm = static_maker.make(cand.metal_slab)
            jm.name = f"screen metal slab {cand.label}"
            je = static_maker.make(cand.electrolyte_slab)
            je.name = f"screen electrolyte slab {cand.label}"
            jobs += [jm, je]
            ref_jobs[key] = (jm.output, je.output)
        metal_refs.append(ref_jobs[key][0])
        elec_refs.append(ref_jobs[key][1])
    rank = rank_candidates(
        candidates,
        int_refs,
        metal_refs,
        elec_refs,
        n_relax,
        len(jobs),
        metal_bulk,
        electrolyte_bulk,
    )
    return Response(replace=Flow([*jobs, rank], output=rank.output, name="screening"))


@job(name="rank candidates")
def rank_candidates(
    candidates: list[InterfaceCandidate],
    interface_docs: list,
    metal_docs: list,
    electrolyte_docs: list,
    n_relax: int,
    n_jobs: int,
    metal_bulk: Structure,
    electrolyte_bulk: Structure,
) -> ScreeningResult:
    """Rigid W_ad of every candidate; select the best registry of each termination pair."""
    e_int = [task_energy_eV(d) for d in interface_docs]
    e_m = [task_energy_eV(d) for d in metal_docs]
    e_e = [task_energy_eV(d) for d in electrolyte_docs]
    scores = []
    for i, cand in enumerate(candidates):
        if None in (e_int[i], e_m[i], e_e[i]):
            scores.append(None)
            continue
        w = work_of_adhesion_J_per_m2(e_int[i], e_m[i], e_e[i], cand.area_A2)
        scores.append(w)
    # best registry per (match, termination pair), then best pairs by rigid W_ad
    best: dict[tuple, tuple[float, str]] = {}
    for cand, w in zip(candidates, scores, strict=True):
        if w is None:
            continue
        key = (cand.match_index, cand.metal_termination, cand.electrolyte_termination)
        if key not in best or w > best[key][0]:
            best[key] = (w, cand.label)
    firsts = sorted(best.values(), reverse=True)
    rest = sorted(
        ((w, c.label) for c, w in zip(candidates, scores, strict=True) if w is not None),
        reverse=True,
    )
    by_label = {c.label: c for c in candidates}
    energy = {c.label: e for c, e in zip(candidates, e_int, strict=True)}
    selected: list[str] = []
    equivalent: dict[str, str] = {}
    for _, label in [*firsts, *rest]:
        if label in selected or label in equivalent:
            continue
        # symmetry-equivalent registries (same rigid energy and structure) relax alike:
        # relaxing both would spend the relaxation budget on one configuration twice
        twin = next(
            (
                other
                for other in selected
                if same_configuration(
                    by_label[other].interface,
                    energy[other],
                    by_label[label].interface,
                    energy[label],
                )
            ),
            None,
        )
        if twin is not None:
            equivalent[label] = twin
            continue
        selected.append(label)
        if len(selected) == n_relax:
            break
    return ScreeningResult(
        candidates=[c.info() for c in candidates],
        selected_candidates=[by_label[label] for label in selected],
        interface_energies_eV=e_int,
        metal_slab_energies_eV=e_m,
        electrolyte_slab_energies_eV=e_e,
        selected=selected,
        equivalent_to=equivalent,
        n_force_evaluations=n_jobs,
    )


# --------------------------------------------------------------------------------------
# relaxation of the selected candidates


class RelaxedCandidate(BaseModel):
    """Energies of one relaxed candidate and its references."""

    label: str
    uber_gaps_A: list[float] = Field(default_factory=list)
    uber_binding_J_per_m2: list[float | None] = Field(default_factory=list)
    start_gap_A: float | None = None
    interface_energy_eV: float | None = None
    metal_slab_energy_eV: float | None = None
    electrolyte_slab_energy_eV: float | None = None
    interface: Structure | None = None
    metal_slab: Structure | None = None
    electrolyte_slab: Structure | None = None
    failure_reason: str | None = None
    n_force_evaluations: int = 0
    max_normal_displacement_A: float | None = None
    n_atoms_crossed: int | None = None


def _with_gap(cand: InterfaceCandidate, gap_A: float) -> Structure:
    """The candidate's interface with the metal side moved to a new gap (Å)."""
    structure = cand.interface.copy()
    labels = structure.site_properties["interface_label"]
    key = "film"
    delta = gap_A - cand.gap_A
    film = [i for i, t in enumerate(labels) if key in t]
    # the film is on top; moving it up opens the gap, the vacuum above absorbs it
    structure.translate_sites(film, [0, 0, delta], frac_coords=False, to_unit_cell=False)
    return structure


@job(name="relax selected")
def relax_selected(
    screening: ScreeningResult,
    static_maker: Maker,
    relax_maker: Maker,
    gap_offsets_A: tuple[float, ...],
) -> Response:
    """Fan out a gap scan and relaxations for each selected candidate."""
    index = {c.label: i for i, c in enumerate(screening.candidates)}
    jobs, outputs = [], []
    for cand in screening.selected_candidates:
        label = cand.label
        i = index[label]
        scan_refs = []
        for offset in gap_offsets_A:
            j = static_maker.make(_with_gap(cand, cand.gap_A + offset))
            j.name = f"gap scan {label} {cand.gap_A + offset:.2f} Å"
            jobs.append(j)
            scan_refs.append(j.output)
        start = relax_at_best_gap(
            cand,
            scan_refs,
            [cand.gap_A + o for o in gap_offsets_A],
            screening.metal_slab_energies_eV[i],
            screening.electrolyte_slab_energies_eV[i],
            relax_maker,
        )
        jobs.append(start)
        outputs.append(start.output)
    gather = gather_relaxed(outputs)
    gather.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([*jobs, gather], output=gather.output, name="relaxations"))


@job(name="relax candidate")
def relax_at_best_gap(
    cand: InterfaceCandidate,
    scan_docs: list,
    gaps_A: list[float],
    metal_slab_energy_eV: float | None,
    electrolyte_slab_energy_eV: float | None,
    relax_maker: Maker,
) -> Response:
    """Fit the gap scan (UBER), then relax the interface and both slabs from there."""
    binding: list[float | None] = []
    for doc in scan_docs:
        e = task_energy_eV(doc)
        if e is None or metal_slab_energy_eV is None or electrolyte_slab_energy_eV is None:
            binding.append(None)
        else:
            binding.append(
                (e - metal_slab_energy_eV - electrolyte_slab_energy_eV)
                / cand.area_A2
                * EV_PER_A2_TO_J_PER_M2
            )
    start_gap = cand.gap_A
    valid = [(g, b) for g, b in zip(gaps_A, binding, strict=True) if b is not None]
    if len(valid) >= 4:
        try:
            fit = fit_uber([g for g, _ in valid], [b for _, b in valid])
            if min(gaps_A) <= fit.equilibrium_gap_A <= max(gaps_A):
                start_gap = fit.equilibrium_gap_A
        except ValueError:
            start_gap = min(valid, key=lambda gb: gb[1])[0]
    interface = _with_gap(cand, start_gap)
    j_int = relax_maker.make(interface)
    j_int.name = f"relax interface {cand.label}"
    j_m = relax_maker.make(cand.metal_slab)
    j_m.name = f"relax metal slab {cand.label}"
    j_e = relax_maker.make(cand.electrolyte_slab)
    j_e.name = f"relax electrolyte slab {cand.label}"
    collect = collect_relaxed(
        cand.label,
        gaps_A,
        binding,
        start_gap,
        j_int.output,
        j_m.output,
        j_e.output,
        len(gaps_A),
        interface,
    )
    collect.config.on_missing_references = OnMissing.NONE
    return Response(replace=Flow([j_int, j_m, j_e, collect], output=collect.output))


@job(name="collect relaxed candidate")
def collect_relaxed(
    label: str,
    gaps_A: list[float],
    binding: list[float | None],
    start_gap_A: float,
    interface_doc: Any,
    metal_doc: Any,
    electrolyte_doc: Any,
    n_scan: int,
    start: Structure | None = None,
) -> RelaxedCandidate:
    """Check the three relaxations (a failed one marks the candidate failed with why) and
    measure how far atoms moved across the contact plane (``start``: the interface before
    relaxation)."""
    reasons = [
        r
        for r in (
            task_failure(interface_doc, "interface"),
            task_failure(metal_doc, "metal slab"),
            task_failure(electrolyte_doc, "electrolyte slab"),
        )
        if r
    ]
    n_evals = n_scan + sum(task_n_steps(d) for d in (interface_doc, metal_doc, electrolyte_doc))
    result = RelaxedCandidate(
        label=label,
        uber_gaps_A=gaps_A,
        uber_binding_J_per_m2=binding,
        start_gap_A=start_gap_A,
        failure_reason="; ".join(reasons) or None,
        n_force_evaluations=n_evals,
    )
    if not reasons:
        result.interface_energy_eV = task_energy_eV(interface_doc)
        result.metal_slab_energy_eV = task_energy_eV(metal_doc)
        result.electrolyte_slab_energy_eV = task_energy_eV(electrolyte_doc)
        result.interface = task_structure(interface_doc)
        result.metal_slab = task_structure(metal_doc)
        result.electrolyte_slab = task_structure(electrolyte_doc)
        if start is not None and result.interface is not None:
            figures = interface_migration(start, result.interface)
            result.max_normal_displacement_A = figures.max_normal_displacement_A
            result.n_atoms_crossed = figures.n_crossed
    return result


def interface_migration(start: Structure, relaxed: Structure):
    """`MigrationFigures` of a relaxation: sites in the same order, labels on ``start``."""
    labels = start.site_properties["interface_label"]
    z0 = normal_coords_A(start)
    matrix = start.lattice.matrix
    normal = np.cross(matrix[0], matrix[1])
    normal /= np.linalg.norm(normal)
    c_normal = float(np.dot(matrix[2], normal))
    dfrac = relaxed.frac_coords[:, 2] - start.frac_coords[:, 2]
    dfrac -= np.round(dfrac)  # no jump by a cell length
    z1 = z0 + dfrac * c_normal
    upper = np.array(["film" in lab for lab in labels])
    return contact_plane_migration(z0, z1, upper)


@job(name="gather relaxed")
def gather_relaxed(results: list[RelaxedCandidate | None]) -> list[RelaxedCandidate | None]:
    """Collect the relaxed candidates (None where a job raised)."""
    return list(results)


# --------------------------------------------------------------------------------------
# summary


def _as_model(value: Any, model: type[BaseModel]) -> Any:
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, dict):
        return model.model_validate({k: v for k, v in value.items() if not k.startswith("@")})
    return value


def _electrolyte_faces(electrolyte_surfaces: Any) -> list:
    from ssbflow.workflows.surface import surface_documents

    return surface_documents(electrolyte_surfaces)


def _face_for(cand: CandidateInfo, faces: list):
    """The electrolyte surface-energy document whose face is the candidate's contact face."""
    from ssbflow.workflows.surface import face_of

    contact = cand.contact_face()
    if not contact.planes:
        return None
    return next((f for f in faces if face_of(f).matches(contact)), None)


@job(name="adhesion summary")
def summarize_adhesion(
    metal_doc: Any,
    electrolyte_doc: Any,
    metal_surface: Any,
    screening: Any,
    relaxed: Any,
    metal_name: str,
    electrolyte_name: str,
    metal_formula: str,
    electrolyte_formula: str,
    metal_miller: tuple[int, int, int],
    electrolyte_miller: tuple[int, int, int],
    strained_side: str,
    provenance: dict,
    tags: list[str],
    electrolyte_surfaces: Any = None,
    stability: Any = None,
) -> AdhesionDocument:
    """W_ad, γ_int, θ for each relaxed candidate, each with its own contact-face energy;
    flag reactive and migrated candidates; the headline is the lowest-γ_int candidate
    that is neither."""
    from ssbflow.workflows.surface import lowest_surface_energy, surface_documents

    screening = _as_model(screening, ScreeningResult)
    metal_docs = surface_documents(metal_surface)
    best_metal = lowest_surface_energy(metal_docs)
    faces = _electrolyte_faces(electrolyte_surfaces)
    relaxed = [_as_model(r, RelaxedCandidate) for r in (relaxed or [])]
    base = {
        "system": f"{metal_name}/{electrolyte_name}",
        "formula": electrolyte_formula,
        "calculator": provenance["calculator"],
        "provenance": provenance,
        "metal": metal_name,
        "electrolyte": electrolyte_name,
        "metal_miller": tuple(metal_miller),
        "electrolyte_miller": tuple(electrolyte_miller),
        "strained_side": strained_side,
        "tags": tags,
        "stability": stability_block(stability),
        "headline_level_of_theory": provenance.get("level_of_theory"),
    }
    problems = []
    for what, doc in (("metal bulk", metal_doc), ("electrolyte bulk", electrolyte_doc)):
        reason = task_failure(doc, what)
        if reason:
            problems.append(reason)
    if screening is None:
        problems.append("screening of interface candidates did not complete")
    gamma_m = None
    if best_metal is None:
        reasons = [d.failure_reason for d in metal_docs]
        problems.append(
            "metal surface energy failed: " + ("; ".join(r for r in reasons if r) or "no result")
        )
    else:
        gamma_m = best_metal.surface_energy_J_per_m2
        if gamma_m <= 0:
            problems.append(f"metal surface energy is not positive ({gamma_m:.3f} J/m²)")
            gamma_m = None
    if problems and screening is None:
        return AdhesionDocument(status="failed", failure_reason="; ".join(problems), **base)

    results: list[CandidateResult] = []
    relaxed_by_label = {r.label: r for r in relaxed if r is not None}
    total_evals = screening.n_force_evaluations
    total_evals += sum(d.n_force_evaluations for d in metal_docs)
    total_evals += sum(f.n_force_evaluations for f in faces)
    warnings: list[str] = []
    if best_metal is not None and not best_metal.converged:
        warnings.append(f"metal surface energy: {'; '.join(best_metal.warnings)}")
    for i, cand in enumerate(screening.candidates):
        res = CandidateResult(
            label=cand.label,
            metal_termination=cand.metal_termination,
            electrolyte_termination=cand.electrolyte_termination,
            registry_index=cand.registry_index,
            match_index=cand.match_index,
            in_plane_offset=cand.in_plane_offset,
            strain_percent=cand.strain_percent,
            area_A2=cand.area_A2,
            n_atoms=cand.n_atoms,
            initial_gap_A=cand.gap_A,
            electrolyte_termination_chemistry=cand.electrolyte_termination_chemistry,
        )
        face = _face_for(cand, faces)
        if face is not None:
            res.electrolyte_reference_termination = face.termination
            res.electrolyte_reference_symmetric = bool(face.symmetric and not face.polar)
            res.electrolyte_reference_stoichiometric = face.stoichiometric
            res.electrolyte_reference_converged = face.converged
        e_i, e_m, e_e = (
            screening.interface_energies_eV[i],
            screening.metal_slab_energies_eV[i],
            screening.electrolyte_slab_energies_eV[i],
        )
        if None in (e_i, e_m, e_e):
            res.status = "failed"
            res.failure_reason = "screening single point failed"
        else:
            res.work_of_adhesion_ideal_initial_gap_J_per_m2 = work_of_adhesion_J_per_m2(
                e_i, e_m, e_e, cand.area_A2
            )
        if cand.label in screening.selected:
            rc = relaxed_by_label.get(cand.label)
            if rc is None:
                res.status = "failed"
                res.failure_reason = "relaxation jobs raised (see the job log)"
            else:
                total_evals += rc.n_force_evaluations
                res.n_force_evaluations = rc.n_force_evaluations
                valid = [
                    (g, b)
                    for g, b in zip(rc.uber_gaps_A, rc.uber_binding_J_per_m2, strict=True)
                    if b is not None
                ]
                if len(valid) >= 4:
                    try:
                        fit = fit_uber([g for g, _ in valid], [b for _, b in valid])
                        res.uber_equilibrium_gap_A = fit.equilibrium_gap_A
                        res.work_of_adhesion_ideal_J_per_m2 = fit.work_of_separation_J_per_m2
                        res.uber_length_scale_A = fit.length_scale_A
                    except ValueError as exc:
                        warnings.append(f"{cand.label}: UBER fit failed ({exc})")
                if rc.failure_reason:
                    res.status = "failed"
                    res.failure_reason = rc.failure_reason
                else:
                    res.status = "relaxed"
                    res.work_of_adhesion_J_per_m2 = work_of_adhesion_J_per_m2(
                        rc.interface_energy_eV,
                        rc.metal_slab_energy_eV,
                        rc.electrolyte_slab_energy_eV,
                        cand.area_A2,
                    )
                    res.max_normal_displacement_A = rc.max_normal_displacement_A
                    res.n_atoms_crossed = rc.n_atoms_crossed
                    if rc.n_atoms_crossed:
                        res.migrated = True
                        res.flags.append("migrated")
                    _face_energy(res, face)
                    if gamma_m is not None:
                        theta, wet = contact_angle_deg(res.work_of_adhesion_J_per_m2, gamma_m)
                        res.contact_angle_deg, res.wetting = theta, wet
                        if res.electrolyte_surface_energy_J_per_m2 is not None:
                            res.interface_energy_J_per_m2 = interface_energy_J_per_m2(
                                gamma_m,
                                res.electrolyte_surface_energy_J_per_m2,
                                res.work_of_adhesion_J_per_m2,
                            )
                            res.reactive = res.interface_energy_J_per_m2 < 0
                            if res.reactive:
                                res.flags.append("reactive")
                    elif res.interface_energy_reason is None:
                        res.interface_energy_reason = "metal surface energy unavailable"
        results.append(res)

    relaxed_ok = [r for r in results if r.status == "relaxed"]
    doc = AdhesionDocument(
        candidates=results,
        n_candidates=len(results),
        n_relaxed=len(relaxed_ok),
        n_force_evaluations=total_evals,
        metal_surface_energy_J_per_m2=gamma_m,
        metal_surface_termination=None if best_metal is None else best_metal.termination,
        metal_surface_converged=None if best_metal is None else best_metal.converged,
        electrolyte_faces=[
            ElectrolyteFace(
                termination=f.termination,
                chemistry=f.termination_chemistry,
                surface_energy_J_per_m2=f.surface_energy_J_per_m2,
                dgamma_d_delta_mu_metal_J_per_m2_per_eV=f.dgamma_d_delta_mu_metal_J_per_m2_per_eV,
                symmetric=f.symmetric,
                stoichiometric=f.stoichiometric,
                polar=f.polar,
                converged=f.converged,
                thickness_A=f.thickness_A,
                status=f.status,
                failure_reason=f.failure_reason,
            )
            for f in faces
        ],
        warnings=warnings,
        **base,
    )
    if not relaxed_ok or problems:
        reasons = problems + [
            f"{r.label}: {r.failure_reason}" for r in results if r.status == "failed"
        ]
        doc.status = "failed"
        doc.failure_reason = "; ".join(reasons) or "no candidate relaxed successfully"
        return doc
    for r in relaxed_ok:
        if r.reactive:
            doc.reactive_candidates.append(r.label)
            doc.warnings.append(
                f"{r.label}: reactive contact: γ_int = {r.interface_energy_J_per_m2:.2f} J/m² < 0 "
                f"with consistent chemical potentials: the metal reduces or completes the "
                f"{r.electrolyte_termination_chemistry} face ({r.electrolyte_termination}); "
                "reported, not the headline"
            )
        if r.migrated:
            doc.warnings.append(
                f"{r.label}: {r.n_atoms_crossed} atom(s) crossed the contact plane during "
                f"relaxation (largest normal displacement {r.max_normal_displacement_A:.2f} Å); "
                "flagged, not ranked"
            )
        if r.interface_energy_J_per_m2 is None and r.interface_energy_reason:
            doc.warnings.append(f"{r.label}: γ_int not computed: {r.interface_energy_reason}")
    clean = [r for r in relaxed_ok if not r.reactive and not r.migrated]
    with_gamma = [r for r in clean if r.interface_energy_J_per_m2 is not None]
    any_gamma = [r for r in relaxed_ok if r.interface_energy_J_per_m2 is not None]
    best = None
    if with_gamma:
        best = min(with_gamma, key=lambda r: r.interface_energy_J_per_m2)
    elif (
        any_gamma
        and all(r.reactive for r in any_gamma)
        and not [r for r in clean if r.interface_energy_J_per_m2 is None]
    ):
        doc.reactive = True
        doc.selection_criterion = "none: every candidate is reactive"
        doc.headline = (
            f"The {electrolyte_name}{tuple(electrolyte_miller)} face is unstable against "
            f"{metal_name}: every relaxed contact has γ_int < 0 (the metal reduces or completes "
            "the face); no stable interface to report"
        )
    elif clean:
        best = max(clean, key=lambda r: r.work_of_adhesion_J_per_m2)
        doc.selection_criterion = "largest relaxed W_ad (γ_int unavailable)"
    else:
        doc.selection_criterion = "none: every relaxed candidate migrated or is reactive"
        doc.headline = (
            "No relaxed candidate kept its contact plane and a non-negative γ_int; see the "
            "flagged candidates"
        )
    if best is None:
        return doc
    rc = relaxed_by_label[best.label]
    doc.selected_label = best.label
    doc.work_of_adhesion_J_per_m2 = best.work_of_adhesion_J_per_m2
    doc.work_of_adhesion_ideal_J_per_m2 = best.work_of_adhesion_ideal_J_per_m2
    doc.interface_energy_J_per_m2 = best.interface_energy_J_per_m2
    doc.electrolyte_surface_energy_J_per_m2 = best.electrolyte_surface_energy_J_per_m2
    doc.electrolyte_termination = best.electrolyte_termination
    doc.electrolyte_termination_chemistry = best.electrolyte_termination_chemistry
    doc.electrolyte_reference_symmetric = best.electrolyte_reference_symmetric
    doc.contact_angle_deg = best.contact_angle_deg
    doc.wetting = best.wetting
    doc.strain_percent = best.strain_percent
    doc.area_A2 = best.area_A2
    doc.n_atoms = best.n_atoms
    doc.equilibrium_gap_A = best.uber_equilibrium_gap_A
    gamma_text = (
        f"γ_int = {best.interface_energy_J_per_m2:.2f} J/m²"
        if best.interface_energy_J_per_m2 is not None
        else f"γ_int undefined ({best.interface_energy_reason})"
    )
    doc.headline = (
        f"{metal_name}{tuple(metal_miller)} on the {best.electrolyte_termination_chemistry} "
        f"{electrolyte_name}{tuple(electrolyte_miller)} face: W_ad = "
        f"{best.work_of_adhesion_J_per_m2:.2f} J/m², {gamma_text}"
    )
    doc.structures = {
        "interface": rc.interface,
        "metal_slab": rc.metal_slab,
        "electrolyte_slab": rc.electrolyte_slab,
    }
    if gamma_m is None:
        doc.status = "failed"
        doc.failure_reason = "; ".join(problems) or "metal surface energy unavailable"
    return doc


def _face_energy(res: CandidateResult, face: Any) -> None:
    """γ of the candidate's own contact face (metal-rich limit), or why it is undefined."""
    if face is None:
        res.interface_energy_reason = (
            "no surface-energy termination matches this contact face "
            f"({res.electrolyte_termination_chemistry})"
        )
        res.flags.append("no face reference")
        return
    if face.polar:
        res.interface_energy_reason = (
            f"polar termination {face.termination}: no symmetric slab exists, so the face "
            "energy is undefined; W_ad (which needs no face separation) is reported"
        )
        res.flags.append("polar")
        return
    if face.status != "successful" or face.surface_energy_J_per_m2 is None:
        res.interface_energy_reason = f"face energy failed: {face.failure_reason}"
        return
    if face.delta_mu_metal_eV != 0:
        res.interface_energy_reason = "face energy not at the metal-rich limit (Δμ_M ≠ 0)"
        return
    res.electrolyte_surface_energy_J_per_m2 = face.surface_energy_J_per_m2
