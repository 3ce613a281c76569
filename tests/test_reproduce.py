"""The reproduce machinery: statistics, ordering checks, report, CLI, and an EMT end-to-end run."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssbflow.analysis.parity import evaluate_ordering, parity_statistics, relative_differences
from ssbflow.reference import CSV_COLUMNS, load_reference_set
from ssbflow.reproduce import ReproduceOptions, TaskResult, assemble, build_tasks, write_report

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
    assert [e["id"] for e in data["entries"]] == [r.id for r in rows]
    for entry in data["entries"]:
        assert {"id", "published", "unit", "doi", "source", "level_of_theory"} <= set(entry)


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
    from ssbflow.store import get_jobstore

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
