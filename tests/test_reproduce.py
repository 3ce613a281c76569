"""The reproduce machinery: statistics, ordering checks, report, CLI, and an EMT end-to-end run."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssbflow.analysis.parity import evaluate_ordering, parity_statistics, relative_differences
from ssbflow.errors import InputError
from ssbflow.reproduce import ReproduceOptions, TaskResult, assemble, build_tasks, write_report
from ssbflow.reproduce.reference import CSV_COLUMNS, load_reference_set

# -- pure statistics ------------------------------------------------------------------------


def test_parity_statistics_hand_computed():
    published = [1.0, 2.0, 3.0, 4.0]
    computed = [1.5, 1.0, 3.0, 4.5]  # differences +0.5, -1.0, 0, +0.5
    stats = parity_statistics(published, computed)
    assert stats.n == 4
    assert stats.mae == pytest.approx(2.0 / 4)
    assert stats.rmse == pytest.approx(math.sqrt((0.25 + 1.0 + 0.0 + 0.25) / 4))
    assert stats.max_abs_error == pytest.approx(1.0)
    assert stats.mean_signed_error == pytest.approx(0.0)
    rel = relative_differences(published, computed)
    np.testing.assert_allclose(rel, [0.5, -0.5, 0.0, 0.125])


def test_parity_statistics_undefined_without_data():
    with pytest.raises(ValueError, match="undefined"):
        parity_statistics([], [])
    with pytest.raises(ValueError, match="equal length"):
        parity_statistics([1.0], [1.0, 2.0])
    assert np.isnan(relative_differences([0.0], [1.0])[0])


def test_evaluate_ordering():
    ok = evaluate_ordering([3.0, 2.0, 1.0], ">")
    assert ok.passed is True and ok.complete and not ok.violated_pairs
    assert [m[2] for m in ok.margins] == pytest.approx([1.0, 1.0])
    bad = evaluate_ordering([1.0, 2.0, 3.0], ">")
    assert bad.passed is False and set(bad.violated_pairs) == {(0, 1), (0, 2), (1, 2)}
    assert evaluate_ordering([1.0, 2.0], "<").passed is True
    tie = evaluate_ordering([1.0, 1.0], "<")
    assert tie.passed is False  # strict: a tie does not confirm a ranking
    partial = evaluate_ordering([3.0, None, 1.0], ">")
    assert partial.passed is True and partial.evaluated == (0, 2) and not partial.complete
    hidden_violation = evaluate_ordering([1.0, None, 3.0], ">")
    assert hidden_violation.passed is False and hidden_violation.violated_pairs == ((0, 2),)
    assert evaluate_ordering([1.0, None, float("nan")], ">").passed is None


# -- assembling from known results (no computation) -----------------------------------------

_BASE = {
    "relaxation": "relaxed",
    "definition": "synthetic test row; not a published value",
    "level_of_theory": "synthetic (test)",
    "authors": "Test Author",
    "year": "2024",
    "journal": "Test Journal",
    "doi": "10.0000/ssbflow.test",
    "locator": "synthetic",
    "read_at_url": "https://example.org/ssbflow-test",
    "verification": "read in the source",
    "original_text": "synthetic values for testing the reproduce machinery",
}


def write_reference(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: {**_BASE, **r}.get(c, "") for c in CSV_COLUMNS})
    return path


def test_assemble_statistics_and_orderings_from_known_values(tmp_path):
    path = write_reference(
        tmp_path / "ref.csv",
        [
            {
                "id": "N1",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "metal_facet": "111",
                "value": "1.0",
                "unit": "J/m^2",
            },
            {
                "id": "N2",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "metal_facet": "100",
                "value": "2.0",
                "unit": "J/m^2",
            },
            {
                "id": "N3",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "metal_facet": "110",
                "value": "1.0",
                "unit": "J/m^2",
            },
            {
                "id": "O-PASS",
                "kind": "ordering",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "claim": "Cu(111) < Cu(100)",
                "unit": "J/m^2",
            },
            {
                "id": "O-FAIL",
                "kind": "ordering",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "claim": "Cu(100) < Cu(111)",
                "unit": "J/m^2",
            },
            {
                "id": "O-NA",
                "kind": "ordering",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "claim": "Cu(110) < Cu(210)",
                "unit": "J/m^2",
            },
        ],
    )
    rows = load_reference_set(path)
    options = ReproduceOptions(calculator="chgnet", max_atoms=50)
    tasks = build_tasks(rows, options)
    # Cu(111), Cu(100), Cu(110) and Cu(210): shared members are computed once
    assert sorted(t.label for t in tasks) == ["Cu(100)", "Cu(110)", "Cu(111)", "Cu(210)"]
    assert sorted(next(t for t in tasks if t.label == "Cu(111)").row_ids) == [
        "N1",
        "O-FAIL",
        "O-PASS",
    ]
    known = {"Cu(111)": 1.2, "Cu(100)": 1.5}
    results = {}
    for t in tasks:
        if t.label in known:
            results[t.tag] = TaskResult(
                label=t.label,
                kind=t.kind,
                tag=t.tag,
                status="computed",
                document={"status": "successful", "surface_energy_J_per_m2": known[t.label]},
            )
        else:
            results[t.tag] = TaskResult(
                label=t.label,
                kind=t.kind,
                tag=t.tag,
                status="not reproducible",
                reason="needs 80 atoms, more than --max-atoms 50",
            )
    result = assemble(rows, tasks, results, options, str(path), wall_time_s=1.0)
    by_id = {e.id: e for e in result.entries}
    assert by_id["N1"].difference == pytest.approx(0.2)
    assert by_id["N1"].relative_difference == pytest.approx(0.2)
    assert by_id["N2"].difference == pytest.approx(-0.5)
    assert by_id["N3"].status == "not reproducible" and "max-atoms" in by_id["N3"].reason
    assert by_id["N3"].computed is None
    s = result.summary
    assert s.n_numeric == 2 and s.n_numeric_total == 3 and s.unit == "J/m^2"
    assert s.mae == pytest.approx(0.35)
    assert s.rmse == pytest.approx(math.sqrt((0.04 + 0.25) / 2))
    assert s.max_abs_error == pytest.approx(0.5)
    assert by_id["O-PASS"].status == "passed"
    assert by_id["O-FAIL"].status == "failed" and "violated" in by_id["O-FAIL"].reason
    assert by_id["O-NA"].status == "not evaluated" and "max-atoms" in by_id["O-NA"].reason
    assert (s.orderings_passed, s.orderings_total, s.orderings_not_evaluated) == (1, 2, 1)
    assert result.is_ml_potential
    assert "ML potential vs. published DFT" in result.comparison_note
    assert by_id["N1"].comparison == "ML potential (chgnet) vs. published synthetic (test)"

    files = write_report(result, tmp_path / "report")
    names = sorted(p.name for p in files)
    assert names == ["parity.png", "report.md"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "ML potential vs. published DFT" in md
    assert "| N1 |" in md and "+20.0 %" in md
    assert "1 of 2 passed" in md and "FAILED" in md
    assert "needs 80 atoms" in md
    png = (tmp_path / "report" / "parity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# -- CLI --------------------------------------------------------------------------------------


def test_cli_list_human_and_json(run_cli):
    code, out, _ = run_cli("reproduce", "--list")
    assert code == 0 and "reference set" in out
    code, out, _ = run_cli("reproduce", "--list", "--json")
    assert code == 0
    data = json.loads(out)
    rows = load_reference_set()
    ids = [e["id"] for e in data["entries"]]
    # the published set first, then the project's own values, each marked as such
    assert ids[: len(rows)] == [r.id for r in rows] and "PRJ-GPAW-LI100" in ids[len(rows) :]
    for entry in data["entries"]:
        assert {"id", "published", "unit", "doi", "source", "level_of_theory"} <= set(entry)
        assert entry["provenance"] == (
            "project value" if entry["id"] in ids[len(rows) :] else "published"
        )
    code, out, _ = run_cli("reproduce", "--list", "--json", "--published-only")
    assert [e["id"] for e in json.loads(out)["entries"]] == [r.id for r in rows]


def test_cli_unknown_id_is_input_error(run_cli):
    code, out, err = run_cli("reproduce", "--list", "--only", "NOPE")
    assert code == 2 and out == ""
    assert "unknown reference id" in err and "Traceback" not in err


def test_cli_list_subprocess():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssbflow.cli",
            "reproduce",
            "--list",
            "--json",
            "--only",
            "FCC10-ORD-Cu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [e["id"] for e in data["entries"]] == ["FCC10-ORD-Cu"]
    assert data["entries"][0]["published"] == "Cu(111) < Cu(100) < Cu(110) < Cu(210)"


# -- end to end with EMT through the real workflows -----------------------------------------


def _emt_reference(tmp_path: Path) -> Path:
    return write_reference(
        tmp_path / "emt_ref.csv",
        [
            {
                "id": "E-SURF",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "metal_facet": "111",
                "value": "1.0",
                "unit": "J/m^2",
            },
            {
                "id": "E-ADH",
                "kind": "numeric",
                "quantity": "work_of_adhesion",
                "metal": "Au",
                "metal_structure": "fcc",
                "metal_facet": "100",
                "electrolyte": "Ag",
                "electrolyte_facet": "100",
                "value": "1.5",
                "unit": "J/m^2",
            },
            {
                "id": "E-PASS",
                "kind": "ordering",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "claim": "Cu(111) < Cu(100)",
                "unit": "J/m^2",
            },
            {
                "id": "E-FAIL",
                "kind": "ordering",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "claim": "Cu(100) < Cu(111)",
                "unit": "J/m^2",
            },
            {
                "id": "E-NR",
                "kind": "numeric",
                "quantity": "work_of_adhesion",
                "metal": "Li",
                "metal_facet": "100",
                "electrolyte": "Li2O",
                "electrolyte_facet": "111",
                "value": "0.5",
                "unit": "J/m^2",
            },
        ],
    )


@pytest.mark.slow
def test_reproduce_end_to_end_emt(run_cli, tmp_path, settings):
    ref = _emt_reference(tmp_path)
    report = tmp_path / "report"
    args = [
        "reproduce",
        "--reference",
        ref,
        "--calculator",
        "emt",
        "--max-atoms",
        "80",
        "--report",
        report,
        "--json",
    ]
    code, out, err = run_cli(*args)
    assert code == 0, err
    data = json.loads(out)
    entries = {e["id"]: e for e in data["entries"]}
    for e in data["entries"]:
        assert {"id", "published", "computed", "unit", "status"} <= set(e)
    assert {
        "mae",
        "rmse",
        "max_abs_error",
        "n_numeric",
        "orderings_passed",
        "orderings_total",
    } <= set(data["summary"])

    # EMT surface energy of Cu(111) is positive and below Cu(100): the true claim passes,
    # the reversed claim fails.
    surf = entries["E-SURF"]
    assert surf["status"] == "computed" and 0.3 < surf["computed"] < 2.5
    assert surf["difference"] == pytest.approx(surf["computed"] - 1.0)
    assert entries["E-PASS"]["status"] == "passed"
    assert entries["E-FAIL"]["status"] == "failed"
    assert entries["E-PASS"]["computed"]["Cu(111)"] == pytest.approx(surf["computed"])
    # the facets are conventional-cell planes: (100) is clearly less stable than (111)
    # (broken-bond count 4 vs 3 per surface atom), not equal within noise
    gamma_111 = entries["E-PASS"]["computed"]["Cu(111)"]
    gamma_100 = entries["E-PASS"]["computed"]["Cu(100)"]
    assert gamma_100 / gamma_111 > 1.05

    adh = entries["E-ADH"]
    assert adh["status"] == "computed" and adh["computed"] > 0

    # EMT has no Li or O: recorded with the reason, not dropped
    nr = entries["E-NR"]
    assert nr["status"] == "not reproducible" and "EMT" in nr["reason"]
    assert nr["computed"] is None

    s = data["summary"]
    assert s["n_numeric"] == 2 and s["orderings_total"] == 2 and s["orderings_passed"] == 1
    expected = parity_statistics([1.0, 1.5], [surf["computed"], adh["computed"]])
    assert s["mae"] == pytest.approx(expected.mae)
    assert s["rmse"] == pytest.approx(expected.rmse)
    assert s["max_abs_error"] == pytest.approx(expected.max_abs_error)
    assert not data["is_ml_potential"]
    assert (report / "report.md").is_file() and (report / "parity.png").is_file()
    md = (report / "report.md").read_text()
    assert "empirical potential (EMT) vs. published synthetic (test)" in md

    # results are in the store, tagged with the reference row id
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    try:
        docs = list(store.query({"output.tags": "reference:E-PASS"}, properties=["output"]))
    finally:
        store.close()
    assert {d["output"]["result_type"] for d in docs} == {"surface_energy"}
    assert len(docs) == 2 and all(d["output"]["calculator"] == "emt" for d in docs)

    # a rerun reuses every completed system from the store and gives the same numbers
    code, out2, err2 = run_cli(*args)
    assert code == 0, err2
    again = json.loads(out2)
    statuses = {s["label"]: s["status"] for s in again["systems"]}
    assert statuses == {
        "Cu(111)": "reused",
        "Au(100)/Ag(100)": "reused",
        "Cu(100)": "reused",
        "Li(100)/Li2O(111)": "not reproducible",
    }
    assert again["summary"]["mae"] == pytest.approx(s["mae"])
    assert again["summary"]["n_systems_reused"] == 3


# -- surface rows: terminations, rigid slabs, chemical potentials, project values -----------


def test_coexistence_chemical_potentials_hand_computed():
    from ssbflow.analysis.coexistence import coexistence_chemical_potentials_eV

    # AB (E = -5 eV per AB) with A metal (E = -4 eV per 2 A): μ_A = -2, μ_B = -5 - (-2) = -3
    mu = coexistence_chemical_potentials_eV({"A": 1, "B": 1}, -5.0, [({"A": 2}, -4.0)])
    assert mu == pytest.approx({"A": -2.0, "B": -3.0})
    # LLZO-like: X7Y3Z2O12 with X2O (-6), Y2O3 (-20), Z (-8 per atom) and a bulk energy
    # built from μ = (X, Y, Z, O) = (-2, -5, -8, -2): the solve returns those μ
    want = {"X": -2.0, "Y": -5.0, "Z": -8.0, "O": -2.0}
    bulk = {"X": 7, "Y": 3, "Z": 2, "O": 12}
    e_bulk = sum(n * want[el] for el, n in bulk.items())
    phases = [({"X": 2, "O": 1}, -6.0), ({"Y": 2, "O": 3}, -16.0), ({"Z": 1}, -8.0)]
    assert coexistence_chemical_potentials_eV(bulk, e_bulk, phases) == pytest.approx(want)
    with pytest.raises(InputError, match="do not fix"):
        coexistence_chemical_potentials_eV(bulk, e_bulk, phases[:2])
    with pytest.raises(InputError, match="do not fix"):  # X2O and X4O2: dependent
        coexistence_chemical_potentials_eV({"X": 2, "O": 1}, -6.0, [({"X": 4, "O": 2}, -12.0)])
    with pytest.raises(InputError, match="does not contain"):
        coexistence_chemical_potentials_eV({"A": 1, "B": 1}, -5.0, [({"C": 1}, -1.0)])


def test_surface_tasks_keep_termination_rigidity_and_chemical_potentials():
    from ssbflow.reproduce.reference import load_default_reference, select_rows

    rows = select_rows(
        load_default_reference(),
        ["CAN18-SE-010-LI", "CAN18-SE-110-LA", "CAN18-SE-110-O", "PRJ-GPAW-LI100"],
    )
    tasks = {tuple(t.row_ids): t for t in build_tasks(rows, ReproduceOptions())}
    li = tasks[("PRJ-GPAW-LI100",)]
    assert li.kind == "surface" and li.rigid and li.label == "Li(100)"
    la, o = tasks[("CAN18-SE-110-LA",)], tasks[("CAN18-SE-110-O",)]
    assert la.label == o.label == "LLZO(110)" and la.tag != o.tag  # one termination each
    assert (la.electrolyte_termination, o.electrolyte_termination) == (
        "La-terminated",
        "O-terminated",
    )
    assert dict(la.chemical_potentials) == {"Li": "Li2O", "La": "La2O3", "Zr": "Zr"}
    assert not la.rigid
    # a relaxed and a rigid surface of the same facet are different tasks
    relaxed = next(
        iter(
            build_tasks([rows[-1].model_copy(update={"relaxation": "relaxed"})], ReproduceOptions())
        )
    )
    assert relaxed.tag != li.tag and not relaxed.rigid


def _cu_surface_task(**kw):
    from ssbflow.reproduce import Task
    from ssbflow.reproduce.reference import ClaimMember

    fields = {
        "kind": "surface",
        "member": ClaimMember(metal="Cu", metal_facet=(1, 0, 0)),
        "metal_structure": "fcc",
        "electrolyte_termination": None,
        "row_ids": ["X"],
        "tag": "reference-task:test",
    }
    fields.update(kw)
    return Task(**fields)


def test_surface_flow_rigid_capped_and_named_termination():
    from ssbflow.reproduce import _surface_flow

    flow, used = _surface_flow(_cu_surface_task(relaxation="ideal"), "emt", {}, 200, ["t"])
    jobs = {j.name for j in flow.jobs}
    assert "bulk relax Cu" in jobs and "rigid slabs" in used
    fan = next(j for j in flow.jobs if j.name == "surface energy")
    maker = fan.jobs[-1].function_args[0]
    assert maker.relax_maker is None and maker.static_maker is not None
    assert maker.max_thickness_A == 25.0  # nothing capped below 200 atoms

    # Cu(100), a = 3.61 Å: one atom per plane, planes 1.805 Å apart; the series (2.5 Å
    # steps) is 5, 7, 9, ... atoms at 7.22, 10.83, 14.44, ... Å; 8 atoms stop it at 10.83 Å
    flow, used = _surface_flow(_cu_surface_task(), "emt", {}, 8, ["t"])
    fan = next(j for j in flow.jobs if j.name == "surface energy")
    maker = fan.jobs[-1].function_args[0]
    assert maker.relax_maker is not None and "capped" in used
    assert maker.max_thickness_A == pytest.approx(3 * 3.61 + 0.05, abs=0.01)
    with pytest.raises(InputError, match="two thinnest"):
        _surface_flow(_cu_surface_task(), "emt", {}, 5, ["t"])

    # a named termination runs only that termination; one the facet lacks is refused
    flow, used = _surface_flow(
        _cu_surface_task(electrolyte_termination="Cu-terminated"), "emt", {}, 200, ["t"]
    )
    fan = next(j for j in flow.jobs if j.name == "surface energy")
    assert fan.jobs[-1].function_args[0].termination_index == 1
    with pytest.raises(InputError, match="no O-terminated termination"):
        _surface_flow(_cu_surface_task(electrolyte_termination="O-terminated"), "emt", {}, 200, [])


def test_surface_value_is_the_lowest_gamma_of_the_named_termination(tmp_path):
    path = write_reference(
        tmp_path / "ref.csv",
        [
            {
                "id": "S-LI",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "",
                "electrolyte": "LLZO",
                "electrolyte_facet": "010",
                "electrolyte_termination": "Li-terminated",
                "value": "0.87",
                "unit": "J/m^2",
            },
            {
                "id": "S-PRJ",
                "kind": "numeric",
                "quantity": "surface_energy",
                "relaxation": "ideal",
                "metal": "Li",
                "metal_facet": "100",
                "value": "0.454",
                "unit": "J/m^2",
                "doi": "",
                "verification": "computed by this project",
                "level_of_theory": "DFT (GPAW, PBE) fast",
            },
        ],
    )
    rows = load_reference_set(path)
    options = ReproduceOptions(calculator="chgnet")
    tasks = build_tasks(rows, options)
    docs = {
        "LLZO(010)": [
            {"termination_chemistry": "Li-terminated", "surface_energy_J_per_m2": 1.10},
            {"termination_chemistry": "Li-terminated", "surface_energy_J_per_m2": 0.95},
            {"termination_chemistry": "O-terminated", "surface_energy_J_per_m2": 0.50},
            {"termination_chemistry": "Li-terminated", "status": "failed", "failure_reason": "x"},
        ],
        "Li(100)": [{"termination_chemistry": "Li-terminated", "surface_energy_J_per_m2": 0.474}],
    }
    results = {
        t.tag: TaskResult(
            label=t.label,
            kind=t.kind,
            tag=t.tag,
            status="computed",
            document=docs[t.label][0],
            documents=docs[t.label],
        )
        for t in tasks
    }
    result = assemble(rows, tasks, results, options, str(path), wall_time_s=1.0)
    by_id = {e.id: e for e in result.entries}
    # the O-terminated face (0.50) is lower but not the row's termination
    assert by_id["S-LI"].computed == pytest.approx(0.95)
    assert by_id["S-LI"].difference == pytest.approx(0.08)
    assert by_id["S-PRJ"].computed == pytest.approx(0.474)
    assert by_id["S-PRJ"].provenance == "project value"
    assert by_id["S-LI"].provenance == "published"
    s = result.summary
    assert s.mae == pytest.approx((0.08 + 0.02) / 2)
    groups = {g["provenance"]: g for g in s.by_group.values()}
    assert groups["project value"]["mae"] == pytest.approx(0.02)
    assert groups["published"]["mae"] == pytest.approx(0.08)
    assert groups["project value"]["published_level_of_theory"] == "DFT (GPAW, PBE) fast"
    write_report(result, tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| J/m^2 | project value | DFT (GPAW, PBE) fast | S-PRJ | 1 | 0.020 |" in md
    assert "| S-PRJ |" in md and "project value" in md

    # no computed Li-terminated face: the reason says so
    only_o = {
        t.tag: results[t.tag].model_copy(update={"documents": docs["LLZO(010)"][2:3]})
        for t in tasks
    }
    again = assemble(rows, tasks, only_o, options, str(path), wall_time_s=1.0)
    li_row = next(e for e in again.entries if e.id == "S-LI")
    assert li_row.computed is None and "no computed Li-terminated" in li_row.reason


def test_write_vasp_inputs_for_surface_rows(run_cli, tmp_path):
    """Rigid Li(100) gets single-point slab inputs, Li2O(111) at μ_Li = Li metal relaxations,
    a coexisting-phase folder and a manifest that fixes γ's bookkeeping."""
    from pymatgen.io.vasp import Incar, Kpoints, Poscar

    path = write_reference(
        tmp_path / "ref.csv",
        [
            {
                "id": "V-LI",
                "kind": "numeric",
                "quantity": "surface_energy",
                "relaxation": "ideal",
                "metal": "Li",
                "metal_facet": "100",
                "value": "0.45",
                "unit": "J/m^2",
            },
            {
                "id": "V-LI2O",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "",
                "electrolyte": "Li2O",
                "electrolyte_facet": "111",
                "chemical_potentials": "Li=Li",
                "value": "0.5",
                "unit": "J/m^2",
            },
            {
                "id": "V-NOSLAB",
                "kind": "numeric",
                "quantity": "surface_energy",
                "metal": "Cu",
                "metal_structure": "fcc",
                "metal_facet": "100",
                "electrolyte_termination": "O-terminated",
                "value": "1.0",
                "unit": "J/m^2",
            },
            {
                "id": "V-ADH",
                "kind": "numeric",
                "quantity": "work_of_adhesion",
                "metal": "Li",
                "metal_facet": "100",
                "electrolyte": "Li2O",
                "electrolyte_facet": "111",
                "value": "0.5",
                "unit": "J/m^2",
            },
        ],
    )
    out = tmp_path / "vasp"
    code, _, err = run_cli(
        "reproduce", "--reference", path, "--write-vasp-inputs", out, "--max-atoms", "60", "--json"
    )
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    systems = {s["system"]: s for s in manifest["systems"]}
    # the adhesion row is not a surface row
    assert set(systems) == {"Li(100)", "Li2O(111)", "Cu(100)"}
    # Cu(100) has no O-terminated face: its bulk inputs are written, its slabs not, and why
    cu = systems["Cu(100)"]
    assert cu["slabs"] == [] and "no O-terminated termination" in cu["slabs_not_built"]
    assert (out / cu["bulk"] / "INCAR").is_file()

    li = systems["Li(100)"]
    assert li["rigid_slabs"] and li["bulk_composition"] == {"Li": 2}
    assert all(s["n_atoms"] <= 60 for s in li["slabs"]) and len(li["slabs"]) >= 3
    slab = out / li["slabs"][0]["folder"]
    incar = Incar.from_file(slab / "INCAR")
    # rigid: single point (NSW 0, IBRION -1), fixed cell, PBE 520 eV
    # (pymatgen leaves IBRION and ISIF out at NSW = 0: VASP's defaults -1 and 2)
    assert (incar["NSW"], incar.get("IBRION", -1), incar.get("ISIF", 2)) == (0, -1, 2)
    assert incar["ENCUT"] == 520 and incar["GGA"].upper() == "PE"
    kpts = Kpoints.from_file(slab / "KPOINTS")
    # a = 3.51 Å in-plane: ceil(2π/3.51/0.22) = 9; one k-point along the surface normal
    assert list(kpts.kpts[0]) == [9, 9, 1]
    assert (slab / "POTCAR.spec").read_text().split() == ["Li_sv"]
    assert len(Poscar.from_file(slab / "POSCAR").structure) == li["slabs"][0]["n_atoms"]
    bulk_incar = Incar.from_file(out / li["bulk"] / "INCAR")
    assert (bulk_incar["ISIF"], bulk_incar["IBRION"]) == (3, 2)
    # bulk cubic cell a = 3.51 Å: 9 k-points along every axis
    assert list(Kpoints.from_file(out / li["bulk"] / "KPOINTS").kpts[0]) == [9, 9, 9]

    li2o = systems["Li2O(111)"]
    assert li2o["coexisting_phases"] == {"Li": "Li2O_111/phases/Li"}
    assert (out / "Li2O_111/phases/Li/INCAR").is_file()
    relaxed = Incar.from_file(out / li2o["slabs"][0]["folder"] / "INCAR")
    assert (relaxed["NSW"], relaxed["IBRION"], relaxed["ISIF"]) == (200, 2, 2)
    assert "16.0218" in manifest["formula"]
    assert manifest["skipped"] == [] and li["slabs_not_built"] is None

    code, _, err = run_cli(
        "reproduce", "--reference", path, "--only", "V-ADH", "--write-vasp-inputs", out
    )
    assert code == 2 and "surface_energy rows" in err


