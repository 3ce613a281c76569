"""Schema test of the shipped reference set, and the validator catching bad rows."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from ssbflow.errors import InputError
from ssbflow.reproduce.reference import (
    CSV_COLUMNS,
    KNOWN_UNITS,
    QUANTITY_UNITS,
    ReferenceRow,
    default_reference_path,
    default_wanted_path,
    load_default_reference,
    load_reference_set,
    parse_chemical_potentials,
    parse_claim,
    parse_facet,
    parse_products_claim,
    select_rows,
)


def test_shipped_reference_set_schema():
    """Every shipped row: DOI present, unit known and right for its quantity, facets and
    claims parseable, provenance filled in, no duplicate ids or rows."""
    path = default_reference_path()
    with path.open(newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    rows = load_reference_set()
    assert len(rows) == len(raw) >= 10
    ids = [r.id for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert re.match(r"^10\.\d{4,9}/\S+$", row.doi), row.id
        assert row.unit in KNOWN_UNITS and row.unit == QUANTITY_UNITS[row.quantity], row.id
        assert row.read_at_url.startswith("http"), row.id
        assert row.verification in {"read in the source", "quoted by another work"}
        if row.verification == "quoted by another work":
            assert row.quoted_by, row.id
        assert len(row.original_text) > 20 and row.locator
        for member in row.members():
            assert member.metal
            if row.quantity != "surface_energy":
                assert member.electrolyte, row.id
        if row.kind == "ordering":
            assert row.value is None and len(row.parsed_claim.members) >= 2
        elif row.kind == "products":
            assert row.value is None and row.quantity == "interphase_products"
            assert parse_products_claim(row.claim)[1] == row.members()[0].electrolyte
        else:
            assert row.value is not None


def test_ordering_rows_trace_their_claim_to_the_text_read():
    """Every member of a published ranking appears in the text it was read from."""
    for row in load_reference_set():
        if row.kind != "ordering":
            continue
        text = row.original_text.replace(" ", "")
        for member in row.parsed_claim.members:
            for name in (member.metal, member.electrolyte):
                if name is None or name == "Li":
                    continue
                assert name in text or name in row.definition, (row.id, name)


def test_wanted_file_has_no_values_and_names_why():
    with default_wanted_path().open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and "value" not in rows[0]
    assert all(r["why_not_in_set"] for r in rows)
    shipped = {r.doi for r in load_reference_set()}
    assert shipped  # the wanted list and the set may share a paper (different findings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("111", (1, 1, 1)),
        ("(1 1 0)", (1, 1, 0)),
        ("1,0,0", (1, 0, 0)),
        ("-1,1,0", (-1, 1, 0)),
        ("-110", (-1, 1, 0)),
        ("10-10", (1, 0, 0)),
        ("", None),
        (None, None),
    ],
)
def test_parse_facet(text, expected):
    assert parse_facet(text) == expected


@pytest.mark.parametrize("bad", ["11", "1,2", "0,0,0", "1,1,-1,1", "abc", "1.5,0,0"])
def test_parse_facet_rejects(bad):
    with pytest.raises(ValueError):
        parse_facet(bad)


def test_parse_claim():
    claim = parse_claim("Li(100)/Li2O(111) > Li/Li3N > Li/Li3PO4")
    assert claim.direction == ">"
    assert [m.label for m in claim.members] == ["Li(100)/Li2O(111)", "Li/Li3N", "Li/Li3PO4"]
    assert claim.members[0].electrolyte_facet == (1, 1, 1)
    with pytest.raises(ValueError, match="one kind of comparison"):
        parse_claim("A > B < C")
    with pytest.raises(ValueError, match="repeats"):
        parse_claim("Cu(111) < Cu(111)")


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "ref.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in CSV_COLUMNS})
    return path


def _good_row(**overrides) -> dict:
    row = {
        "id": "T-1",
        "kind": "numeric",
        "quantity": "work_of_adhesion",
        "relaxation": "relaxed",
        "definition": "W_ad = (E_metal + E_el - E_interface)/A, relaxed",
        "metal": "Au",
        "metal_structure": "fcc",
        "metal_facet": "100",
        "electrolyte": "Ag",
        "electrolyte_facet": "100",
        "value": "1.0",
        "unit": "J/m^2",
        "level_of_theory": "synthetic test value",
        "authors": "Test Author",
        "year": "2020",
        "journal": "Test Journal",
        "doi": "10.1234/test",
        "locator": "Table 1",
        "read_at_url": "https://example.org/paper",
        "verification": "read in the source",
        "original_text": "W_ad is 1.0 J/m2 in the synthetic test",
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"doi": ""}, "DOI"),
        ({"unit": "eV"}, "unit 'eV' is unknown"),
        ({"unit": "deg"}, "is given in J/m^2"),
        ({"metal_facet": "1,1"}, "Miller index"),
        ({"value": ""}, "needs a value"),
        ({"verification": "quoted by another work"}, "quoted_by"),
        ({"kind": "ordering"}, "needs a claim"),
        ({"chemical_potentials": "Li=Li2O"}, "surface_energy rows only"),
        ({"quantity": "surface_energy", "chemical_potentials": "Li:Li2O"}, "'Element=Phase'"),
        ({"quantity": "surface_energy", "chemical_potentials": "Xx=Li2O"}, "'Element=Phase'"),
        ({"quantity": "surface_energy", "chemical_potentials": "Li=Li2O; Li=Li"}, "Li twice"),
        ({"quantity": "surface_energy", "metal": "", "electrolyte_facet": ""}, "needs its facet"),
    ],
)
def test_validator_rejects_bad_rows(tmp_path, override, message):
    path = _write(tmp_path, [_good_row(**override)])
    with pytest.raises(InputError, match=re.escape(message)):
        load_reference_set(path)


def test_validator_rejects_duplicates(tmp_path):
    path = _write(tmp_path, [_good_row(), _good_row()])
    with pytest.raises(InputError, match="duplicate id"):
        load_reference_set(path)
    path = _write(tmp_path, [_good_row(), _good_row(id="T-2")])
    with pytest.raises(InputError, match="duplicates row T-1"):
        load_reference_set(path)


def test_missing_columns_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,kind\nX,numeric\n")
    with pytest.raises(InputError, match="missing columns"):
        load_reference_set(path)


def test_select_rows():
    rows = load_reference_set()
    picked = select_rows(rows, [rows[2].id, rows[0].id])
    assert [r.id for r in picked] == [rows[0].id, rows[2].id]
    assert select_rows(rows, None) == rows
    with pytest.raises(InputError, match="unknown reference id"):
        select_rows(rows, ["NOPE"])


def test_stability_window_rows_for_llzo():
    """The LLZO window rows (issue 13): 0.05 V reduction, 2.91 V oxidation vs Li/Li+."""
    rows = {r.id: r for r in load_reference_set()}
    red, ox = rows["ZHM15-WIN-LLZO-RED"], rows["ZHM15-WIN-LLZO-OX"]
    assert (red.quantity, red.value, red.unit) == ("reduction_limit", 0.05, "V")
    assert (ox.quantity, ox.value, ox.unit) == ("oxidation_limit", 2.91, "V")
    assert red.electrolyte == ox.electrolyte == "LLZO" and red.metal == "Li"
    assert red.verification == "quoted by another work" and red.quoted_by


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Li/Li3PS4 -> Li2S + Li3P", ("Li", "Li3PS4", ("Li2S", "Li3P"))),
        ("Li/Li2O -> stable", ("Li", "Li2O", None)),
        (" Na / Na3PS4 ->Na2S+Na3P ", ("Na", "Na3PS4", ("Na2S", "Na3P"))),
    ],
)
def test_parse_products_claim(text, expected):
    assert parse_products_claim(text) == expected


@pytest.mark.parametrize("bad", ["Li3PS4 -> Li2S", "Li/Li3PS4", "Li/Li3PS4 -> ", "Li/X -> A + "])
def test_bad_products_claims(bad):
    with pytest.raises(ValueError, match="products claim"):
        parse_products_claim(bad)


def test_doi_required_except_for_project_values(tmp_path):
    path = _write(tmp_path, [_good_row(doi="", verification="computed by this project")])
    (row,) = load_reference_set(path)
    assert row.doi is None and row.is_project_value and row.provenance == "project value"
    assert "doi" not in row.source
    with pytest.raises(InputError, match="DOI is missing"):
        load_reference_set(_write(tmp_path, [_good_row(doi="")]))


def test_chemical_potentials_column_is_optional(tmp_path):
    """Files written before the column existed still load (every row blank)."""
    path = tmp_path / "old.csv"
    columns = [c for c in CSV_COLUMNS if c != "chemical_potentials"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerow({c: _good_row().get(c, "") for c in columns})
    (row,) = load_reference_set(path)
    assert row.chemical_potentials is None and row.chemical_potential_phases == {}


def test_parse_chemical_potentials():
    assert parse_chemical_potentials(" Li=Li2O; La = La2O3;Zr=Zr ") == {
        "Li": "Li2O",
        "La": "La2O3",
        "Zr": "Zr",
    }
    assert parse_chemical_potentials(None) == {}


def test_surface_row_on_an_electrolyte_is_that_material():
    row = ReferenceRow.model_validate(
        _good_row(
            quantity="surface_energy",
            metal="",
            metal_structure="",
            metal_facet="",
            electrolyte="LLZO",
            electrolyte_facet="010",
            electrolyte_termination="Li-terminated",
            chemical_potentials="Li=Li2O; La=La2O3; Zr=Zr",
        )
    )
    (member,) = row.members()
    assert (member.metal, member.metal_facet, member.electrolyte) == ("LLZO", (0, 1, 0), None)
    assert member.label == "LLZO(010)"


def test_llzo_surface_energy_rows():
    """Canepa et al. 2018 (shared/reference SE-01..03): tetragonal LLZO, reducing μ."""
    rows = {r.id: r for r in load_reference_set()}
    expected = {
        "CAN18-SE-010-LI": ((0, 1, 0), "Li-terminated", 0.87),
        "CAN18-SE-110-LA": ((1, 1, 0), "La-terminated", 0.98),
        "CAN18-SE-110-O": ((1, 1, 0), "O-terminated", 0.99),
    }
    for rid, (facet, termination, value) in expected.items():
        row = rows[rid]
        assert row.members()[0].metal == "LLZO" and row.members()[0].metal_facet == facet
        assert (row.electrolyte_termination, row.value, row.unit) == (termination, value, "J/m^2")
        assert row.chemical_potential_phases == {"Li": "Li2O", "La": "La2O3", "Zr": "Zr"}
        assert row.doi == "10.1021/acs.chemmater.8b00649" and not row.is_project_value


def test_project_values_live_in_their_own_file():
    published = load_default_reference(include_project=False)
    both = load_default_reference()
    assert not any(r.is_project_value for r in published)
    project = both[len(published) :]
    assert project and all(r.is_project_value for r in project)
    li = {r.id: r for r in project}["PRJ-GPAW-LI100"]
    assert (li.value, li.relaxation, li.metal, li.metal_facet) == (0.454, "ideal", "Li", "100")
    assert "GPAW" in li.level_of_theory and li.doi is None
    assert "benchmarks/results/dft.md" in li.locator


def test_a_project_value_in_the_published_file_is_refused(tmp_path, monkeypatch):
    import ssbflow.reproduce.reference as reference

    path = _write(tmp_path, [_good_row(doi="", verification="computed by this project")])
    monkeypatch.setattr(reference, "default_reference_path", lambda: path)
    with pytest.raises(InputError, match=re.escape("belongs in project_reference.csv")):
        load_default_reference()
