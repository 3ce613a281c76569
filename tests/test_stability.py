"""Electrolyte stability against a metal (ssbflow stability).

Hand-built systems with known hulls check the analysis (reaction energy, products,
window) against values worked out by hand; CHGNet runs check the two textbook cases
(Li/Li2O stable, Li/Li3PS4 reduced to Li2S + Li3P) end to end; bad input must give one
line and exit code 2 before anything runs.
"""

from __future__ import annotations

import json

import pytest
from ase.calculators.lj import LennardJones as _LennardJones

from ssbflow.analysis.stability import (
    PhaseEnergy,
    analyse_stability,
    build_phase_diagram,
    classify_interphase,
    electrochemical_window_V,
)
from ssbflow.errors import InputError

# A-B binary with metal A = Li and B = S (labels only; the energies are made up):
#   E(Li) = -1.9 eV/atom, E(S) = -4.0 eV/atom,
#   LiS : formation -0.80 eV/atom  -> E = 2 * (-0.80) + (-1.9) + (-4.0) = -7.5 eV/f.u.
#   LiS2: formation -0.60 eV/atom  -> E = 3 * (-0.60) + (-1.9) + 2 * (-4.0) = -11.7 eV/f.u.
# Hull: LiS2 lies 0.0667 eV/atom below the LiS-S tie line, so both are stable.
# LiS2 + Li -> 2 LiS: dE = 2(-1.6) - (-1.8) = -1.4 eV per 4 atoms = -0.35 eV/atom at
#   x(LiS2) = 3/4 (atom fraction).
# Window of LiS2 vs Li/Li+ (formation energies per formula unit):
#   reduction LiS2 + Li -> 2 LiS at mu_Li - mu_Li0 = 2(-1.6) - (-1.8) = -1.4 eV -> 1.4 V;
#   oxidation LiS2 -> Li + 2 S at mu_Li - mu_Li0 = -1.8 eV -> 1.8 V.
# LiS: stable against Li (0 V); oxidised to LiS2 at 1.4 V.
E_LI, E_S = -1.9, -4.0
HAND = [
    PhaseEnergy("Li", "Li2", 2 * E_LI),
    PhaseEnergy("S", "S", E_S),
    PhaseEnergy("LiS", "LiS", -1.6 + E_LI + E_S),
    PhaseEnergy("LiS2", "Li2S4", 2 * (-1.8 + E_LI + 2 * E_S)),  # a doubled cell
]


def test_hand_built_binary_reaction_products_and_window():
    pd = build_phase_diagram(HAND)
    result = analyse_stability(pd, "Li", "LiS2")
    assert result.energy_above_hull_eV_per_atom == pytest.approx(0.0, abs=1e-9)
    assert result.reacts
    assert result.reaction_energy_eV_per_atom == pytest.approx(-0.35, abs=1e-9)
    assert result.mixing_ratio == pytest.approx(0.75, abs=1e-9)
    assert result.products_at_minimum == ["LiS"]
    assert result.products_metal_rich == ["LiS"]
    assert result.reduction_limit_V == pytest.approx(1.4, abs=1e-9)
    assert result.oxidation_limit_V == pytest.approx(1.8, abs=1e-9)
    assert "LiS" in result.reduction_reaction and "S" in result.oxidation_reaction
    # the reaction curve is the hull below the mixing line: zero at both ends
    (x0, e0), (x1, e1), (x2, e2) = result.reaction_curve
    assert (x0, e0) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert (x1, e1) == pytest.approx((0.75, -0.35), abs=1e-9)
    assert (x2, e2) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_hand_built_binary_phase_stable_against_the_metal():
    result = analyse_stability(build_phase_diagram(HAND), "Li", "LiS")
    assert not result.reacts
    assert result.reaction_energy_eV_per_atom == 0.0
    assert result.products_metal_rich == []
    assert result.reduction_limit_V == 0.0  # stable down to plating
    assert result.oxidation_limit_V == pytest.approx(1.4, abs=1e-9)


