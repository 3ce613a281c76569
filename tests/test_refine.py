"""DFT refinement of an adhesion study (issue #12): plumbing with EMT standing in for the ML
potential and a scaled EMT standing in for DFT, and the pure functions behind it."""

from __future__ import annotations

import dataclasses

import pytest
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure

from ssbflow.analysis.refinement import (
    RANK_TOLERANCE_J_PER_M2,
    LevelComparison,
    RankedCandidate,
    level_disagreements,
    select_headline,
    selection_order,
    slab_surface_energy_J_per_m2,
    thickness_converged,
)
from ssbflow.errors import InputError
from ssbflow.workflows.refine import (
    ML_STAGE_TAG,
    RefineMaker,
    RefineSpec,
    refine_maker_for,
)

# --------------------------------------------------------------------------------------
# stand-in for DFT: EMT with energies, forces and stress multiplied by a factor

#: Interface single points left to fail (a class-wide budget: each job builds its own
#: calculator). An interface is a structure with both elements.
FAILURES = {"interfaces": 0}


class ScaledEMT(EMT):
    """EMT × ``factor``; raises for the next ``FAILURES['interfaces']`` interfaces."""

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if atoms is not None and len(set(atoms.get_chemical_symbols())) > 1:
            if FAILURES["interfaces"] > 0:
                FAILURES["interfaces"] -= 1
                raise RuntimeError("SCF did not converge (test stand-in)")
        super().calculate(atoms, properties, system_changes)
        for key in ("energy", "free_energy", "energies", "forces", "stress"):
            if key in self.results:
                self.results[key] = self.results[key] * self.factor


SCALED = f"{__name__}:ScaledEMT"


def _dft(factor: float, top_k: int = 2, relax: bool = False) -> RefineMaker:
    from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker

    kw = {"factor": factor}
    return RefineMaker(
        top_k=top_k,
        static_maker=CalcStaticMaker(name="dft sp", calculator_name=SCALED, calculator_kwargs=kw),
        relax_maker=CalcRelaxMaker(
            name="dft relax",
            calculator_name=SCALED,
            calculator_kwargs=kw,
            relax_cell=False,
            steps=30,
        )
        if relax
        else None,
    )


def _study(refine: RefineMaker | None):
    from ssbflow.workflows.adhesion import AdhesionMaker

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    ag = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.09), ["Ag"], [[0, 0, 0]])
    maker = AdhesionMaker.from_calculator(
        "emt",
        metal_miller=(1, 1, 1),
        electrolyte_miller=(1, 1, 1),
        max_area_A2=100,
        max_atoms=200,
        registry_grid=2,
        n_relax=2,
        gap_offsets_A=(),
        refine_maker=refine,
    )
    return maker, maker.make(ag, cu)


def _run(flow, settings, expect_failure: bool = False):
    from ssbflow.execution.runner import FlowFailedError, run_flow
    from ssbflow.execution.store import get_jobstore

    if expect_failure:
        with pytest.raises(FlowFailedError):
            run_flow(flow, settings, progress=False)
    else:
        run_flow(flow, settings, progress=False)
    from ssbflow.schemas import as_model
    from ssbflow.workflows.adhesion import AdhesionDocument

    store = get_jobstore(settings)
    store.connect()
    try:
        refined = store.get_output(flow.jobs[-1].uuid, which="last", load=True)
        ml = store.get_output(flow.jobs[-2].uuid, which="last", load=True)
        refined, ml = (as_model(d, AdhesionDocument) for d in (refined, ml))
        listed = list(store.query({"output.result_type": "adhesion"}))
    finally:
        store.close()
    return refined, ml, listed