def test_match_terminations():
    from ssbflow.workflows.surface import match_terminations

    chems = ["Li+O+Zr-terminated", "O-terminated", "La+Li+O-terminated", "La+Li-terminated"]
    assert match_terminations(chems, "O-terminated") == [1]  # exact beats "holds O"
    assert match_terminations(chems, "La-terminated") == [2, 3]  # no exact: holds La
    assert match_terminations(chems, "Zr-terminated") == [0]
    assert match_terminations(chems, "Cl-terminated") == []
    assert match_terminations(chems, None) == [0, 1, 2, 3]


# -- the report, byte for byte ---------------------------------------------------------------


def _golden_result():
    """A fixed ReproduceResult touching every section and branch of the report."""
    from ssbflow.reproduce import EntryResult, MemberValue, ReproduceResult, ReproduceSummary

    common = {
        "source_level_of_theory": "DFT (PBE) | slab",
        "computed_level_of_theory": "ML potential (chgnet), rigid slabs",
        "comparison": "ML potential (chgnet), rigid slabs vs. published DFT (PBE) | slab",
        "definition": "γ = (E_slab − N μ)/2A\nrelaxed",
        "source": "Test Author (2024) doi:10.0000/x, Table 1",
    }
    entries = [
        EntryResult(
            id="N1",
            kind="numeric",
            quantity="surface_energy",
            unit="J/m^2",
            published=1.0,
            computed=1.2,
            difference=0.2,
            relative_difference=0.2,
            status="computed",
            facets_used=["Cu(111)"],
            **common,
        ),
        EntryResult(
            id="N2",
            kind="numeric",
            quantity="surface_energy",
            unit="J/m^2",
            published=0.454,
            computed=None,
            status="not reproducible",
            reason="needs 80 atoms | more than 50",
            provenance="project value",
            **common,
        ),
        EntryResult(
            id="N3",
            kind="numeric",
            quantity="reduction_limit",
            unit="V",
            published=0.5,
            computed=0.75,
            difference=0.25,
            relative_difference=None,
            status="reused",
            **common,
        ),
        EntryResult(
            id="O1",
            kind="ordering",
            quantity="surface_energy",
            unit="J/m^2",
            published="Cu(111) < Cu(100) < Cu(210)",
            computed={"Cu(111)": 1.2, "Cu(100)": 1.5, "Cu(210)": None},
            status="passed",
            reason="evaluated without Cu(210)",
            members=[
                MemberValue(label="Cu(111)", value=1.2, status="computed"),
                MemberValue(label="Cu(100)", value=1.5, status="reused"),
                MemberValue(label="Cu(210)", value=None, status="failed", reason="x"),
            ],
            **common,
        ),
        EntryResult(
            id="O2",
            kind="ordering",
            quantity="surface_energy",
            unit="J/m^2",
            published="Cu(100) < Cu(111)",
            computed={"Cu(100)": 1.5, "Cu(111)": 1.2},
            status="failed",
            reason="violated: Cu(100) < Cu(111)",
            members=[
                MemberValue(label="Cu(100)", value=1.5, status="reused"),
                MemberValue(label="Cu(111)", value=1.2, status="computed"),
            ],
            **common,
        ),
        EntryResult(
            id="P1",
            kind="products",
            quantity="reaction_products",
            unit="phases",
            published="Li/Li3PS4 -> Li2S + Li3P",
            computed=None,
            status="not evaluated",
            reason="failed",
            **common,
        ),
    ]
    systems = [
        {
            "label": "Cu(111)",
            "kind": "surface",
            "tag": "reference-task:a",
            "status": "computed",
            "document": {
                "surface_energy_J_per_m2": 1.2,
                "n_atoms": [5, 7],
                "strain_percent": 1,
                "contact_angle_deg": None,
            },
            "wall_time_s": 12.345,
            "facets_used": "Cu(111) | rigid slabs",
        },
        {
            "label": "Li/Li3PS4",
            "kind": "stability",
            "tag": "reference-task:b",
            "status": "failed",
            "reason": "job 'x' failed: boom\nsecond line",
        },
    ]
    summary = ReproduceSummary(
        unit="J/m^2",
        mae=0.2,
        rmse=0.2,
        max_abs_error=0.2,
        mean_signed_error=0.2,
        n_numeric=2,
        n_numeric_total=3,
        by_unit={
            "J/m^2": {
                "n": 1,
                "mae": 0.2,
                "rmse": 0.2,
                "max_abs_error": 0.2,
                "mean_signed_error": 0.2,
            },
            "V": {
                "n": 1,
                "mae": 0.25,
                "rmse": 0.25,
                "max_abs_error": 0.25,
                "mean_signed_error": 0.25,
            },
        },
        by_group={
            "J/m^2 | published | DFT (PBE) | slab": {
                "unit": "J/m^2",
                "provenance": "published",
                "published_level_of_theory": "DFT (PBE) | slab",
                "ids": "N1",
                "n": 1,
                "mae": 0.2,
                "rmse": 0.2,
                "max_abs_error": 0.2,
                "mean_signed_error": 0.2,
            },
        },
        orderings_passed=1,
        orderings_total=2,
        orderings_not_evaluated=1,
        n_systems=2,
        n_systems_reused=0,
        n_systems_failed=1,
        n_systems_not_reproducible=0,
    )
    return ReproduceResult(
        calculator="chgnet",
        calculator_kwargs={},
        level_of_theory="ML potential (chgnet)",
        is_ml_potential=True,
        comparison_note="ML potential vs. published DFT: a note.",
        max_atoms=50,
        rigid_slabs=True,
        reference_file="ref.csv",
        entries=entries,
        systems=systems,
        summary=summary,
        wall_time_s=3.25,
    )


