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

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from jobflow import Flow, Maker, OnMissing, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.adhesion import (
    GapScanStart,
    contact_figures,
    contact_plane_migration,
    gap_scan_binding_J_per_m2,
    headline_choice,
    metal_rich_surface_energy_J_per_m2,
    relaxation_start_gap,
    screening_order,
    work_of_adhesion_J_per_m2,
)
from ssbflow.errors import InputError
from ssbflow.schemas import ResultDocument, as_model
from ssbflow.structures.interfaces import (
    CandidateInfo,
    InterfaceCandidate,
    build_interface_candidates,
    same_configuration,
)
from ssbflow.structures.slabs import check_miller, normal_coords_A
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
from ssbflow.workflows.common import (
    CalculatorMixin,
    provenance_for,
    task_energy_eV,
    task_failure,
    task_n_steps,
    task_structure,
    with_calculator,
)
from ssbflow.workflows.refine import ML_STAGE_TAG, RefineMaker, RefinementBlock
from ssbflow.workflows.stability import StabilityBlock, StabilityMaker, stability_block
from ssbflow.workflows.surface import (
    SurfaceEnergyDocument,
    SurfaceEnergyMaker,
    SurfaceEnergySet,
    face_of,
    lowest_surface_energy,
    surface_documents,
)

#: Gap offsets (Å) around the initial gap for the rigid UBER scan.
DEFAULT_GAP_OFFSETS_A = (-0.6, -0.3, 0.0, 0.3, 0.6, 1.0, 1.6, 2.5)

#: Settings of `AdhesionMaker` that must be positive, with their largest sensible value.
SETTING_LIMITS: tuple[tuple[str, float], ...] = (
    ("max_strain", 0.3),
    ("max_area_A2", 5000),
    ("max_atoms", 5000),
    ("metal_layers", 30),
    ("electrolyte_layers", 30),
    ("registry_grid", 6),
    ("n_relax", 50),
)


