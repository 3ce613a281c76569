"""The seams shared by the CLI commands: `run_command_flow` and the one Miller parser."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from jobflow import Flow, job

from ssbflow.commands._common import RunMode, run_command_flow
from ssbflow.commands._common import parse_miller as cli_parse_miller
from ssbflow.errors import InputError
from ssbflow.execution.store import load_output
from ssbflow.structures.slabs import check_miller, parse_miller


@job
def _energy_per_atom(energy_eV: float, n_atoms: int) -> float:
    return energy_eV / n_atoms


@job
def _summary(energy_per_atom_eV: float) -> dict:
    return {"result_type": "test", "status": "successful", "energy_eV_per_atom": energy_per_atom_eV}


@job
def _explode(energy_eV: float) -> float:
    raise RuntimeError(f"calculator exploded at {energy_eV} eV")


def _flow() -> tuple[Flow, str]:
    per_atom = _energy_per_atom(-12.0, 4)
    summary = _summary(per_atom.output)
    return Flow([per_atom, summary]), summary.uuid


# -- run_command_flow ---------------------------------------------------------------------


def test_local_run_returns_the_summary(settings):
    flow, uuid = _flow()
    outcome = run_command_flow(None, flow, settings, [uuid], progress=False)
    assert outcome is not None and outcome.failure is None
    assert outcome.uuid == uuid
    assert outcome.document["energy_eV_per_atom"] == pytest.approx(-3.0)
    assert load_output(settings, uuid)["energy_eV_per_atom"] == pytest.approx(-3.0)


def test_summary_uuids_are_tried_in_order(settings):
    flow, uuid = _flow()
    never_ran = _summary(0.0)  # not part of the flow: stores nothing
    outcome = run_command_flow(None, flow, settings, [never_ran.uuid, uuid], progress=False)
    assert outcome.uuid == uuid and outcome.document["energy_eV_per_atom"] == pytest.approx(-3.0)


def test_failing_flow_gives_failure_and_reason(settings):
    bad = _explode(-1.5)
    summary = _summary(bad.output)
    outcome = run_command_flow(None, Flow([bad, summary]), settings, [summary.uuid], progress=False)
    assert outcome is not None
    assert outcome.document is None and outcome.uuid is None
    assert outcome.failure is not None
    assert "calculator exploded at -1.5 eV" in outcome.reason


def test_no_summary_without_failure_is_said(settings):
    flow, _ = _flow()
    outcome = run_command_flow(None, flow, settings, ["not-a-job-uuid"], progress=False)
    assert outcome.failure is None and outcome.document is None
    assert outcome.reason == "the summary was not produced"


def test_submit_mode_returns_none_and_runs_nothing(settings, capsys):
    flow, uuid = _flow()
    # what `ssbflow submit --dry-run ... --json` puts on the click context
    ctx = SimpleNamespace(obj=RunMode(submit=True, dry_run=True, as_json=True))
    assert run_command_flow(ctx, flow, settings, [uuid], progress=False) is None
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] is True
    assert len(printed["jobs"]) == 2
    assert load_output(settings, uuid) is None  # nothing ran, nothing stored


# -- the one Miller parser -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,0,0", (1, 0, 0)),
        ("100", (1, 0, 0)),
        ("(1 1 0)", (1, 1, 0)),
        ("[1, 1, 1]", (1, 1, 1)),
        ("-1,1,0", (-1, 1, 0)),
        ("-110", (-1, 1, 0)),
        ("2 1 1", (2, 1, 1)),
        ("1 1,0", (1, 1, 0)),
        ((1, 1, 0), (1, 1, 0)),
        ([0, 0, 1], (0, 0, 1)),
        ((1.0, 0.0, 0.0), (1, 0, 0)),
    ],
)
def test_parse_miller_forms(value, expected):
    parsed = parse_miller(value, "metal_miller")
    assert parsed == expected
    assert all(type(v) is int for v in parsed)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("11", "has 2 components"),
        ("1,2", "has 2 components"),
        ("1,0,0,1", "has 4 components"),
        ("0,0,0", "cannot be 0,0,0"),
        ("abc", "is not a Miller index"),
        ("1.5,0,0", "is not a Miller index"),
        ("", "is not a Miller index"),
        ((1, 0), "has 2 components"),
        ((0, 0, 0), "cannot be (0, 0, 0)"),
        ((1.5, 0, 0), "is not a Miller index"),
    ],
)
def test_parse_miller_refuses_with_the_field(value, needle):
    with pytest.raises(InputError, match=re.escape(needle)) as info:
        parse_miller(value, "electrolyte_miller")
    assert info.value.field == "electrolyte_miller"
    assert str(info.value).startswith("electrolyte miller")
    assert "--" not in str(info.value)


def test_parse_miller_bravais():
    assert parse_miller("10-10", "facet", bravais=True) == (1, 0, 0)
    assert parse_miller((1, 1, -2, 0), "facet", bravais=True) == (1, 1, 0)
    with pytest.raises(InputError, match="i = -\\(h\\+k\\)"):
        parse_miller("1,1,-1,1", "facet", bravais=True)
    with pytest.raises(InputError, match="has 4 components"):
        parse_miller("10-10", "facet")  # four indices only when asked for


def test_cli_wrapper_names_the_flag():
    assert cli_parse_miller("1 1 1", "--metal-miller") == (1, 1, 1)
    with pytest.raises(InputError) as info:
        cli_parse_miller("1,0", "--metal-miller")
    assert str(info.value) == (
        "--metal-miller '1,0' has 2 components; a Miller index has 3, e.g. 1,0,0"
    )
    assert info.value.field == "metal_miller"


def test_check_miller_is_the_same_parser():
    assert check_miller((2, 1, 0)) == (2, 1, 0)
    with pytest.raises(InputError, match="metal Miller index \\(1, 0\\) has 2 components") as info:
        check_miller((1, 0), "metal Miller index", field="metal_miller")
    assert info.value.field == "metal_miller"


def test_cli_miller_error_is_one_line_naming_the_flag(run_cli):
    code, out, err = run_cli("adhesion", "Li", "Li2O", "--metal-miller", "1,0", "--json")
    assert code == 2
    error = json.loads(out)
    assert error["error"].startswith("--metal-miller '1,0' has 2 components")
    assert err.strip().count("\n") == 0