#: report.md of `_golden_result()`, written by the report code before it was split into
#: one function per section (issue #15): the Markdown must not change.
_GOLDEN_REPORT = r"""# ssbflow reproduce: computed vs. published

- Calculator: **chgnet** — level of theory: **ML potential (chgnet)**
- Reference file: `ref.csv`; max atoms per structure: 50; rigid (unrelaxed) slabs for every surface row
- Systems: 2 (0 reused from the store, 1 failed, 0 not reproducible); wall time 3.2 s

> **ML potential vs. published DFT: a note.**

## Summary

| unit | n | MAE | RMSE | max abs error | mean signed error |
|---|---|---|---|---|---|
| J/m^2 | 1 | 0.200 | 0.200 | 0.200 | 0.200 |
| V | 1 | 0.250 | 0.250 | 0.250 | 0.250 |

By reference group (computed: ML potential (chgnet); a project value is ssbflow's own earlier number, not a published one):

| unit | reference | published level of theory | rows | n | MAE | RMSE | max abs error |
|---|---|---|---|---|---|---|---|
| J/m^2 | published | DFT (PBE) \| slab | N1 | 1 | 0.200 | 0.200 | 0.200 |

Ordering claims: **1 of 2 passed** (1 not evaluated).

## Numeric rows

| id | quantity | reference | computed | difference | rel. difference | status | level of theory (computed vs. reference) | reference kind | source |
|---|---|---|---|---|---|---|---|---|---|
| N1 | surface_energy (J/m^2) | 1.000 | 1.200 | 0.200 | +20.0 % | computed | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | published | Test Author (2024) doi:10.0000/x, Table 1 |
| N2 | surface_energy (J/m^2) | 0.454 | — | — | — | not reproducible: needs 80 atoms \| more than 50 | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | project value | Test Author (2024) doi:10.0000/x, Table 1 |
| N3 | reduction_limit (V) | 0.500 | 0.750 | 0.250 | — | reused | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | published | Test Author (2024) doi:10.0000/x, Table 1 |

![parity plot (J/m^2)](parity_J_per_m2.png)

![parity plot (V)](parity_V.png)

## Ordering claims

| id | published claim | computed values | result | level of theory (computed vs. published) | source |
|---|---|---|---|---|---|
| O1 | Cu(111) < Cu(100) < Cu(210) (surface_energy, J/m^2) | Cu(111) = 1.200; Cu(100) = 1.500; Cu(210): failed | PASSED (evaluated without Cu(210)) | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | Test Author (2024) doi:10.0000/x, Table 1 |
| O2 | Cu(100) < Cu(111) (surface_energy, J/m^2) | Cu(100) = 1.500; Cu(111) = 1.200 | FAILED (violated: Cu(100) < Cu(111)) | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | Test Author (2024) doi:10.0000/x, Table 1 |
| P1 | Li/Li3PS4 -> Li2S + Li3P (reaction_products, phases) | None | not evaluated (failed) | ML potential (chgnet), rigid slabs vs. published DFT (PBE) \| slab | Test Author (2024) doi:10.0000/x, Table 1 |

## Systems

| system | workflow | status | facets used | key results | wall time (s) | reason |
|---|---|---|---|---|---|---|
| Cu(111) | surface | computed | Cu(111) \| rigid slabs | surface_energy_J_per_m2 = 1.200, strain_percent = 1, n_atoms = [5, 7] | 12.3 |  |
| Li/Li3PS4 | stability | failed | — | — | 0.0 | job 'x' failed: boom second line |

## Definitions used by the sources

- **N1** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
- **N2** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
- **N3** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
- **O1** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
- **O2** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
- **P1** (DFT (PBE) | slab): γ = (E_slab − N μ)/2A relaxed
"""