def _check_bounded(value: float, field: str, largest: float) -> None:
    """InputError unless ``0 < value <= largest`` (and finite), naming ``field``."""
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{field} must be a positive number, got {value}", field=field)
    if value > largest:
        raise InputError(f"{field}={value} is absurd; use a value up to {largest}", field=field)


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

    @classmethod
    def from_screening(
        cls,
        cand: CandidateInfo,
        face: SurfaceEnergyDocument | None,
        rigid_energies_eV: tuple[float | None, float | None, float | None],
    ) -> CandidateResult:
        """A screened candidate: its description, contact-face reference and rigid W_ad.

        ``rigid_energies_eV``: interface, metal slab and electrolyte slab single points.
        """
        described = {name: getattr(cand, name) for name in _CANDIDATE_INFO_FIELDS}
        reference = {}
        if face is not None:
            reference = {
                "electrolyte_reference_termination": face.termination,
                "electrolyte_reference_symmetric": bool(face.symmetric and not face.polar),
                "electrolyte_reference_stoichiometric": face.stoichiometric,
                "electrolyte_reference_converged": face.converged,
            }
        if None in rigid_energies_eV:
            rigid = {"status": "failed", "failure_reason": "screening single point failed"}
        else:
            e_int, e_metal, e_electrolyte = rigid_energies_eV
            rigid = {
                "work_of_adhesion_ideal_initial_gap_J_per_m2": work_of_adhesion_J_per_m2(
                    e_int, e_metal, e_electrolyte, cand.area_A2
                )
            }
        return cls(initial_gap_A=cand.gap_A, **described, **reference, **rigid)

    def with_relaxation(
        self,
        relaxed: RelaxedCandidate | None,
        face: SurfaceEnergyDocument | None,
        metal_surface_energy_J_per_m2: float | None,
    ) -> CandidateResult:
        """This selected candidate after relaxation (a copy): UBER figures of its gap scan,
        relaxed W_ad, its own contact face's γ, θ, γ_int and flags."""
        if relaxed is None:
            return self.model_copy(
                update={
                    "status": "failed",
                    "failure_reason": "relaxation jobs raised (see the job log)",
                }
            )
        update: dict[str, Any] = {"n_force_evaluations": relaxed.n_force_evaluations}
        fit = relaxed.gap_scan_fit
        if fit is not None and fit.equilibrium_gap_A is not None:
            update |= {
                "uber_equilibrium_gap_A": fit.equilibrium_gap_A,
                "work_of_adhesion_ideal_J_per_m2": fit.work_of_separation_J_per_m2,
                "uber_length_scale_A": fit.length_scale_A,
            }
        if relaxed.failure_reason:
            update |= {"status": "failed", "failure_reason": relaxed.failure_reason}
            return self.model_copy(update=update)
        w_ad = work_of_adhesion_J_per_m2(
            relaxed.interface_energy_eV,
            relaxed.metal_slab_energy_eV,
            relaxed.electrolyte_slab_energy_eV,
            self.area_A2,
        )
        flags = list(self.flags)
        if relaxed.n_atoms_crossed:
            flags.append("migrated")
        gamma_face, reason, face_flag = _contact_face_energy(
            face, self.electrolyte_termination_chemistry
        )
        if face_flag:
            flags.append(face_flag)
        figures = contact_figures(w_ad, metal_surface_energy_J_per_m2, gamma_face)
        if figures.reactive:
            flags.append("reactive")
        if metal_surface_energy_J_per_m2 is None and reason is None:
            reason = "metal surface energy unavailable"
        update |= {
            "status": "relaxed",
            "work_of_adhesion_J_per_m2": w_ad,
            "max_normal_displacement_A": relaxed.max_normal_displacement_A,
            "n_atoms_crossed": relaxed.n_atoms_crossed,
            "migrated": bool(relaxed.n_atoms_crossed),
            "electrolyte_surface_energy_J_per_m2": gamma_face,
            "interface_energy_reason": reason,
            "contact_angle_deg": figures.contact_angle_deg,
            "wetting": figures.wetting,
            "interface_energy_J_per_m2": figures.interface_energy_J_per_m2,
            "reactive": figures.reactive,
            "flags": flags,
        }
        return self.model_copy(update=update)

    def summary_warnings(self) -> list[str]:
        """What the summary says about this relaxed candidate: reactive, migrated, no γ_int."""
        said = []
        if self.reactive:
            said.append(
                f"{self.label}: reactive contact: γ_int = {self.interface_energy_J_per_m2:.2f} "
                "J/m² < 0 with consistent chemical potentials: the metal reduces or completes "
                f"the {self.electrolyte_termination_chemistry} face "
                f"({self.electrolyte_termination}); reported, not the headline"
            )
        if self.migrated:
            said.append(
                f"{self.label}: {self.n_atoms_crossed} atom(s) crossed the contact plane during "
                f"relaxation (largest normal displacement {self.max_normal_displacement_A:.2f} "
                "Å); flagged, not ranked"
            )
        if self.interface_energy_J_per_m2 is None and self.interface_energy_reason:
            said.append(f"{self.label}: γ_int not computed: {self.interface_energy_reason}")
        return said


#: `CandidateInfo` fields a `CandidateResult` carries under the same name.
_CANDIDATE_INFO_FIELDS = (
    "label",
    "metal_termination",
    "electrolyte_termination",
    "registry_index",
    "match_index",
    "in_plane_offset",
    "strain_percent",
    "area_A2",
    "n_atoms",
    "electrolyte_termination_chemistry",
)