def test_reduction_onset_below_plating_is_reported_signed():
    """Li2S-like phase Li2S4 made 0.1 eV/f.u. less stable than LiS + Li: not reduced by Li
    (reduction limit 0 V) but its onset lies at -0.1 V, and LiS's own onset moves there."""
    li2s = PhaseEnergy("Li2S", "Li2S", -1.6 + E_LI + E_S + E_LI + 0.1)
    pd = build_phase_diagram([*HAND, li2s])
    result = analyse_stability(pd, "Li", "LiS")
    assert not result.reacts
    assert result.reduction_limit_V == 0.0
    assert result.reduction_onset_V == pytest.approx(-0.1, abs=1e-9)
    assert "Li2S" in result.reduction_reaction
    # without such a phase nothing happens above -1 V
    assert analyse_stability(build_phase_diagram(HAND), "Li", "LiS").reduction_onset_V is None


@pytest.mark.parametrize("shift_eV", [-3.0, 0.7])
def test_window_does_not_depend_on_the_metal_reference_energy(shift_eV):
    """Shifting E(Li) by d shifts every phase by n_Li d: voltages are differences."""
    shifted = [
        PhaseEnergy(p.name, p.formula, p.energy_eV + shift_eV * _n_li(p.formula)) for p in HAND
    ]
    ref = electrochemical_window_V(build_phase_diagram(HAND), "Li", "LiS2")
    new = electrochemical_window_V(build_phase_diagram(shifted), "Li", "LiS2")
    assert new["reduction_limit_V"] == pytest.approx(ref["reduction_limit_V"], abs=1e-9)
    assert new["oxidation_limit_V"] == pytest.approx(ref["oxidation_limit_V"], abs=1e-9)


def _n_li(formula: str) -> float:
    from pymatgen.core import Composition

    return Composition(formula)["Li"]


def test_metastable_electrolyte_gets_hull_distance_and_hull_window():
    # LiS3 made 50 meV/atom above the LiS2-S tie line: E_hull = 0.05 eV/atom.
    # On the hull, LiS3 would sit between LiS2 (1.8 V) and S; its window is that of the
    # composition brought onto the hull (documented convention).
    e_lis2_atom = (-1.8 + E_LI + 2 * E_S) / 3
    e_hull_atom = 0.75 * e_lis2_atom + 0.25 * E_S  # LiS3 = 3/4 LiS2 + 1/4 S per atom
    phases = [*HAND, PhaseEnergy("LiS3", "LiS3", 4 * (e_hull_atom + 0.05))]
    result = analyse_stability(build_phase_diagram(phases), "Li", "LiS3")
    assert result.energy_above_hull_eV_per_atom == pytest.approx(0.05, abs=1e-9)
    assert set(result.decomposition) == {"LiS2", "S"}
    assert "above the hull" in result.window_convention
    assert result.warnings
    # Brought onto the LiS2-S tie line, LiS3 is stable only where LiS2 and S coexist with
    # the Li reservoir, mu_Li - mu_Li0 = -1.8 eV: a window of (nearly) zero width at 1.8 V
    # (the 0.1 meV/atom margin that puts it on the hull opens it by < 2 mV).
    assert result.reduction_limit_V == pytest.approx(1.8, abs=2e-3)
    assert result.oxidation_limit_V == pytest.approx(1.8, abs=2e-3)
    assert result.reduction_limit_V <= result.oxidation_limit_V


def test_missing_elemental_phase_is_named():
    with pytest.raises(ValueError, match="no elemental phase for S"):
        build_phase_diagram([p for p in HAND if p.name != "S"])


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        ([], "none"),
        (["Li2S", "Li3P"], "stable_sei"),
        (["Li2O", "LiF"], "blocking"),
        (["Li2O", "La2O3", "Zr"], "mixed_conducting"),
        (["Li2O2"], "redox_active"),
        (["Li2O", "Unobtainium"], "unknown"),
    ],
)
def test_interphase_classes(products, expected):
    from ssbflow.workflows.stability import interphase_characters

    cls, reasons = classify_interphase(products, interphase_characters())
    assert cls == expected
    assert len(reasons) == max(1, len(products))


def test_every_product_character_has_a_source():
    from ssbflow.workflows.stability import interphase_characters

    chars = interphase_characters()
    for formula, c in chars.items():
        assert c["electronic"] in {"insulator", "semiconductor", "conductor"}, formula
        assert c["ionic"] in {"conductor", "poor"}, formula
        assert isinstance(c["redox_active"], bool), formula
        assert c["source"] and c["verified"], formula
    # the products named in the issue
    for formula in ("Li2S", "Li2O", "LiCl", "LiF", "Li3N", "Li3P"):
        assert formula in chars


# -- flow checks (nothing runs) --------------------------------------------------------------