def test_report_markdown_is_unchanged(tmp_path):
    result = _golden_result()
    files = write_report(result, tmp_path / "rep")
    assert [p.name for p in files] == ["report.md", "parity_J_per_m2.png", "parity_V.png"]
    assert (tmp_path / "rep" / "report.md").read_text(encoding="utf-8") == _GOLDEN_REPORT
    # no numeric row computed, not an ML potential, no rigid slabs: the other branches
    plain = result.model_copy(
        update={
            "is_ml_potential": False,
            "rigid_slabs": False,
            "summary": result.summary.model_copy(update={"n_numeric": 0}),
            "entries": [e for e in result.entries if e.kind != "numeric"],
        }
    )
    assert write_report(plain, tmp_path / "plain") == [tmp_path / "plain" / "report.md"]
    text = (tmp_path / "plain" / "report.md").read_bytes()
    assert (
        hashlib.sha256(text).hexdigest()
        == "645332f843bd4bb5417f9bd17ab068a935fd48ba1ad41e97b36d5f0fea3b6f8b"
    )


# -- failure classification and moved names -------------------------------------------------


def test_too_many_atoms_is_not_reproducible_by_field(monkeypatch, settings):
    """A job that raises InputError(field="max_atoms") makes the system "not reproducible";
    any other job failure makes it "failed" (the message text does not decide)."""
    import ssbflow.execution.runner as runner
    from ssbflow.reproduce import exceeds_max_atoms, run_task

    assert exceeds_max_atoms(InputError("too big", field="max_atoms"))
    # the interface search names the limit to raise first: area and strain are limits too
    assert exceeds_max_atoms(InputError("raise max_area_A2 to at least 541", field="max_area_A2"))
    assert exceeds_max_atoms(InputError("raise max_strain to 0.07", field="max_strain"))
    assert not exceeds_max_atoms(InputError("max atoms 50 is too big", field="vacuum_A"))
    assert not exceeds_max_atoms(RuntimeError("max atoms 50"))

    def failing(field):
        def run_flow(flow, settings, **kw):
            exc = runner.FlowFailedError("screen interfaces", "ssbflow.errors.InputError: x")
            exc.field = field
            raise exc

        return run_flow

    task = _cu_surface_task(tag="reference-task:classify")
    options = ReproduceOptions(calculator="emt", max_atoms=200)
    monkeypatch.setattr(runner, "run_flow", failing("max_atoms"))
    result = run_task(task, options, settings)
    assert result.status == "not reproducible" and "screen interfaces" in result.reason
    assert result.facets_used == "Cu(100)"
    monkeypatch.setattr(runner, "run_flow", failing(None))
    assert run_task(task, options, settings).status == "failed"