def _contact_face_energy(
    face: SurfaceEnergyDocument | None, chemistry: str
) -> tuple[float | None, str | None, str | None]:
    """γ of a candidate's own contact face (metal-rich limit), or why it is undefined.

    Returns
    -------
    gamma_J_per_m2, reason, flag
        The face energy (``None`` when undefined), why it is undefined, and the candidate
        flag that says so ("no face reference", "polar"; ``None`` otherwise).
    """
    if face is None:
        reason = f"no surface-energy termination matches this contact face ({chemistry})"
        return None, reason, "no face reference"
    if face.polar:
        reason = (
            f"polar termination {face.termination}: no symmetric slab exists, so the face "
            "energy is undefined; W_ad (which needs no face separation) is reported"
        )
        return None, reason, "polar"
    if face.status != "successful" or face.surface_energy_J_per_m2 is None:
        return None, f"face energy failed: {face.failure_reason}", None
    gamma = metal_rich_surface_energy_J_per_m2(face.surface_energy_J_per_m2, face.delta_mu_metal_eV)
    if gamma is None:
        return None, "face energy not at the metal-rich limit (Δμ_M ≠ 0)", None
    return gamma, None, None


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

    @classmethod
    def from_surface_document(cls, doc: SurfaceEnergyDocument) -> ElectrolyteFace:
        """The summary row of one electrolyte termination's surface-energy document."""
        same = {name: getattr(doc, name) for name in _FACE_FIELDS}
        return cls(chemistry=doc.termination_chemistry, **same)


#: `SurfaceEnergyDocument` fields an `ElectrolyteFace` carries under the same name.
_FACE_FIELDS = (
    "termination",
    "surface_energy_J_per_m2",
    "dgamma_d_delta_mu_metal_J_per_m2_per_eV",
    "symmetric",
    "stoichiometric",
    "polar",
    "converged",
    "thickness_A",
    "status",
    "failure_reason",
)


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

    @classmethod
    def from_failure(cls, study: AdhesionStudy, problems: list[str]) -> AdhesionDocument:
        """A failed study that screened nothing: identity and the reasons, no numbers."""
        return cls(status="failed", failure_reason="; ".join(problems), **study.fields())

    @classmethod
    def from_candidates(
        cls,
        study: AdhesionStudy,
        candidates: list[CandidateResult],
        relaxed: dict[str, RelaxedCandidate],
        metal_surface: SurfaceEnergyDocument | None,
        faces: list[SurfaceEnergyDocument],
        problems: list[str],
        warnings: list[str],
        n_force_evaluations: int,
    ) -> AdhesionDocument:
        """The summary of every candidate, with the headline contact chosen.

        Parameters
        ----------
        study
            Who and what was studied (names, planes, provenance, stability block).
        candidates
            Every candidate, screened and (selected ones) relaxed.
        relaxed
            Relaxation results by label: the headline's structures come from here.
        metal_surface
            γ_metal's termination (``None`` when it failed); its γ must be positive.
        faces
            Surface-energy documents of every electrolyte termination.
        problems
            Failures of inputs (bulks, metal surface energy): the study is failed.
        warnings
            Warnings so far (metal surface, gap scans); candidate warnings are added.
        n_force_evaluations
            Total force/energy evaluations of the study.
        """
        gamma_m = _usable_metal_surface_energy(metal_surface)
        relaxed_ok = [c for c in candidates if c.status == "relaxed"]
        fields = {
            **study.fields(),
            "candidates": candidates,
            "n_candidates": len(candidates),
            "n_relaxed": len(relaxed_ok),
            "n_force_evaluations": n_force_evaluations,
            "metal_surface_energy_J_per_m2": gamma_m,
            "metal_surface_termination": None
            if metal_surface is None
            else metal_surface.termination,
            "metal_surface_converged": None if metal_surface is None else metal_surface.converged,
            "electrolyte_faces": [ElectrolyteFace.from_surface_document(f) for f in faces],
        }
        if not relaxed_ok or problems:
            reasons = problems + [
                f"{c.label}: {c.failure_reason}" for c in candidates if c.status == "failed"
            ]
            return cls(
                status="failed",
                failure_reason="; ".join(reasons) or "no candidate relaxed successfully",
                warnings=warnings,
                **fields,
            )
        fields["warnings"] = [*warnings, *(w for c in relaxed_ok for w in c.summary_warnings())]
        fields["reactive_candidates"] = [c.label for c in relaxed_ok if c.reactive]
        choice = headline_choice(
            [c.interface_energy_J_per_m2 for c in relaxed_ok],
            [c.work_of_adhesion_J_per_m2 for c in relaxed_ok],
            [c.reactive for c in relaxed_ok],
            [c.migrated for c in relaxed_ok],
        )
        if choice.index is None:
            return cls(**fields, **_no_headline(study, choice.criterion))
        best = relaxed_ok[choice.index]
        found = relaxed[best.label]
        headline = {name: getattr(best, name) for name in _HEADLINE_FIELDS}
        if choice.criterion == "largest work of adhesion":
            headline["selection_criterion"] = "largest relaxed W_ad (γ_int unavailable)"
        if gamma_m is None:
            headline["status"] = "failed"
            headline["failure_reason"] = "; ".join(problems) or "metal surface energy unavailable"
        return cls(
            **fields,
            **headline,
            selected_label=best.label,
            equilibrium_gap_A=best.uber_equilibrium_gap_A,
            headline=_headline_text(study, best),
            structures={
                "interface": found.interface,
                "metal_slab": found.metal_slab,
                "electrolyte_slab": found.electrolyte_slab,
            },
        )


