"""Adhesion documents built from their parts (``from_...``), the UBER fit done once, and
the maker's copies: validation, calculators and fail-fast input checks never mutate it."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from pymatgen.core import Lattice, Structure

from ssbflow.analysis.adhesion import EV_PER_A2_TO_J_PER_M2, contact_angle_deg, uber_energy_J_per_m2
from ssbflow.errors import InputError
from ssbflow.schemas import Provenance
from ssbflow.structures.interfaces import CandidateInfo
from ssbflow.workflows.adhesion import (
    AdhesionDocument,
    AdhesionMaker,
    AdhesionStudy,
    CandidateResult,
    ElectrolyteFace,
    GapScanFit,
    RelaxedCandidate,
    ScreeningResult,
    check_metal,
    relax_at_best_gap,
    summarize_adhesion,
)
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
from ssbflow.workflows.common import calculators_of
from ssbflow.workflows.surface import SurfaceEnergyDocument, SurfaceEnergyMaker, SurfaceEnergySet

AREA_A2 = 20.0
PLANES = [[("Li", 10.9)], [("O", 10.9)], [("Li", 10.9)]]
SPACINGS_A = [0.0, 0.67, 1.33]
PROV = Provenance(calculator="emt", level_of_theory="emt")


def _info(label: str = "m0-t0-r0") -> CandidateInfo:
    return CandidateInfo(
        label=label, metal_termination="Li", electrolyte_termination="1_Li", match_index=0,
        registry_index=0, in_plane_offset=(0.0, 0.0), strain_percent=1.0, von_mises_strain=0.01,
        area_A2=AREA_A2, n_atoms=30, n_fixed=6, gap_A=2.0, strained_side="metal",
        electrolyte_termination_chemistry="Li-terminated", electrolyte_contact_planes=PLANES,
        electrolyte_contact_spacings_A=SPACINGS_A,
    )  # fmt: skip


def _face(gamma: float = 0.3, **changes) -> SurfaceEnergyDocument:
    fields = dict(
        system="Li2O Li", formula="Li2O", calculator="emt", provenance=PROV, miller=(1, 1, 1),
        termination_index=1, termination="1:Li", termination_chemistry="Li-terminated",
        surface_energy_J_per_m2=gamma, symmetric=True, stoichiometric=True, converged=True,
        face_planes=PLANES, face_spacings_A=SPACINGS_A, thickness_A=9.5,
        dgamma_d_delta_mu_metal_J_per_m2_per_eV=0.0, n_force_evaluations=12,
    )  # fmt: skip
    return SurfaceEnergyDocument(**{**fields, **changes})


def _li() -> Structure:
    return Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _relaxed(w_ad: float, fit: GapScanFit | None = None, **changes) -> RelaxedCandidate:
    """A relaxed candidate whose energies give W_ad = ``w_ad`` J/m² over AREA_A2."""
    e_m, e_e = -9.6, -27.0
    fields = dict(
        label="m0-t0-r0", start_gap_A=2.0, metal_slab_energy_eV=e_m, electrolyte_slab_energy_eV=e_e,
        interface_energy_eV=e_m + e_e - AREA_A2 * w_ad / EV_PER_A2_TO_J_PER_M2,
        interface=_li(), metal_slab=_li(), electrolyte_slab=_li(), n_force_evaluations=30,
        max_normal_displacement_A=0.1, n_atoms_crossed=0, gap_scan_fit=fit,
    )  # fmt: skip
    return RelaxedCandidate(**{**fields, **changes})


# --------------------------------------------------------------------------------------
# CandidateResult, ElectrolyteFace


def test_candidate_from_screening_rigid_work_of_adhesion_by_hand():
    # slabs -100 and -200 eV, interface -301 eV over 20 Å²: W = 1 eV / 20 Å² = 0.801 J/m²
    res = CandidateResult.from_screening(_info(), _face(), (-301.0, -100.0, -200.0))
    assert res.status == "screened"
    assert res.work_of_adhesion_ideal_initial_gap_J_per_m2 == pytest.approx(0.05 * 16.021766)
    assert res.initial_gap_A == 2.0 and res.area_A2 == AREA_A2
    assert res.electrolyte_termination_chemistry == "Li-terminated"
    assert res.electrolyte_reference_termination == "1:Li"
    assert res.electrolyte_reference_symmetric and res.electrolyte_reference_stoichiometric
    # a polar face is no symmetric reference
    polar = CandidateResult.from_screening(_info(), _face(polar=True), (-301.0, -100.0, -200.0))
    assert polar.electrolyte_reference_symmetric is False
    failed = CandidateResult.from_screening(_info(), None, (None, -100.0, -200.0))
    assert failed.status == "failed" and failed.failure_reason == "screening single point failed"
    assert failed.work_of_adhesion_ideal_initial_gap_J_per_m2 is None
    assert failed.electrolyte_reference_termination is None


def test_candidate_with_relaxation_by_hand_and_no_mutation():
    """W_ad = 0.2, γ_face = 0.3, γ_metal = 0.5: γ_int = 0.6 J/m², cos θ = −0.6."""
    screened = CandidateResult.from_screening(_info(), _face(), (-37.0, -9.6, -27.0))
    before = screened.model_copy(deep=True)
    fit = GapScanFit(equilibrium_gap_A=2.2, work_of_separation_J_per_m2=0.15, length_scale_A=0.5)
    res = screened.with_relaxation(_relaxed(0.2, fit), _face(), 0.5)
    assert screened == before  # a copy, the screened result is unchanged
    assert res.status == "relaxed"
    assert res.work_of_adhesion_J_per_m2 == pytest.approx(0.2, rel=1e-9)
    assert res.electrolyte_surface_energy_J_per_m2 == 0.3
    assert res.interface_energy_J_per_m2 == pytest.approx(0.6, rel=1e-9)
    assert res.contact_angle_deg == pytest.approx(contact_angle_deg(0.2, 0.5)[0])
    assert res.wetting == "non-wetting" and not res.reactive and res.flags == []
    # the UBER figures come from the one fit carried by the relaxation result
    assert (res.uber_equilibrium_gap_A, res.work_of_adhesion_ideal_J_per_m2) == (2.2, 0.15)
    assert res.uber_length_scale_A == 0.5
    assert res.n_force_evaluations == 30


def test_candidate_with_relaxation_flags_and_failures():
    screened = CandidateResult.from_screening(_info(), _face(), (-37.0, -9.6, -27.0))
    # W_ad = 2.0 on a 1.0 J/m² face, γ_metal 0.5: reactive; 2 atoms crossed: migrated
    res = screened.with_relaxation(_relaxed(2.0, n_atoms_crossed=2), _face(1.0), 0.5)
    assert res.flags == ["migrated", "reactive"] and res.reactive and res.migrated
    assert res.interface_energy_J_per_m2 == pytest.approx(-0.5, rel=1e-9)
    warnings = res.summary_warnings()
    assert len(warnings) == 2
    assert "reactive contact: γ_int = -0.50 J/m² < 0" in warnings[0]
    assert "2 atom(s) crossed the contact plane" in warnings[1]
    # a polar face: W_ad and θ, no γ_int, and why
    res = screened.with_relaxation(_relaxed(0.2), _face(polar=True, termination="2:O"), 0.5)
    assert res.interface_energy_J_per_m2 is None and res.flags == ["polar"]
    assert res.contact_angle_deg is not None
    assert res.summary_warnings() == [
        f"m0-t0-r0: γ_int not computed: {res.interface_energy_reason}"
    ]
    # a face away from the metal-rich limit is not used
    res = screened.with_relaxation(_relaxed(0.2), _face(delta_mu_metal_eV=-0.5), 0.5)
    assert res.interface_energy_reason == "face energy not at the metal-rich limit (Δμ_M ≠ 0)"
    # no γ_metal: no θ, no γ_int
    res = screened.with_relaxation(_relaxed(0.2), _face(), None)
    assert res.contact_angle_deg is None and res.interface_energy_J_per_m2 is None
    assert res.interface_energy_reason == "metal surface energy unavailable"
    # relaxation failed: failed with why, the gap-scan figures kept
    fit = GapScanFit(equilibrium_gap_A=2.2, work_of_separation_J_per_m2=0.15, length_scale_A=0.5)
    res = screened.with_relaxation(
        _relaxed(0.2, fit, failure_reason="interface: no energy"), None, 0.5
    )
    assert (res.status, res.failure_reason) == ("failed", "interface: no energy")
    assert res.work_of_adhesion_ideal_J_per_m2 == 0.15 and res.work_of_adhesion_J_per_m2 is None
    res = screened.with_relaxation(None, _face(), 0.5)
    assert res.failure_reason == "relaxation jobs raised (see the job log)"


def test_electrolyte_face_from_surface_document():
    face = ElectrolyteFace.from_surface_document(_face(0.3))
    assert face.termination == "1:Li" and face.chemistry == "Li-terminated"
    assert face.surface_energy_J_per_m2 == 0.3 and face.thickness_A == 9.5
    assert face.symmetric and face.converged and not face.polar and face.status == "successful"


# --------------------------------------------------------------------------------------
# AdhesionDocument


def _study() -> AdhesionStudy:
    return AdhesionStudy(
        metal="Li", electrolyte="Li2O", formula="Li2O", metal_miller=(1, 0, 0),
        electrolyte_miller=(1, 1, 1), strained_side="metal",
        provenance=PROV.model_dump(mode="json"), tags=["t"],
    )  # fmt: skip


def _metal_surface(gamma: float = 0.5) -> SurfaceEnergyDocument:
    return _face(gamma, system="Li(100)", formula="Li", miller=(1, 0, 0), termination="1:Li")


def test_adhesion_document_from_failure():
    doc = AdhesionDocument.from_failure(_study(), ["metal bulk: no finite energy", "x"])
    assert doc.status == "failed" and doc.failure_reason == "metal bulk: no finite energy; x"
    assert doc.system == "Li/Li2O" and doc.calculator == "emt" and doc.tags == ["t"]
    assert doc.headline_level_of_theory == "emt" and doc.candidates == []


def test_adhesion_document_from_candidates_headline_by_hand():
    study, face = _study(), _face(0.3)
    screened = CandidateResult.from_screening(_info(), face, (-37.0, -9.6, -27.0))
    relaxed = _relaxed(0.2)
    cand = screened.with_relaxation(relaxed, face, 0.5)
    doc = AdhesionDocument.from_candidates(
        study, [cand], relaxed={cand.label: relaxed}, metal_surface=_metal_surface(0.5),
        faces=[face], problems=[], warnings=["w0"], n_force_evaluations=99,
    )  # fmt: skip
    assert doc.status == "successful" and doc.selected_label == "m0-t0-r0"
    assert doc.selection_criterion == "lowest relaxed interface energy γ_int"
    assert doc.interface_energy_J_per_m2 == pytest.approx(0.6, rel=1e-9)
    assert doc.metal_surface_energy_J_per_m2 == 0.5 and doc.metal_surface_termination == "1:Li"
    assert doc.electrolyte_surface_energy_J_per_m2 == 0.3
    assert doc.n_candidates == doc.n_relaxed == 1 and doc.n_force_evaluations == 99
    assert doc.warnings == ["w0"] and doc.reactive_candidates == []
    assert doc.headline == (
        "Li(1, 0, 0) on the Li-terminated Li2O(1, 1, 1) face: W_ad = 0.20 J/m², γ_int = 0.60 J/m²"
    )
    assert set(doc.structures) == {"interface", "metal_slab", "electrolyte_slab"}
    assert doc.electrolyte_faces[0].chemistry == "Li-terminated"
    # a problem with the inputs fails the study, with every reason
    failed = AdhesionDocument.from_candidates(
        study, [cand], relaxed={cand.label: relaxed}, metal_surface=_metal_surface(0.5),
        faces=[face], problems=["metal bulk: no finite energy"], warnings=[], n_force_evaluations=1,
    )  # fmt: skip
    assert failed.status == "failed" and failed.selected_label is None
    assert failed.failure_reason == "metal bulk: no finite energy"


# --------------------------------------------------------------------------------------
# the UBER fit: once, in the relaxation job, carried to the summary


def _cu_candidate():
    from ssbflow.structures.interfaces import build_interface_candidates

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    cands = build_interface_candidates(
        cu, cu, (1, 1, 1), (1, 1, 1), max_area_A2=30, max_atoms=40, metal_layers=2,
        electrolyte_layers=2, registry_grid=1, gap_A=2.0,
    )  # fmt: skip
    return cands[0]


@pytest.mark.parametrize("bound", [True, False])
def test_relax_at_best_gap_fits_once_and_says_when_it_falls_back(bound):
    cand = _cu_candidate()
    gaps = [cand.gap_A + o for o in (-0.6, -0.3, 0.0, 0.3, 0.6, 1.0, 1.6, 2.5)]
    e_m, e_e = -10.0, -12.0
    if bound:  # a UBER curve with its minimum at 2.2 Å
        binding = uber_energy_J_per_m2(gaps, 0.9, 2.2, 0.5)
    else:  # repulsive everywhere: no fit
        binding = [0.05 * (5 - g) for g in gaps]
    docs = [
        {"output": {"energy": e_m + e_e + b * cand.area_A2 / EV_PER_A2_TO_J_PER_M2}}
        for b in binding
    ]
    response = relax_at_best_gap.original(
        cand, docs, gaps, e_m, e_e, CalcRelaxMaker(calculator_name="emt")
    )
    collect = response.replace.jobs[-1]
    start_gap, fit = collect.function_args[3], collect.function_args[9]
    assert isinstance(fit, GapScanFit)
    if bound:
        assert start_gap == pytest.approx(2.2, abs=1e-4) and fit.note is None
        assert fit.work_of_separation_J_per_m2 == pytest.approx(0.9, rel=1e-4)
        assert fit.equilibrium_gap_A == start_gap
    else:
        assert fit.equilibrium_gap_A is None
        assert start_gap == max(gaps)  # the scanned gap of lowest energy
        assert fit.note.startswith("UBER fit failed")
        assert f"lowest energy, {max(gaps):.2f} Å" in fit.note


def _one_candidate_summary(fit: GapScanFit | None):
    face = _face(0.3)
    screening = ScreeningResult(
        candidates=[_info()], interface_energies_eV=[-37.0], metal_slab_energies_eV=[-9.6],
        electrolyte_slab_energies_eV=[-27.0], selected=["m0-t0-r0"], n_force_evaluations=3,
    )  # fmt: skip
    li2o = _li()
    return summarize_adhesion.original(
        metal_doc={"structure": _li(), "output": {"energy": -3.8}},
        electrolyte_doc={"structure": li2o, "output": {"energy": -13.5}},
        metal_surface=SurfaceEnergySet(surface_energies=[_metal_surface(0.5)]),
        screening=screening, relaxed=[_relaxed(0.2, fit).model_dump()], metal_name="Li",
        electrolyte_name="Li2O", metal_formula="Li", electrolyte_formula="Li2O",
        metal_miller=(1, 0, 0), electrolyte_miller=(1, 1, 1), strained_side="metal",
        provenance=PROV.model_dump(mode="json"), tags=[],
        electrolyte_surfaces=SurfaceEnergySet(surface_energies=[face]),
    )  # fmt: skip


def test_summary_uses_the_carried_fit_and_says_when_it_failed():
    fit = GapScanFit(equilibrium_gap_A=2.2, work_of_separation_J_per_m2=0.15, length_scale_A=0.5)
    doc = _one_candidate_summary(fit)
    assert doc.status == "successful"
    assert doc.work_of_adhesion_ideal_J_per_m2 == 0.15 and doc.equilibrium_gap_A == 2.2
    assert not any("UBER" in w for w in doc.warnings)
    # 3 screening + 12 metal surface + 12 face + 30 relaxation
    assert doc.n_force_evaluations == 57
    failed = GapScanFit(note="UBER fit failed (no binding); relaxation started at ...")
    doc = _one_candidate_summary(failed)
    assert doc.status == "successful" and doc.work_of_adhesion_ideal_J_per_m2 is None
    assert doc.warnings == ["m0-t0-r0: UBER fit failed (no binding); relaxation started at ..."]
    # the relaxed numbers do not depend on the fit
    assert doc.work_of_adhesion_J_per_m2 == pytest.approx(0.2, rel=1e-9)


# --------------------------------------------------------------------------------------
# the maker: copies, never mutated


def test_validate_returns_a_normalised_copy():
    maker = AdhesionMaker(metal_miller=[1, 1, 0], electrolyte_miller="1,1,1")
    before = copy.deepcopy(maker)
    valid = maker.validate()
    assert valid.metal_miller == (1, 1, 0) and valid.electrolyte_miller == (1, 1, 1)
    assert maker == before and maker.metal_miller == [1, 1, 0]


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"max_area_A2": -1.0}, "max_area_A2", "max_area_A2 must be a positive number, got -1.0"),
        ({"max_atoms": 6000}, "max_atoms", "max_atoms=6000 is absurd; use a value up to 5000"),
        ({"max_strain": 0.5}, "max_strain", "max_strain=0.5 is absurd; use a value up to 0.3"),
        ({"n_relax": 0}, "n_relax", "n_relax must be a positive number"),
        ({"registry_grid": 7}, "registry_grid", "use a value up to 6"),
        ({"metal_layers": 31}, "metal_layers", "use a value up to 30"),
        ({"gap_A": 9.0}, "gap_A", "must be in [0.5, 6]"),
        ({"gap_offsets_A": (0.0, 0.5)}, "gap_offsets_A", "at least 4 offsets"),
        ({"metal_miller": (0, 0, 0)}, "metal_miller", "Miller"),
    ],
)
def test_validate_names_the_field_never_a_flag(changes, field, text):
    with pytest.raises(InputError) as info:
        AdhesionMaker(**changes).validate()
    assert info.value.field == field
    assert text in str(info.value) and "--" not in str(info.value)


def test_make_does_not_mutate_the_maker():
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    maker = AdhesionMaker.from_calculator(
        "emt", metal_miller=[1, 1, 1], electrolyte_miller=[1, 1, 1]
    )
    before = copy.deepcopy(maker)
    flow = maker.make(cu, cu)
    assert maker == before and maker.metal_miller == [1, 1, 1]
    assert flow.jobs[-1].name == "adhesion summary"


def test_check_inputs_fails_fast_and_returns_the_valid_copy():
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    maker = AdhesionMaker(metal_miller=[1, 1, 1], electrolyte_miller=(1, 1, 1), max_area_A2=30)
    valid = maker.check_inputs(cu, cu)
    assert valid.metal_miller == (1, 1, 1) and maker.metal_miller == [1, 1, 1]
    with pytest.raises(InputError) as info:
        dataclasses.replace(maker, max_area_A2=1.0).check_inputs(cu, cu)
    assert info.value.field is not None  # the limit to raise is named


def _old_from_calculator(name: str, kw: dict) -> AdhesionMaker:
    """The recipe `from_calculator` had before `with_calculator` (issue 15)."""
    return AdhesionMaker(
        bulk_relax_maker=CalcRelaxMaker(
            name="bulk relax", relax_cell=True, calculator_name=name, calculator_kwargs=kw
        ),
        static_maker=CalcStaticMaker(name="single point", calculator_name=name, calculator_kwargs=kw),
        relax_maker=CalcRelaxMaker(
            name="interface relax", relax_cell=False, steps=300, calculator_name=name,
            calculator_kwargs=kw,
        ),
        surface_energy_maker=SurfaceEnergyMaker(
            relax_maker=CalcRelaxMaker(
                name="slab relax", relax_cell=False, calculator_name=name, calculator_kwargs=kw
            ),
            static_maker=CalcStaticMaker(
                name="bulk reference", calculator_name=name, calculator_kwargs=kw
            ),
        ),
        n_relax=1,
    )  # fmt: skip


def test_from_calculator_builds_the_same_maker_as_before():
    new = AdhesionMaker.from_calculator("lj", {"sigma": 2.0}, n_relax=1)
    assert new == _old_from_calculator("lj", {"sigma": 2.0})
    assert calculators_of(new) == [("lj", {"sigma": 2.0})]


def test_with_calculator_switches_every_sub_maker_and_keeps_the_original():
    from ssbflow.workflows.refine import RefineMaker
    from ssbflow.workflows.stability import StabilityMaker

    refine = RefineMaker(static_maker=CalcStaticMaker(calculator_name="gpaw"))
    maker = AdhesionMaker.from_calculator(
        "chgnet", stability_maker=StabilityMaker.from_calculator("chgnet"), refine_maker=refine
    )
    before = copy.deepcopy(maker)
    emt = maker.with_calculator("emt", {})
    assert maker == before  # the original is unchanged
    subs = [
        emt.bulk_relax_maker,
        emt.static_maker,
        emt.relax_maker,
        emt.surface_energy_maker.relax_maker,
        emt.surface_energy_maker.static_maker,
        emt.stability_maker.relax_maker,
        emt.stability_maker.molecule_relax_maker,
    ]
    assert all(m.calculator_name == "emt" and m.calculator_kwargs == {} for m in subs)
    # names and settings of each step are kept
    assert (
        emt.relax_maker.steps == 300
        and emt.surface_energy_maker.static_maker.name == "bulk reference"
    )
    # the DFT refinement is the second level of theory: it keeps its own calculator
    assert emt.refine_maker == refine and emt.refine_maker.static_maker.calculator_name == "gpaw"
    assert calculators_of(dataclasses.replace(emt, refine_maker=None)) == [("emt", {})]
    # the plain default maker too (the mixin convention)
    plain = AdhesionMaker().with_calculator("emt")
    assert calculators_of(plain) == [("emt", {})]


def test_check_metal_names_the_argument():
    from ssbflow.structures.library import get_phase

    check_metal(get_phase("Li"))
    with pytest.raises(InputError) as info:
        check_metal(get_phase("Li2O"), "Li2O")
    assert str(info.value).startswith("METAL 'Li2O' (Li2O) is not a metal")
    assert info.value.field == "metal"