def test_moved_names_still_import_from_reproduce_with_a_warning():
    import ssbflow.reproduce as package
    from ssbflow.analysis import coexistence
    from ssbflow.calculators import ML_CALCULATORS
    from ssbflow.workflows import surface

    assert package.ML_CALCULATORS is ML_CALCULATORS
    for name, module in (
        ("coexistence_chemical_potentials_eV", coexistence),
        ("match_terminations", surface),
        ("surface_at_coexistence", surface),
    ):
        with pytest.warns(DeprecationWarning, match=f"{module.__name__}.{name}"):
            assert getattr(package, name) is getattr(module, name)


def test_surface_flow_with_coexisting_phases_composes_the_library_maker():
    """A row with μ by coexistence: the bulk and the named phase are relaxed, and the
    named termination's surface flow starts once μ is known (no flow is run here)."""
    from ssbflow.reproduce import Task, _surface_flow
    from ssbflow.reproduce.reference import ClaimMember

    task = Task(
        kind="surface",
        member=ClaimMember(metal="Li2O", metal_facet=(1, 1, 1)),
        metal_structure=None,
        electrolyte_termination="O-terminated",
        row_ids=["X"],
        tag="reference-task:test",
        chemical_potentials=(("Li", "Li"),),
    )
    flow, used = _surface_flow(task, "chgnet", {}, 200, ["t"])
    assert flow.name == "reference Li2O(111)"
    assert [j.name for j in flow.jobs] == [
        "bulk relax Li2O",
        "coexisting phase Li",
        "surface energy at coexistence",
    ]
    maker, _, phase_docs, element_phase = flow.jobs[-1].function_args
    assert maker.termination_index == 1 and maker.chemical_potentials_eV == {}
    assert list(phase_docs) == ["Li"] and element_phase == {"Li": "Li"}
    assert used == "Li2O(111) O-terminated: terminations 1:O-terminated, μ as in Li: Li"