#: `CandidateResult` fields the headline candidate gives the summary under the same name.
_HEADLINE_FIELDS = (
    "work_of_adhesion_J_per_m2",
    "work_of_adhesion_ideal_J_per_m2",
    "interface_energy_J_per_m2",
    "electrolyte_surface_energy_J_per_m2",
    "electrolyte_termination",
    "electrolyte_termination_chemistry",
    "electrolyte_reference_symmetric",
    "contact_angle_deg",
    "wetting",
    "strain_percent",
    "area_A2",
    "n_atoms",
)


@dataclass(frozen=True)
class AdhesionStudy:
    """Who and what an adhesion summary is about: the fields every summary carries."""

    metal: str
    electrolyte: str
    formula: str
    metal_miller: tuple[int, int, int]
    electrolyte_miller: tuple[int, int, int]
    strained_side: str
    provenance: dict[str, Any]
    tags: list[str]
    stability: StabilityBlock | None = None

    def fields(self) -> dict[str, Any]:
        """The `AdhesionDocument` fields of this study."""
        return {
            "system": f"{self.metal}/{self.electrolyte}",
            "formula": self.formula,
            "calculator": self.provenance["calculator"],
            "provenance": self.provenance,
            "metal": self.metal,
            "electrolyte": self.electrolyte,
            "metal_miller": tuple(self.metal_miller),
            "electrolyte_miller": tuple(self.electrolyte_miller),
            "strained_side": self.strained_side,
            "tags": self.tags,
            "stability": self.stability,
            "headline_level_of_theory": self.provenance.get("level_of_theory"),
        }


def _usable_metal_surface_energy(metal_surface: SurfaceEnergyDocument | None) -> float | None:
    """γ_metal in J/m² when it is there and positive (``None`` otherwise)."""
    if metal_surface is None or metal_surface.surface_energy_J_per_m2 <= 0:
        return None
    return metal_surface.surface_energy_J_per_m2


def _no_headline(study: AdhesionStudy, criterion: str) -> dict[str, Any]:
    """Summary fields when no candidate can be the headline (``criterion`` says why)."""
    if criterion == "all reactive":
        return {
            "reactive": True,
            "selection_criterion": "none: every candidate is reactive",
            "headline": (
                f"The {study.electrolyte}{tuple(study.electrolyte_miller)} face is unstable "
                f"against {study.metal}: every relaxed contact has γ_int < 0 (the metal reduces "
                "or completes the face); no stable interface to report"
            ),
        }
    return {
        "selection_criterion": "none: every relaxed candidate migrated or is reactive",
        "headline": (
            "No relaxed candidate kept its contact plane and a non-negative γ_int; see the "
            "flagged candidates"
        ),
    }


def _headline_text(study: AdhesionStudy, best: CandidateResult) -> str:
    """The result in one sentence."""
    gamma_text = (
        f"γ_int = {best.interface_energy_J_per_m2:.2f} J/m²"
        if best.interface_energy_J_per_m2 is not None
        else f"γ_int undefined ({best.interface_energy_reason})"
    )
    return (
        f"{study.metal}{tuple(study.metal_miller)} on the "
        f"{best.electrolyte_termination_chemistry} {study.electrolyte}"
        f"{tuple(study.electrolyte_miller)} face: W_ad = "
        f"{best.work_of_adhesion_J_per_m2:.2f} J/m², {gamma_text}"
    )