def test_plan_lists_the_chemical_system():
    from ssbflow.workflows.stability import StabilityMaker

    plan = StabilityMaker.from_calculator("chgnet").plan("Li", "beta-Li3PS4")
    assert plan["metal"] == "Li"
    assert plan["elements"] == ["Li", "P", "S"]
    assert set(plan["phases"]) == {
        "Li",
        "P",
        "S",
        "Li2S",
        "Li3P",
        "Li3PS4",
        "Li4P2S6",
        "Li7P3S11",
    }
    llzo = StabilityMaker.from_calculator("chgnet").plan("Li", "Li7La3Zr2O12")
    assert {
        "Li",
        "La",
        "Zr",
        "O2",
        "Li2O",
        "ZrO2",
        "La2O3",
        "LLZO",
        "Li2ZrO3",
        "Li6Zr2O7",
    } <= set(llzo["phases"])
    assert llzo["kinds"]["O2"] == "molecule"


@pytest.mark.parametrize(
    ("metal", "electrolyte", "match"),
    [
        ("Li", "Na3PS4", "no common chemical system"),
        ("Zr", "Li3PS4", "no common chemical system"),
        ("Li", "Li7PS6", "unknown phase"),
        ("Li3PS4", "Li2S", "not one element"),
    ],
)
def test_bad_pairs_raise_input_error(metal, electrolyte, match):
    from ssbflow.workflows.stability import StabilityMaker

    with pytest.raises(InputError, match=match):
        StabilityMaker.from_calculator("chgnet").make(metal, electrolyte)


def test_too_large_cell_is_refused_before_running():
    from ssbflow.workflows.stability import StabilityMaker

    with pytest.raises(InputError, match="max_atoms"):
        StabilityMaker.from_calculator("chgnet", max_atoms=50).make("Li", "LLZO")


@pytest.mark.parametrize(
    "args",
    [
        ("Li", "Na3PS4"),
        ("Li", "unobtainium"),
        ("Li3PS4", "Li2S"),
        ("Zr", "LLZO", "--max-atoms", "10"),
    ],
)
def test_cli_bad_input_one_line_exit_2(run_cli, args):
    code, out, err = run_cli("stability", *args)
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ssbflow: error:")


class ExplodingLJ(_LennardJones):
    """Lennard-Jones whose every evaluation raises: every relaxation fails."""

    def calculate(self, *args, **kwargs):
        raise RuntimeError("synthetic calculator failure")


def test_cli_failed_relaxations_exit_1_with_the_reason(run_cli):
    code, _, err = run_cli("stability", "Li", "Li2O", "--calculator", f"{__name__}:ExplodingLJ")
    assert code == 1
    assert "ssbflow: error: stability calculation failed" in err
    assert "synthetic calculator failure" in err


def test_cli_submit_dry_run_builds_the_flow_and_runs_nothing(run_cli):
    args = ("submit", "stability", "Li", "Li2O", "--calculator", "lj", "--dry-run", "--json")
    code, out, err = run_cli(*args)
    assert code == 0, err
    dry = json.loads(out)
    names = [j["name"] for j in dry["jobs"]]
    assert dry["dry_run"] is True and "stability Li/Li2O" in names
    summary = next(j for j in dry["jobs"] if j["name"] == "stability Li/Li2O")
    assert len(summary["after"]) == len(names) - 1  # after every relaxation


# -- CHGNet end to end (tiny cells) -------------------------------------------------------------


@pytest.fixture(scope="module")
def _chgnet():
    return pytest.importorskip("chgnet")


def test_li_li2o_is_stable_with_chgnet(_chgnet, settings):
    from ssbflow.execution.runner import run_flow
    from ssbflow.workflows.stability import StabilityMaker

    flow = StabilityMaker.from_calculator("chgnet").make("Li", "Li2O")
    responses = run_flow(flow, settings, progress=False)
    doc = responses[flow.output.uuid][1].output
    assert doc.status == "successful", doc.failure_reason
    assert doc.energy_above_hull_eV_per_atom == pytest.approx(0.0, abs=1e-6)
    assert not doc.reacts_with_metal
    assert doc.reaction_energy_eV_per_atom == 0.0
    assert doc.products == []
    assert doc.reduction_limit_V <= 0.0
    assert doc.interphase_class == "none"
    # Li2O gives up Li only by forming the peroxide (the library holds no LiO2)
    assert "Li2O2" in doc.oxidation_reaction
    assert doc.oxidation_limit_V > 1.0
    assert set(doc.phase_energies_eV_per_atom) == {"Li", "Li2O", "O2", "Li2O2"}