@pytest.fixture(scope="module")
def ml_stage():
    """One ML (EMT) study, run once: the inputs of `RefineMaker.make` as plain values."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    _, flow = _study(None)
    store = JobStore(MemoryStore())
    run_locally(flow, store=store, log=False, ensure_success=True)
    relax_m, relax_e, gamma, faces, _screen, relax, summary = flow.jobs
    refs = (
        summary.output,
        relax.output,
        gamma.output,
        faces.output,
        relax_m.output.structure,
        relax_e.output.structure,
    )
    store.connect()
    return [r.resolve(store) for r in refs]


def _refine_only(refine: RefineMaker, ml_stage, settings, expect_failure: bool = False):
    """Run the refinement job alone on the shared ML stage."""
    from ssbflow.execution.runner import FlowFailedError, run_flow
    from ssbflow.execution.store import get_jobstore
    from ssbflow.schemas import as_model
    from ssbflow.workflows.adhesion import AdhesionDocument

    job = refine.make(*ml_stage)
    if expect_failure:
        with pytest.raises(FlowFailedError):
            run_flow(job, settings, progress=False)
    else:
        run_flow(job, settings, progress=False)
    store = get_jobstore(settings)
    store.connect()
    try:
        doc = store.get_output(job.uuid, which="last", load=True)
    finally:
        store.close()
    return as_model(doc, AdhesionDocument), as_model(ml_stage[0], AdhesionDocument)


@pytest.fixture(autouse=True)
def _no_failures():
    FAILURES["interfaces"] = 0
    yield
    FAILURES["interfaces"] = 0


def test_scaled_dft_doubles_every_energy_difference(settings):
    refine = _dft(2.0)
    before = dataclasses.asdict(refine)
    _, flow = _study(refine)
    assert dataclasses.asdict(refine) == before  # make never mutates the maker
    assert flow.jobs[-1].name == "dft refinement"  # the last job is the refinement
    assert flow.output.uuid == flow.jobs[-1].uuid
    doc, ml, listed = _run(flow, settings)
    # the ML summary is still stored, tagged as the ML stage; the refined one is not
    assert ML_STAGE_TAG in ml.tags and ml.headline_level_of_theory == "empirical potential (EMT)"
    assert ML_STAGE_TAG not in doc.tags
    assert flow.jobs[-2].uuid in doc.provenance.upstream_uuids
    assert sorted(d["output"]["tags"] == [ML_STAGE_TAG] for d in listed) == [False, True]
    block = doc.refinement
    assert block.top_k == 2 and not block.relaxed and block.ml_selected_label == ml.selected_label
    assert "ScaledEMT" in block.level_of_theory
    assert doc.headline_level_of_theory == block.level_of_theory
    assert "ScaledEMT" in doc.calculator and "ScaledEMT" in doc.headline
    # the two refined candidates in the ML selection order: lowest ML γ_int first
    relaxed = sorted(
        (c for c in ml.candidates if c.status == "relaxed"),
        key=lambda c: c.interface_energy_J_per_m2,
    )
    assert [c.label for c in block.candidates] == [c.label for c in relaxed]
    assert [c.ml_rank for c in block.candidates] == [1, 2]
    for c in block.candidates:
        assert c.status == "refined"
        # same structures, energies × 2: every energy difference per area doubles
        for name in (
            "work_of_adhesion_J_per_m2",
            "metal_surface_energy_J_per_m2",
            "electrolyte_surface_energy_J_per_m2",
            "interface_energy_J_per_m2",
        ):
            assert getattr(c.dft, name) == pytest.approx(2 * getattr(c.ml, name), rel=1e-6)
        # θ depends on W_ad/γ_metal only: unchanged
        assert c.dft.contact_angle_deg == pytest.approx(c.ml.contact_angle_deg, abs=1e-6)
        assert c.dft.wetting == c.ml.wetting
    # same sign, class and order at both levels; but every W_ad doubled, which is flagged
    assert len(block.disagreements) == len(block.candidates)
    assert all("W_ad differs by a factor 2 or more" in d for d in block.disagreements)
    # the surface series: one metal series, one electrolyte face, DFT γ = 2 × ML γ per slab
    faces = [s.face for s in block.surface_series]
    assert faces[0] == "metal" and len(faces) == 2
    for s in block.surface_series:
        assert s.status == "successful" and s.dft_converged is True
        assert len(s.dft_surface_energies_J_per_m2) == len(s.thicknesses_A) >= 2
        for g_dft, g_ml in zip(
            s.dft_surface_energies_J_per_m2, s.ml_surface_energies_J_per_m2, strict=True
        ):
            assert g_dft == pytest.approx(2 * g_ml, rel=1e-6)
    # 2 candidates × 3 + every slab of the two series + 2 bulks
    n_slabs = sum(len(s.thicknesses_A) for s in block.surface_series)
    assert block.n_dft_single_points == 6 + n_slabs + 2
    assert block.n_dft_relaxation_steps == 0
    # the headline: the lowest DFT γ_int (the same candidate, since the order is kept)
    best = min(block.candidates, key=lambda c: c.dft.interface_energy_J_per_m2)
    assert doc.selected_label == best.label
    assert doc.work_of_adhesion_J_per_m2 == best.dft.work_of_adhesion_J_per_m2
    assert doc.interface_energy_J_per_m2 == pytest.approx(2 * ml.interface_energy_J_per_m2)
    assert doc.metal_surface_energy_J_per_m2 == pytest.approx(2 * ml.metal_surface_energy_J_per_m2)
    assert set(doc.structures) == {"interface", "metal_slab", "electrolyte_slab"}


def test_sign_flip_is_reported_as_disagreement(ml_stage, settings):
    doc, _ = _refine_only(_dft(-1.0), ml_stage, settings)
    block = doc.refinement
    labels = [c.label for c in block.candidates]
    text = "\n".join(block.disagreements)
    for label in labels:  # each candidate named: W_ad changes sign
        assert f"{label}: W_ad changes sign" in text
    # γ_int flips too, so the lowest-γ_int order reverses; it is reported only when the two
    # candidates are more than the ranking tolerance apart at both levels (else a tie)
    a, b = block.candidates[0], block.candidates[1]
    gap_ml = b.ml.interface_energy_J_per_m2 - a.ml.interface_energy_J_per_m2
    gap_dft = b.dft.interface_energy_J_per_m2 - a.dft.interface_energy_J_per_m2
    inverted = f"ML {labels[0]} > {labels[1]}, DFT {labels[1]} > {labels[0]}" in text
    assert inverted == (gap_ml > RANK_TOLERANCE_J_PER_M2 and gap_dft < -RANK_TOLERANCE_J_PER_M2)
    assert ("ranking" in text) == inverted
    assert all(f"ML vs DFT: {d}" in doc.warnings for d in block.disagreements)
    # a negative DFT γ_metal: no contact angle, every candidate reactive, no headline
    assert all(c.dft.contact_angle_deg is None and c.reactive for c in block.candidates)
    assert doc.selected_label is None and doc.work_of_adhesion_J_per_m2 is None
    assert doc.headline_level_of_theory == block.level_of_theory
    assert doc.reactive is True


def test_failed_dft_candidate_is_stored_failed(ml_stage, settings):
    FAILURES["interfaces"] = 1  # the first DFT interface single point raises
    doc, _ = _refine_only(_dft(2.0), ml_stage, settings, expect_failure=True)
    block = doc.refinement
    failed = [c for c in block.candidates if c.status == "failed"]
    ok = [c for c in block.candidates if c.status == "refined"]
    assert len(failed) == 1 and len(ok) == 1
    assert "interface" in failed[0].failure_reason
    assert failed[0].dft.work_of_adhesion_J_per_m2 is None  # a reason, never a number
    assert any(failed[0].label in w and "failed" in w for w in doc.warnings)
    # the headline comes from the one refined candidate, at the DFT level
    assert doc.selected_label == ok[0].label
    assert doc.headline_level_of_theory == block.level_of_theory
    assert doc.work_of_adhesion_J_per_m2 == pytest.approx(2 * ok[0].ml.work_of_adhesion_J_per_m2)


def test_all_dft_failed_keeps_the_ml_headline(ml_stage, settings):
    FAILURES["interfaces"] = 10
    doc, ml = _refine_only(_dft(2.0), ml_stage, settings, expect_failure=True)
    assert all(c.status == "failed" for c in doc.refinement.candidates)
    assert doc.headline_level_of_theory == "empirical potential (EMT)"
    assert doc.selected_label == ml.selected_label
    assert doc.work_of_adhesion_J_per_m2 == ml.work_of_adhesion_J_per_m2
    assert doc.headline == ml.headline
    assert any("refinement failed for every refined candidate" in w for w in doc.warnings)


def test_dft_relaxation_top_one(ml_stage, settings):
    doc, ml = _refine_only(_dft(1.0, top_k=1, relax=True), ml_stage, settings)
    block = doc.refinement
    assert block.relaxed and len(block.candidates) == 1
    (c,) = block.candidates
    assert c.label == ml.selected_label and c.status == "refined"
    # relaxation from the ML minimum with the same potential: 3 relaxations, ≥ 1 step each
    assert block.n_dft_relaxation_steps >= 3
    # and nothing moves: W_ad equal to the ML one
    assert c.dft.work_of_adhesion_J_per_m2 == pytest.approx(
        c.ml.work_of_adhesion_J_per_m2, abs=0.01
    )
    # single points: the slabs of the surface series and the two bulks only
    n_slabs = sum(len(s.thicknesses_A) for s in block.surface_series)
    assert block.n_dft_single_points == n_slabs + 2


def test_series_without_stored_slabs_fails_with_reason(ml_stage, settings):
    """A study stored before the slabs were kept: no DFT γ_metal, W_ad still refined."""
    from ssbflow.workflows.surface import surface_documents

    metal = [d.model_copy(update={"structures": {}}) for d in surface_documents(ml_stage[2])]
    stage = [ml_stage[0], ml_stage[1], metal, *ml_stage[3:]]
    doc, _ = _refine_only(_dft(2.0), stage, settings)
    block = doc.refinement
    metal_series = next(s for s in block.surface_series if s.face == "metal")
    assert metal_series.status == "failed" and "not stored" in metal_series.failure_reason
    assert metal_series.dft_surface_energies_J_per_m2 == []
    for c in block.candidates:
        assert c.status == "refined"
        assert c.dft.work_of_adhesion_J_per_m2 == pytest.approx(2 * c.ml.work_of_adhesion_J_per_m2)
        assert c.dft.metal_surface_energy_J_per_m2 is None
        assert c.dft.interface_energy_J_per_m2 is None and c.dft.contact_angle_deg is None
        assert any("metal surface energy failed" in n for n in c.notes)
    # no γ_int at the DFT level: the headline is the largest DFT W_ad
    best = max(block.candidates, key=lambda c: c.dft.work_of_adhesion_J_per_m2)
    assert doc.selected_label == best.label
    assert doc.selection_criterion.startswith("largest W_ad")
    assert doc.interface_energy_J_per_m2 is None and doc.metal_surface_energy_J_per_m2 is None
    assert doc.headline_level_of_theory == block.level_of_theory


def test_surface_documents_keep_their_relaxed_slabs(settings):
    from ssbflow.execution.runner import run_flow
    from ssbflow.execution.store import get_jobstore
    from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
    from ssbflow.workflows.surface import SurfaceEnergyMaker, slab_key, surface_documents

    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    maker = SurfaceEnergyMaker(
        miller=(1, 1, 1),
        relax_maker=CalcRelaxMaker(relax_cell=False, calculator_name="emt"),
        static_maker=CalcStaticMaker(calculator_name="emt"),
    )
    flow = maker.make(cu)
    run_flow(flow, settings, progress=False)
    store = get_jobstore(settings)
    store.connect()
    try:
        (doc,) = surface_documents(store.get_output(flow.jobs[-1].uuid, load=True))
    finally:
        store.close()
    assert sorted(doc.structures) == sorted(slab_key(t) for t in doc.thicknesses_A)
    for t, n in zip(doc.thicknesses_A, doc.n_atoms, strict=True):
        assert len(doc.structures[slab_key(t)]) == n


# --------------------------------------------------------------------------------------
# settings


def test_refine_spec_parse():
    assert RefineSpec.parse("gpaw") == RefineSpec("gpaw", None)
    assert RefineSpec.parse(" GPAW:Fast ") == RefineSpec("gpaw", "fast")
    assert RefineSpec.parse("vasp") == RefineSpec("vasp", None)
    assert RefineSpec.parse("vasp:pbe-d3") == RefineSpec("vasp", None)
    for bad in ("", "qe", "gpaw:ultra"):
        with pytest.raises(InputError) as err:
            RefineSpec.parse(bad)
        assert err.value.field == "refine"
        assert "gpaw:fast" in str(err.value)


def test_refine_maker_for_backends():
    m = refine_maker_for(RefineSpec("gpaw"), top_k=3)
    assert m.top_k == 3 and m.relax_maker is None
    assert m.static_maker.calculator_name == "gpaw"
    assert m.static_maker.calculator_kwargs == {"preset": "standard"}
    r = refine_maker_for(RefineSpec("gpaw", "fast"), relax=True).relax_maker
    assert r.calculator_kwargs == {"preset": "fast"} and r.relax_cell is False
    assert r.steps == 30 and r.relax_kwargs["fmax"] == 0.05
    v = refine_maker_for(RefineSpec("vasp"), relax=True)
    assert v.bulk_static_maker is not None and v.relax_maker is not None
    assert v.relax_maker.input_set_generator.user_incar_settings["NSW"] == 30
    assert v.dft_level_of_theory() == "DFT (VASP, PBE)"


@pytest.mark.parametrize("top_k", [0, -1, 1.5])
def test_bad_top_k_is_refused_before_anything_runs(top_k):
    with pytest.raises(InputError) as err:
        RefineMaker(top_k=top_k).make(None, None, None, None, None, None)
    assert err.value.field == "top_k"


def test_refinement_job_takes_sub_makers_and_scalars_not_the_maker():
    refine = dataclasses.replace(_dft(2.0, top_k=3), tags=["x"], level_of_theory="DFT (scaled)")
    cu = Structure(Lattice.cubic(3.6), ["Cu"], [[0, 0, 0]])
    j = refine.make(None, [], None, None, cu, cu)
    args = [*j.function_args, *j.function_kwargs.values()]
    assert not any(isinstance(a, RefineMaker) for a in args)
    assert j.function_kwargs["top_k"] == 3 and j.function_kwargs["tags"] == ["x"]
    assert j.function_kwargs["static_maker"] == refine.static_maker
    assert j.function_kwargs["level_of_theory"] == "DFT (scaled)"
    assert j.name == refine.name


def test_legacy_refine_adhesion_job_still_runs_and_warns():
    from ssbflow.workflows.refine import refine_adhesion

    cu = Structure(Lattice.cubic(3.6), ["Cu"], [[0, 0, 0]])
    with pytest.warns(DeprecationWarning, match="refine_top_candidates"):
        with pytest.raises(RuntimeError, match="ML adhesion summary is missing"):
            refine_adhesion.original(_dft(2.0), None, [], None, None, cu, cu, [])


def test_adhesion_maker_validates_its_refine_maker():
    with pytest.raises(InputError) as err:
        _study(RefineMaker(top_k=0))
    assert err.value.field == "top_k"


# --------------------------------------------------------------------------------------
# pure functions


def test_slab_surface_energy_by_hand():
    # Cu4 slab, bulk Cu at -3 eV/atom, slab -10 eV, A = 10 Å²: γ = 2 eV / 20 Å²
    g, how = slab_surface_energy_J_per_m2(-10.0, {"Cu": 4}, 10.0, {"Cu": 1}, -3.0)
    assert g == pytest.approx(0.1 * 16.021766, rel=1e-6) and "stoichiometric" in how
    # Li-rich Li3O slab of Li2O (bulk -14 eV per Li2O), μ_Li = -2 eV: μ_O = -10 eV
    g, _ = slab_surface_energy_J_per_m2(
        -17.0, {"Li": 3, "O": 1}, 10.0, {"Li": 2, "O": 1}, -14.0, "Li", -2.0
    )
    assert g == pytest.approx((-17.0 - 3 * -2.0 - -10.0) / 20 * 16.021766, rel=1e-6)
    g, how = slab_surface_energy_J_per_m2(-17.0, {"Li": 3, "O": 1}, 10.0, {"Li": 2, "O": 1}, -14.0)
    assert g is None and "no metal element" in how


def test_thickness_converged():
    assert thickness_converged([1.0, 1.005], 0.01) is True
    assert thickness_converged([1.0, 1.02], 0.01) is False
    assert thickness_converged([1.0], 0.01) is None
    assert thickness_converged([1.0, None], 0.01) is None


def _rc(label, gamma, w, flagged=False, usable=True):
    return RankedCandidate(label, usable, flagged, gamma, w)


def test_selection_order_and_headline():
    cands = [
        _rc("a", 0.5, 1.0),
        _rc("b", 0.2, 0.8),
        _rc("c", None, 2.0),
        _rc("d", -0.3, 3.0, flagged=True),
        _rc("e", 0.1, 1.0, usable=False),
    ]
    assert selection_order(cands) == ["b", "a", "c", "d"]
    assert select_headline(cands) == ("b", "lowest interface energy γ_int")
    assert select_headline([_rc("c", None, 2.0), _rc("x", None, 3.0)])[0] == "x"
    assert select_headline([_rc("d", -0.3, 3.0, flagged=True)])[0] is None


def test_level_disagreements():
    same = [
        LevelComparison("a", 1.0, 1.5, 0.1, 0.15, "wetting", "wetting"),
        LevelComparison("b", 0.8, 1.2, 0.3, 0.45, "wetting", "wetting"),
    ]
    assert level_disagreements(same) == []
    flipped = [
        LevelComparison("a", 1.0, -0.5, 0.1, 0.9, "wetting", "non-wetting"),
        LevelComparison("b", 0.8, 1.2, 0.3, 0.6, "wetting", "wetting"),
    ]
    out = level_disagreements(flipped)
    assert any(s.startswith("a: W_ad changes sign") for s in out)
    assert any(s.startswith("a: wetting class differs") for s in out)
    assert any("ranking" in s and "ML a > b" in s and "DFT b > a" in s for s in out)
    assert not any(s.startswith("b:") for s in out)
    # same sign, but a factor 2 or more apart (and more than 0.05 J/m²): flagged; a factor
    # 1.9 or a tiny absolute gap is not
    far = [LevelComparison("a", 0.178, 0.051), LevelComparison("b", 0.02, 0.001)]
    (only,) = level_disagreements(far)
    assert only.startswith("a: W_ad differs by a factor 2 or more") and "3.5×" in only
    assert level_disagreements([LevelComparison("a", 0.5, 0.95)]) == []
    assert len(level_disagreements([LevelComparison("a", 0.5, 1.0)])) == 1
    # without γ_int at both levels the ranking is by W_ad
    by_w = [LevelComparison("a", 1.0, 1.0), LevelComparison("b", 0.8, 1.2)]
    (only,) = level_disagreements(by_w)
    assert "W_ad, largest first" in only and "DFT b > a" in only


def test_ranking_ties_within_the_tolerance_are_not_a_disagreement():
    # two registries that relaxed into one interface: equal at ML, 0.3 mJ/m² apart at DFT
    twins = [
        LevelComparison("r1", 0.457, 0.9301, 0.445, 0.3890),
        LevelComparison("r3", 0.457, 0.9304, 0.445, 0.3887),
    ]
    assert not any("ranking" in s for s in level_disagreements(twins))
    # a real inversion, beyond 0.01 J/m² at both levels, is reported once, by name
    real = [
        LevelComparison("a", 0.5, 0.5, 0.30, 0.50),
        LevelComparison("b", 0.5, 0.5, 0.40, 0.35),
        LevelComparison("c", 0.5, 0.5, 0.305, 0.45),  # tied with a at ML: no pair with a
    ]
    ranking = [s for s in level_disagreements(real) if "ranking" in s]
    assert ranking == [
        "ranking of the refined candidates differs (γ_int, lowest first, beyond 0.01 J/m²): "
        "ML a > b, DFT b > a",
        "ranking of the refined candidates differs (γ_int, lowest first, beyond 0.01 J/m²): "
        "ML c > b, DFT b > c",
    ]


def test_candidates_that_relaxed_into_one_minimum_are_refined_once():
    from types import SimpleNamespace

    from pymatgen.core import Lattice, Structure

    from ssbflow.workflows.refine import distinct_candidates

    s = Structure(Lattice.cubic(3.6), ["Cu", "Cu"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    shifted = s.copy()
    shifted.translate_sites([0, 1], [0.1, 0.1, 0.1])  # same structure, other origin
    other = Structure(Lattice.cubic(3.6), ["Cu", "Cu"], [[0, 0, 0], [0.5, 0.5, 0.0]])
    relaxed = {
        "r0": SimpleNamespace(interface=s, interface_energy_eV=-7.0),
        "r1": SimpleNamespace(interface=shifted, interface_energy_eV=-7.0004),  # twin of r0
        "r2": SimpleNamespace(interface=other, interface_energy_eV=-7.0002),  # other minimum
        "r3": SimpleNamespace(interface=s, interface_energy_eV=-6.9),  # same shape, other E
    }
    chosen, same = distinct_candidates(["r0", "r1", "r2", "r3"], relaxed, 2)
    assert chosen == ["r0", "r2"] and same == {"r1": "r0"}
    chosen, same = distinct_candidates(["r0", "r1", "r2", "r3"], relaxed, 3)
    assert chosen == ["r0", "r2", "r3"] and same == {"r1": "r0"}


def test_equivalent_registries_are_relaxed_once():
    """Li(110)/LiF(100): the 2×2 registry grid holds pairs of symmetry-equivalent shifts
    (same rigid energy, same structure); the relaxation budget goes to distinct ones."""
    from types import SimpleNamespace

    from ssbflow.structures.interfaces import build_interface_candidates, same_configuration
    from ssbflow.structures.library import get_phase
    from ssbflow.workflows.adhesion import rank_candidates

    metal, electrolyte = get_phase("Li"), get_phase("LiF")
    cands = build_interface_candidates(
        metal, electrolyte, (1, 1, 0), (1, 0, 0), max_strain=0.2, max_atoms=40,
        metal_layers=3, electrolyte_layers=1, registry_grid=2, gap_A=2.5,
    )  # fmt: skip
    # a stand-in energy that depends on the structure only: equal for equivalent registries
    from ase.calculators.lj import LennardJones
    from pymatgen.io.ase import AseAtomsAdaptor

    def energy(s):
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = LennardJones(sigma=2.2, epsilon=0.1, rc=6.0)
        return SimpleNamespace(output=SimpleNamespace(energy=atoms.get_potential_energy()))

    e_int = [energy(c.interface) for c in cands]
    e_m = [energy(c.metal_slab) for c in cands]
    e_e = [energy(c.electrolyte_slab) for c in cands]
    result = rank_candidates.original(cands, e_int, e_m, e_e, len(cands), 0, metal, electrolyte)
    by = {c.label: c for c in cands}
    energies = {c.label: d.output.energy for c, d in zip(cands, e_int, strict=True)}
    assert result.equivalent_to  # this grid has equivalent shifts
    for dup, kept in result.equivalent_to.items():
        assert kept in result.selected and dup not in result.selected
        assert same_configuration(
            by[dup].interface, energies[dup], by[kept].interface, energies[kept]
        )
    # every selected pair is distinct
    for i, a in enumerate(result.selected):
        for b in result.selected[i + 1 :]:
            assert not same_configuration(
                by[a].interface, energies[a], by[b].interface, energies[b]
            )
    assert len(result.selected) + len(result.equivalent_to) == len(cands)


def test_minima_a_few_tenths_of_an_angstrom_apart_are_not_merged():
    """In a slab cell the vacuum inflates StructureMatcher's default site tolerance past
    1 Å; `same_configuration` compares atoms to 0.1 Å instead."""
    from pymatgen.core import Lattice, Structure

    from ssbflow.structures.interfaces import same_configuration

    slab = Structure(
        Lattice.from_parameters(3.0, 3.0, 30.0, 90, 90, 90),
        ["Cu", "Cu", "Cu"],
        [[0, 0, 0.30], [0.5, 0.5, 0.36], [0, 0, 0.42]],
    )
    moved = slab.copy()
    moved.translate_sites([2], [0.3, 0, 0], frac_coords=False)  # top atom 0.3 Å sideways
    assert not same_configuration(slab, -10.0, moved, -10.0)
    tiny = slab.copy()
    tiny.translate_sites([2], [0.02, 0, 0], frac_coords=False)
    assert same_configuration(slab, -10.0, tiny, -10.0005)
    shifted = slab.copy()
    shifted.translate_sites([0, 1, 2], [0.7, 0.4, 1.0], frac_coords=False)  # whole cell
    assert same_configuration(slab, -10.0, shifted, -10.0)