@dataclass
class AdhesionMaker(CalculatorMixin, Maker):
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
        """All steps with one named calculator (see `ssbflow.calculators`).

        The default makers, the surface-energy bulk reference computed by single points
        (``"bulk reference"``), every calculator switched by `with_calculator`; then
        ``settings`` (fields of this class) applied as given.
        """
        surface = replace(SurfaceEnergyMaker(), static_maker=CalcStaticMaker(name="bulk reference"))
        plain = with_calculator(
            cls(surface_energy_maker=surface), calculator_name, calculator_kwargs
        )
        return replace(plain, **settings)

    def with_calculator(self, name: str, kwargs: dict[str, Any] | None = None) -> AdhesionMaker:
        """A copy whose every calculator maker uses calculator ``name`` (`with_calculator`).

        The DFT refinement (``refine_maker``) keeps its own calculator: it is the second
        level of theory, chosen separately (`ssbflow.workflows.refine.refine_maker_for`).
        """
        switched = with_calculator(replace(self, refine_maker=None), name, kwargs)
        return replace(switched, refine_maker=self.refine_maker)

    def settings(self) -> dict[str, Any]:
        """The scalar settings of this study, for provenance."""
        keys = (
            "metal_miller electrolyte_miller max_strain max_area_A2 max_atoms metal_layers "
            "electrolyte_layers gap_A vacuum_A registry_grid n_fixed_planes max_matches "
            "strained_side electrolyte_termination n_relax gap_offsets_A"
        ).split()
        return {k: getattr(self, k) for k in keys}

    def validate(self) -> AdhesionMaker:
        """A copy with normalised Miller indices; InputError for impossible settings.

        Every bound of the study's settings is checked here, once; the error names the
        field (``InputError.field``) and the fix.
        """
        metal_miller = check_miller(self.metal_miller, "metal Miller index", "metal_miller")
        electrolyte_miller = check_miller(
            self.electrolyte_miller, "electrolyte Miller index", "electrolyte_miller"
        )
        for name, largest in SETTING_LIMITS:
            _check_bounded(getattr(self, name), name, largest)
        if self.gap_A is not None and not 0.5 <= self.gap_A <= 6:
            raise InputError(f"gap_A {self.gap_A} Å must be in [0.5, 6]", field="gap_A")
        if self.gap_offsets_A and len(self.gap_offsets_A) < 4:
            raise InputError(
                "gap_offsets_A: a UBER gap scan needs at least 4 offsets (or none to skip it)",
                field="gap_offsets_A",
            )
        if self.gap_offsets_A and min(self.gap_offsets_A) + (self.gap_A or 1.5) < 0.5:
            raise InputError(
                "gap_offsets_A: the gap scan would bring the slabs closer than 0.5 Å; use "
                "larger offsets",
                field="gap_offsets_A",
            )
        return replace(self, metal_miller=metal_miller, electrolyte_miller=electrolyte_miller)

    def check_inputs(self, metal: Structure, electrolyte: Structure) -> AdhesionMaker:
        """Fail fast, before anything is stored: valid settings, and limits that admit an
        interface candidate of these bulks (as given, at the default or set gap).

        Returns
        -------
        AdhesionMaker
            The validated copy (`validate`).

        Raises
        ------
        InputError
            Impossible settings, or no candidate within the limits (the error says which
            limit to raise).
        """
        maker = self.validate()
        kwargs = maker.candidate_kwargs()
        if kwargs["gap_A"] is None:
            kwargs["gap_A"] = default_gap_A(metal, electrolyte)
        build_interface_candidates(metal, electrolyte, **kwargs)
        return maker

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
        return self.validate()._make(metal, electrolyte, metal_name, electrolyte_name)

    def _make(
        self,
        metal: Structure,
        electrolyte: Structure,
        metal_name: str | None,
        electrolyte_name: str | None,
    ) -> Flow:
        """`make` of a validated maker."""
        if self.refine_maker is not None:
            self.refine_maker.validate()
        from ssbflow.validation import check_min_distance

        check_min_distance(metal, "metal")
        check_min_distance(electrolyte, "electrolyte")
        check_metal(metal)
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