def test_li_li3ps4_is_reduced_with_chgnet(_chgnet, run_cli, tmp_path):
    code, out, err = run_cli("stability", "Li", "Li3PS4", "--json", "--output", str(tmp_path))
    assert code == 0, err
    doc = json.loads(out)
    for key in (
        "energy_above_hull_eV_per_atom",
        "reaction_energy_eV_per_atom",
        "mixing_ratio",
        "products",
        "reduction_limit_V",
        "oxidation_limit_V",
        "interphase_class",
        "calculator",
        "uuid",
    ):
        assert key in doc
    assert doc["calculator"] == "chgnet"
    assert doc["reaction_energy_eV_per_atom"] < -0.1  # strongly exothermic
    assert 0.0 < doc["mixing_ratio"] < 1.0
    assert {"Li2S", "Li3P"} <= set(doc["products"])
    assert "Li3PS4" not in doc["products"]
    # reduced far above plating (thiophosphates are reduced below ~1.7 V vs Li/Li+)
    assert doc["reduction_limit_V"] > 1.0
    assert doc["oxidation_limit_V"] > doc["reduction_limit_V"]
    assert doc["interphase_class"] == "stable_sei"
    for plot in doc["plots"]:
        assert (tmp_path / plot.split("/")[-1]).stat().st_size > 1000


# -- reproduce: the stability_window rows and product claims ---------------------------------


def test_reproduce_checks_window_rows_and_product_claims(tmp_path):
    """Shipped rows -> one stability task per pair; claims pass/fail on known documents."""
    from ssbflow.reproduce import ReproduceOptions, TaskResult, assemble, build_tasks, write_report
    from ssbflow.reproduce.reference import load_reference_set

    ids = {
        "ZHM15-WIN-LLZO-RED",
        "ZHM15-WIN-LLZO-OX",
        "ZHM15-PROD-LPS",
        "ZHM15-PROD-LPSCL",
        "ZHM15-STAB-LI2O",
    }
    rows = [r for r in load_reference_set() if r.id in ids]
    assert len(rows) == len(ids)
    options = ReproduceOptions(calculator="chgnet")
    tasks = build_tasks(rows, options)
    assert {t.kind for t in tasks} == {"stability"}
    # both LLZO window rows share one phase diagram
    assert sorted(t.label for t in tasks) == ["Li/LLZO", "Li/Li2O", "Li/Li3PS4", "Li/Li6PS5Cl"]
    docs = {
        "Li/LLZO": {
            "reduction_limit_V": 0.0,
            "oxidation_limit_V": 3.07,
            "reacts_with_metal": False,
        },
        "Li/Li3PS4": {"products": ["Li2S", "Li3P"], "reacts_with_metal": True},
        "Li/Li6PS5Cl": {"products": ["Li2S", "Li3P"], "reacts_with_metal": True},  # no LiCl
        "Li/Li2O": {"products": [], "reacts_with_metal": False},
    }
    results = {
        t.tag: TaskResult(
            label=t.label, kind=t.kind, tag=t.tag, status="computed", document=docs[t.label]
        )
        for t in tasks
    }
    result = assemble(rows, tasks, results, options, "shipped", 0.0)
    by_id = {e.id: e for e in result.entries}
    assert by_id["ZHM15-WIN-LLZO-RED"].difference == pytest.approx(-0.05)
    assert by_id["ZHM15-WIN-LLZO-OX"].difference == pytest.approx(0.16)
    assert by_id["ZHM15-PROD-LPS"].status == "passed"
    assert by_id["ZHM15-PROD-LPSCL"].status == "failed"
    assert "LiCl" in by_id["ZHM15-PROD-LPSCL"].reason
    assert by_id["ZHM15-STAB-LI2O"].status == "passed"
    assert result.summary.by_unit["V"]["n"] == 2
    assert (result.summary.orderings_passed, result.summary.orderings_total) == (2, 3)
    report = write_report(result, tmp_path)[0].read_text()
    assert "Li/Li3PS4 -> Li2S + Li3P" in report and "Li2S + Li3P" in report


# -- the adhesion summary's stability block -------------------------------------------------------