def check_metal(metal: Structure, name: str | None = None) -> None:
    """InputError unless ``metal`` (the first structure of a study, named ``name``) is a
    metal."""
    from ssbflow.structures.library import is_metal

    if not is_metal(metal):
        formula = metal.composition.reduced_formula
        raise InputError(
            f"METAL '{name or formula}' ({formula}) is not a metal; give a metal such as Li, "
            "Na or K first, then the electrolyte",
            field="metal",
        )


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
    order = screening_order(
        scores,
        [(c.match_index, c.metal_termination, c.electrolyte_termination) for c in candidates],
        [c.label for c in candidates],
    )
    by_label = {c.label: c for c in candidates}
    energy = {c.label: e for c, e in zip(candidates, e_int, strict=True)}
    selected: list[str] = []
    equivalent: dict[str, str] = {}
    for label in order:
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


class GapScanFit(BaseModel):
    """The UBER fit of one candidate's rigid gap scan, done once (`relax_at_best_gap`)."""

    equilibrium_gap_A: float | None = Field(None, description="Fitted equilibrium gap, Å")
    work_of_separation_J_per_m2: float | None = Field(
        None, description="Ideal work of separation (UBER well depth), J/m²"
    )
    length_scale_A: float | None = Field(None, description="UBER length scale, Å")
    note: str | None = Field(None, description="Why the relaxation did not start at the fitted gap")

    @classmethod
    def from_start(cls, start: GapScanStart) -> GapScanFit:
        """The stored form of `ssbflow.analysis.adhesion.relaxation_start_gap`'s answer."""
        if start.fit is None:
            return cls(note=start.note)
        return cls(
            equilibrium_gap_A=start.fit.equilibrium_gap_A,
            work_of_separation_J_per_m2=start.fit.work_of_separation_J_per_m2,
            length_scale_A=start.fit.length_scale_A,
            note=start.note,
        )


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
    gap_scan_fit: GapScanFit | None = Field(
        None, description="UBER fit of the gap scan (None: no scan was run)"
    )


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
    """Fit the gap scan (UBER), then relax the interface and both slabs from there.

    The fit is done here, once; it travels to the summary in the `RelaxedCandidate`
    (``gap_scan_fit``), with a note when the relaxation could not start at the fitted gap.
    """
    binding = gap_scan_binding_J_per_m2(
        [task_energy_eV(doc) for doc in scan_docs],
        metal_slab_energy_eV,
        electrolyte_slab_energy_eV,
        cand.area_A2,
    )
    start = relaxation_start_gap(gaps_A, binding, cand.gap_A)
    start_gap = start.start_gap_A
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
        GapScanFit.from_start(start) if gaps_A else None,
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
    gap_scan_fit: GapScanFit | None = None,
) -> RelaxedCandidate:
    """Check the three relaxations (a failed one marks the candidate failed with why) and
    measure how far atoms moved across the contact plane (``start``: the interface before
    relaxation); ``gap_scan_fit`` is carried to the summary."""
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
        gap_scan_fit=gap_scan_fit,
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


#: A task document as jobflow hands it over: the model, its dict, or ``None`` (not run).
TaskDocument = BaseModel | dict[str, Any] | None


def _face_for(
    cand: CandidateInfo, faces: list[SurfaceEnergyDocument]
) -> SurfaceEnergyDocument | None:
    """The electrolyte surface-energy document whose face is the candidate's contact face."""
    contact = cand.contact_face()
    if not contact.planes:
        return None
    return next((f for f in faces if face_of(f).matches(contact)), None)


def _input_problems(
    metal_doc: TaskDocument,
    electrolyte_doc: TaskDocument,
    screening: ScreeningResult | None,
    metal_surfaces: list[SurfaceEnergyDocument],
    metal_surface: SurfaceEnergyDocument | None,
) -> list[str]:
    """Why the study's inputs (bulks, screening, γ_metal) cannot be used; empty when they can."""
    problems = [
        reason
        for reason in (
            task_failure(metal_doc, "metal bulk"),
            task_failure(electrolyte_doc, "electrolyte bulk"),
        )
        if reason
    ]
    if screening is None:
        problems.append("screening of interface candidates did not complete")
    if metal_surface is None:
        reasons = "; ".join(d.failure_reason for d in metal_surfaces if d.failure_reason)
        problems.append("metal surface energy failed: " + (reasons or "no result"))
    elif metal_surface.surface_energy_J_per_m2 <= 0:
        problems.append(
            "metal surface energy is not positive "
            f"({metal_surface.surface_energy_J_per_m2:.3f} J/m²)"
        )
    return problems


@job(name="adhesion summary")
def summarize_adhesion(
    metal_doc: TaskDocument,
    electrolyte_doc: TaskDocument,
    metal_surface: SurfaceEnergySet | dict[str, Any] | None,
    screening: ScreeningResult | dict[str, Any] | None,
    relaxed: list[RelaxedCandidate | dict[str, Any] | None] | None,
    metal_name: str,
    electrolyte_name: str,
    metal_formula: str,
    electrolyte_formula: str,
    metal_miller: tuple[int, int, int],
    electrolyte_miller: tuple[int, int, int],
    strained_side: str,
    provenance: dict[str, Any],
    tags: list[str],
    electrolyte_surfaces: SurfaceEnergySet | dict[str, Any] | None = None,
    stability: dict[str, Any] | None = None,
) -> AdhesionDocument:
    """W_ad, γ_int, θ for each relaxed candidate, each with its own contact-face energy;
    flag reactive and migrated candidates; the headline is the lowest-γ_int candidate
    that is neither (`AdhesionDocument.from_candidates`). ``metal_formula`` is unused."""
    study = AdhesionStudy(
        metal=metal_name,
        electrolyte=electrolyte_name,
        formula=electrolyte_formula,
        metal_miller=metal_miller,
        electrolyte_miller=electrolyte_miller,
        strained_side=strained_side,
        provenance=provenance,
        tags=tags,
        stability=stability_block(stability),
    )
    screening = as_model(screening, ScreeningResult)
    metal_surfaces = surface_documents(metal_surface)
    best_metal = lowest_surface_energy(metal_surfaces)
    problems = _input_problems(metal_doc, electrolyte_doc, screening, metal_surfaces, best_metal)
    if problems and screening is None:
        return AdhesionDocument.from_failure(study, problems)
    gamma_m = _usable_metal_surface_energy(best_metal)
    faces = surface_documents(electrolyte_surfaces)
    relaxed_by_label = {
        r.label: r for r in (as_model(r, RelaxedCandidate) for r in relaxed or []) if r is not None
    }
    warnings: list[str] = []
    if best_metal is not None and not best_metal.converged:
        warnings.append(f"metal surface energy: {'; '.join(best_metal.warnings)}")
    candidates = []
    for i, cand in enumerate(screening.candidates):
        face = _face_for(cand, faces)
        result = CandidateResult.from_screening(
            cand,
            face,
            (
                screening.interface_energies_eV[i],
                screening.metal_slab_energies_eV[i],
                screening.electrolyte_slab_energies_eV[i],
            ),
        )
        if cand.label in screening.selected:
            found = relaxed_by_label.get(cand.label)
            result = result.with_relaxation(found, face, gamma_m)
            if found is not None and found.gap_scan_fit and found.gap_scan_fit.note:
                warnings.append(f"{cand.label}: {found.gap_scan_fit.note}")
        candidates.append(result)
    n_evals = (
        screening.n_force_evaluations
        + sum(d.n_force_evaluations for d in metal_surfaces)
        + sum(f.n_force_evaluations for f in faces)
        + sum(c.n_force_evaluations for c in candidates)
    )
    return AdhesionDocument.from_candidates(
        study,
        candidates,
        relaxed=relaxed_by_label,
        metal_surface=best_metal,
        faces=faces,
        problems=problems,
        warnings=warnings,
        n_force_evaluations=n_evals,
    )