def test_adhesion_flow_carries_the_stability_job():
    from ssbflow.structures.library import get_phase
    from ssbflow.workflows.adhesion import AdhesionMaker
    from ssbflow.workflows.stability import StabilityMaker

    maker = AdhesionMaker.from_calculator("chgnet")
    maker.stability_maker = StabilityMaker.from_calculator("chgnet")
    flow = maker.make(get_phase("Li"), get_phase("Li2O"), "Li", "Li2O")
    stability_jobs = [j for j in flow.iterflow() if j[0].name == "stability Li/Li2O"]
    assert len(stability_jobs) == 1
    summary = flow.jobs[-1]
    assert summary.name == "adhesion summary"
    ref = summary.function_kwargs["stability"]
    assert ref["uuid"] == stability_jobs[0][0].uuid
    # without a stability maker nothing is added
    plain = AdhesionMaker.from_calculator("chgnet").make(get_phase("Li"), get_phase("Li2O"))
    assert plain.jobs[-1].function_kwargs["stability"] is None


def test_stability_block_and_sentence():
    from ssbflow.commands.stability import stability_line
    from ssbflow.schemas import Provenance
    from ssbflow.workflows.stability import StabilityDocument, stability_block

    doc = StabilityDocument(
        system="Li/Li3PS4",
        formula="Li3PS4",
        calculator="chgnet",
        provenance=Provenance(calculator="chgnet", level_of_theory="ML potential (chgnet)"),
        metal="Li",
        electrolyte="Li3PS4",
        chemical_system="Li-P-S",
        reaction_energy_eV_per_atom=-0.68,
        mixing_ratio=0.5,
        products=["Li2S", "Li3P"],
        reduction_limit_V=1.66,
        interphase_class="stable_sei",
    )
    block = stability_block({"uuid": "abc", "doc": doc.model_dump()})
    assert block.stability_uuid == "abc"
    assert block.products == ["Li2S", "Li3P"]
    assert stability_block(None) is None
    assert stability_block({"uuid": "abc", "doc": None}) is None
    line = stability_line("Li", "Li3PS4", block.model_dump())
    assert "reacts" in line and "Li2S + Li3P" in line and "1.66 V" in line


def test_submit_stability_dry_run(run_cli):
    code, out, err = run_cli("submit", "stability", "Li", "Li2O", "--dry-run")
    assert code == 0, err
    assert "stability Li/Li2O" in out + err
    assert "stability relax (fixed box) O2" in out + err  # the molecule keeps its box


def test_metastable_electrolyte_that_the_metal_does_not_reduce_is_not_called_reactive():
    """A Li2S polymorph 30 meV/atom above Li2S: its own decomposition (to Li2S) is
    E_hull, not a reaction with Li. Li2S is stable against Li, so no reaction, no
    interphase products and a warning that names the self-decomposition."""
    e_li2s = 3 * -1.0 + 2 * E_LI + E_S  # formation -1.0 eV/atom
    phases = [
        PhaseEnergy("Li", "Li", E_LI),
        PhaseEnergy("S", "S", E_S),
        PhaseEnergy("Li2S", "Li2S", e_li2s),
        PhaseEnergy("Li2S-beta", "Li2S", e_li2s + 3 * 0.03),
    ]
    result = analyse_stability(build_phase_diagram(phases), "Li", "Li2S-beta")
    assert result.energy_above_hull_eV_per_atom == pytest.approx(0.03, abs=1e-9)
    assert result.decomposition == {"Li2S": pytest.approx(1.0)}
    assert not result.reacts
    assert result.reaction_energy_eV_per_atom == 0.0
    assert result.products_metal_rich == []
    assert any("30 meV/atom above the hull" in w and "Li2S" in w for w in result.warnings)
    # measured from the hull, a metastable phase that the metal does reduce still reacts
    # by the same amount as its stable form: LiS3 (50 meV/atom above LiS2 + S) + Li
    e_lis2_atom = (-1.8 + E_LI + 2 * E_S) / 3
    lis3 = PhaseEnergy("LiS3", "LiS3", 4 * (0.75 * e_lis2_atom + 0.25 * E_S + 0.05))
    meta = analyse_stability(build_phase_diagram([*HAND, lis3]), "Li", "LiS3")
    assert meta.reacts and meta.reaction_energy_eV_per_atom < -0.1
    assert "LiS" in meta.products_metal_rich
