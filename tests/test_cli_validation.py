"""Bad input is refused before any work (issue 10): one line, exit 2, nothing stored.

`BAD_INPUTS` is the table of hostile inputs tried against every command. Each must give
exit code 2, exactly one line on stderr (``ssbflow: error: ...``) with no traceback, an
unchanged data folder (nothing half-made in the store or the LaunchPad) and, under
``--json``, exactly one JSON error object ``{"error", "exit_code", "field"?}`` on stdout.
All are rejected before a calculation starts, so the table runs in seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT as EMTBase
from pymatgen.core import Lattice, Structure

from ssbflow import validation
from ssbflow.errors import InputError

SECRET = "s3cret-Pa55word"

EMT = ["--calculator", "emt"]
DIFF = ["cu.cif", "--species", "Cu", *EMT, "--temperatures", "600 800"]
TRAJ = ["t1.xyz", "t2.xyz", "--species", "Cu", "--temperatures", "600 800"]
ADH = [
    "Cu",
    "Cu2O.cif",
    "--metal-miller",
    "1,1,1",
    "--electrolyte-miller",
    "1,1,1",
    *EMT,
]

#: (id, command line, environment, text the message must hold, field of the error).
#: ``{tmp}`` in an argument or value is the test's folder.
BAD_INPUTS: list[tuple[str, list[str], dict[str, str], str, str | None]] = [
    # 1. output location checked before any work
    ("phonons-output-file", ["phonons", "cu.cif", *EMT, "--output", "afile"], {}, "is a file", "--output"),
    ("phonons-output-under-file", ["phonons", "cu.cif", *EMT, "--output", "afile/sub"], {}, "afile is a file", "--output"),
    ("phonons-output-long-name", ["phonons", "cu.cif", *EMT, "--output", "x" * 300], {}, "above the file-system limit of 255", "--output"),
    ("diffusion-output-file", ["diffusion", *DIFF, "--output", "afile"], {}, "is a file", "--output"),
    ("diffusion-output-long-name", ["diffusion", *DIFF, "--output", "y" * 256], {}, "limit of 255", "--output"),
    ("analyze-output-file", ["diffusion-analyze", *TRAJ, "--output", "afile"], {}, "is a file", "--output"),
    ("adhesion-output-file", ["adhesion", *ADH, "--output", "afile"], {}, "is a file", "--output"),
    ("results-show-output-file", ["results", "show", "abcd", "--output", "afile"], {}, "is a file", "--output"),
    # 2. unusable data folder, for every command
    ("datadir-file-results", ["results"], {"SSBFLOW_DATA_DIR": "afile"}, "is a file", "--data-dir"),
    ("datadir-file-status", ["status"], {"SSBFLOW_DATA_DIR": "afile"}, "is a file", "--data-dir"),
    ("datadir-under-file", ["results"], {"SSBFLOW_DATA_DIR": "afile/sub"}, "cannot be created", "--data-dir"),
    ("datadir-corrupt-results", ["results"], {"SSBFLOW_DATA_DIR": "corrupt"}, "corrupt", "--data-dir"),
    ("datadir-corrupt-status", ["status"], {"SSBFLOW_DATA_DIR": "corrupt"}, "corrupt", "--data-dir"),
    ("datadir-corrupt-phonons", ["phonons", "cu.cif", *EMT], {"SSBFLOW_DATA_DIR": "corrupt"}, "corrupt", "--data-dir"),
    ("datadir-corrupt-show", ["results", "show", "abcd"], {"SSBFLOW_DATA_DIR": "corrupt"}, "corrupt", "--data-dir"),
    ("datadir-option-file", ["phonons", "cu.cif", *EMT, "--data-dir", "afile"], {}, "is a file", "--data-dir"),
    ("datadir-file-worker", ["worker"], {"SSBFLOW_DATA_DIR": "afile"}, "is a file", "--data-dir"),
    # 3. --lost-after must be positive and finite
    ("lost-after-negative", ["status", "--lost-after", "-5"], {}, "positive", "--lost-after"),
    ("lost-after-zero", ["status", "--lost-after", "0"], {}, "positive", "--lost-after"),
    ("lost-after-nan", ["status", "--lost-after", "nan"], {}, "finite", "--lost-after"),
    ("rerun-lost-after-zero", ["rerun", "1", "--lost-after", "0"], {}, "positive", "--lost-after"),
    ("rerun-lost-after-inf", ["rerun", "1", "--lost-after", "inf"], {}, "finite", "--lost-after"),
    # 4. NaN and absurd numbers
    ("min-msd-nan", ["diffusion", *DIFF, "--min-msd", "nan"], {}, "finite", "--min-msd"),
    ("temperature-1e9", ["diffusion", "cu.cif", "--species", "Cu", *EMT, "--temperatures", "600 1e9"], {}, "above the limit of 10000 K", "--temperatures"),
    ("equilibration-nan", ["diffusion", *DIFF, "--equilibration-ps", "nan"], {}, "finite", "--equilibration-ps"),
    ("ion-charge-0", ["diffusion", *DIFF, "--ion-charge", "0"], {}, "non-zero", "--ion-charge"),
    ("seed-negative", ["diffusion", *DIFF, "--seed", "-1"], {}, "[0, 4294967295]", "--seed"),
    ("seed-huge", ["diffusion", *DIFF, "--seed", "99999999999999"], {}, "[0, 4294967295]", "--seed"),
    ("timestep-inf", ["diffusion", *DIFF, "--timestep-fs", "inf"], {}, "finite", "--timestep-fs"),
    ("analyze-min-msd-nan", ["diffusion-analyze", *TRAJ, "--min-msd", "nan"], {}, "finite", "--min-msd"),
    ("analyze-ion-charge-0", ["diffusion-analyze", *TRAJ, "--ion-charge", "0"], {}, "non-zero", "--ion-charge"),
    ("analyze-temperature-1e9", ["diffusion-analyze", "t1.xyz", "t2.xyz", "--species", "Cu", "--temperatures", "600 1e9"], {}, "10000 K", "--temperatures"),
    ("phonons-supercell-nan", ["phonons", "cu.cif", *EMT, "--supercell-min-length", "nan"], {}, "finite", "--supercell-min-length"),
    ("adhesion-max-strain-nan", ["adhesion", *ADH, "--max-strain", "nan"], {}, "finite", "--max-strain"),
    # a library limit (field max_area_A2 / max_atoms) is named by its flag
    ("adhesion-max-area-no-match", ["adhesion", "Li", "Li2O", "--calculator", "lj", "--max-area", "3"], {}, "raise --max-area to at least", "--max-area"),
    ("stability-max-atoms", ["stability", "Li", "Li2O", "--calculator", "lj", "--max-atoms", "1"], {}, "more than --max-atoms=1; raise --max-atoms", "--max-atoms"),
    # DFT refinement options (issue 12), refused before the ML study starts
    ("adhesion-refine-unknown", ["adhesion", *ADH, "--refine", "castep"], {}, "unknown refinement 'castep'; valid forms: gpaw, gpaw:fast", "--refine"),
    ("adhesion-refine-bad-preset", ["adhesion", *ADH, "--refine", "gpaw:ultra"], {}, "unknown GPAW preset 'ultra'", "--refine"),
    ("submit-adhesion-refine-unknown", ["submit", "adhesion", *ADH, "--refine", "vasp-gpu"], {}, "unknown refinement 'vasp-gpu'", "--refine"),
    ("adhesion-refine-top-alone", ["adhesion", *ADH, "--refine-top", "1"], {}, "--refine-top needs --refine", "--refine-top"),
    ("adhesion-refine-relax-alone", ["adhesion", *ADH, "--refine-relax"], {}, "--refine-relax needs --refine", "--refine-relax"),
    ("adhesion-refine-top-above-n-relax", ["adhesion", *ADH, "--refine", "gpaw", "--refine-top", "3"], {}, "--refine-top 3 is more than --n-relax 2", "--refine-top"),
    # 5. calculators that are not ASE calculators, refused up front (also in submit)
    ("calculator-not-ase", ["phonons", "cu.cif", "--calculator", "collections:OrderedDict"], {}, "not an ASE calculator", "--calculator"),
    ("submit-calculator-not-ase", ["submit", "phonons", "cu.cif", "--calculator", "collections:OrderedDict"], {}, "not an ASE calculator", "--calculator"),
    ("calculator-function", ["phonons", "cu.cif", "--calculator", "os.path:join"], {}, "not an ASE calculator", "--calculator"),
    # 6. size limits named
    ("diffusion-supercell-100", ["diffusion", *DIFF, "--supercell-min-length", "100"], {}, "above the limit of 2000 atoms", "--supercell-min-length"),
    ("phonons-supercell-45", ["phonons", "cu.cif", *EMT, "--supercell-min-length", "45"], {}, "above the limit of 1000; lower --supercell-min-length", "--supercell-min-length"),
    # 7. LaunchPad and configuration errors
    ("launchpad-empty", ["status", "--launchpad", "empty.yaml"], {}, "has no 'host'", "--launchpad"),
    ("launchpad-no-host", ["status", "--launchpad", "nohost.yaml"], {}, "has no 'host'", "--launchpad"),
    ("launchpad-mysql", ["status", "--launchpad", "mysql.yaml"], {}, "not a MongoDB address", "--launchpad"),
    ("launchpad-bad-kwargs", ["status", "--launchpad", "badkw.yaml"], {}, "bogus_kw", "--launchpad"),
    ("launchpad-bad-port", ["status", "--launchpad", "badport.yaml"], {}, "Port", "--launchpad"),
    ("launchpad-uri-no-host", ["rerun", "1", "--launchpad", "nohosturi.yaml"], {}, "host", "--launchpad"),
    ("fworker-malformed", ["worker", "--fworker", "badfworker.yaml"], {}, "cannot read the worker file", "--fworker"),
    ("fworker-list", ["worker", "--fworker", "listfworker.yaml"], {}, "cannot read the worker file", "--fworker"),
    ("worker-work-dir-file", ["worker", "--work-dir", "afile"], {}, "is a file", "--work-dir"),
    ("config-file-missing", ["results"], {"SSBFLOW_CONFIG_FILE": "{tmp}/missing.yaml"}, "does not exist", "config_file"),
    ("config-file-list", ["status"], {"SSBFLOW_CONFIG_FILE": "{tmp}/listfworker.yaml"}, "YAML mapping", "config_file"),
    # 8. physically absurd structures
    ("phonons-atoms-0.1-apart", ["phonons", "cu_close.cif", *EMT], {}, "0.100 Å apart", "structure"),
    ("diffusion-atoms-0.1-apart", ["diffusion", "cu_close.cif", "--species", "Cu", *EMT, "--temperatures", "600 800"], {}, "atoms 0 (Cu) and 1 (Cu)", "structure"),
    # 9. calculator keyword arguments are not ignored
    ("emt-unknown-kwarg", ["phonons", "cu.cif", *EMT, "--calculator-kwargs", '{"nope": 1}'], {}, "does not take 'nope'", "--calculator-kwargs"),
    ("lj-unknown-kwarg", ["phonons", "cu.cif", "--calculator", "lj", "--calculator-kwargs", '{"sigmaa": 2}'], {}, "does not take 'sigmaa'", "--calculator-kwargs"),
    ("diffusion-unknown-kwarg", ["diffusion", *DIFF, "--calculator-kwargs", '{"nope": 1}'], {}, "does not take", "--calculator-kwargs"),
    # an ML calculator whose constructor takes **kwargs: checked against its known names
    ("chgnet-unknown-kwarg", ["phonons", "cu.cif", "--calculator", "chgnet", "--calculator-kwargs", '{"use_devic": "cpu"}'], {}, "does not take 'use_devic'", "--calculator-kwargs"),
    # 10. trajectories of different systems are not fitted together
    ("analyze-mixed-systems", ["diffusion-analyze", "t1.xyz", "t_small.xyz", "--species", "Cu", "--temperatures", "600 800"], {}, "one system", "trajectories"),
    # 11. an unreachable store is named as a store problem, password masked
    ("mongo-unreachable-phonons", ["phonons", "cu.cif", *EMT], {"SSBFLOW_MONGODB_URI": f"mongodb://alice:{SECRET}@127.0.0.1:9/?serverSelectionTimeoutMS=200"}, "cannot open the results store MongoDB mongodb://***@127.0.0.1:9", "store"),
    ("mongo-bad-port", ["results"], {"SSBFLOW_MONGODB_URI": f"mongodb://alice:{SECRET}@127.0.0.1:99999"}, "cannot open the results store", "store"),
    # 12. --json contract on usage errors
    ("submit-no-arguments", ["submit"], {}, "give a workflow to submit", "workflow"),
    ("unknown-option", ["phases", "--bogus"], {}, "No such option", None),
    ("json-and-csv", ["results", "--csv", "--json"], {}, "exclude each other", None),
]  # fmt: skip


def _cu(a: float = 3.6) -> Structure:
    return Structure(
        Lattice.cubic(a), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )


def _write_trajectory(path: Path, n_cells: int, seed: int) -> None:
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    rng = np.random.default_rng(seed)
    atoms = AseAtomsAdaptor.get_atoms(_cu() * (n_cells, 1, 1))
    frames = []
    for i in range(6):
        frame = atoms.copy()
        frame.positions += rng.normal(0, 0.1, frame.positions.shape)
        frame.info["time_fs"] = 100.0 * i
        frames.append(frame)
    write(str(path), frames, format="extxyz")


@pytest.fixture
def bad_files(tmp_path: Path) -> Path:
    """Input files of the table, in the test's working folder."""
    _cu().to(filename=str(tmp_path / "cu.cif"))
    close = _cu()
    close.replace(1, "Cu", coords=[0.1 / 3.6, 0, 0])
    close.to(filename=str(tmp_path / "cu_close.cif"))
    Structure(Lattice.cubic(4.27), ["Cu", "Cu", "O"], [[0.25] * 3, [0.75] * 3, [0, 0, 0]]).to(
        filename=str(tmp_path / "Cu2O.cif")
    )
    (tmp_path / "afile").write_text("not a folder\n")
    corrupt = tmp_path / "corrupt" / "results"
    corrupt.mkdir(parents=True)
    (corrupt / "ssbflow.sqlite").write_bytes(b"this is not an SQLite database " * 10)
    files = {
        "empty.yaml": "",
        "nohost.yaml": "name: fw\nport: 27017\n",
        "mysql.yaml": f"host: mysql://u:{SECRET}@h/db\n",
        "badkw.yaml": "host: localhost\nmongoclient_kwargs:\n  bogus_kw: 1\n",
        "badport.yaml": f"host: mongodb://u:{SECRET}@localhost:99999/x\nuri_mode: true\n",
        "nohosturi.yaml": "host: mongodb:///x\nuri_mode: true\n",
        "badfworker.yaml": "name: [unclosed\n",
        "listfworker.yaml": "- a\n- b\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    _write_trajectory(tmp_path / "t1.xyz", 2, seed=1)
    _write_trajectory(tmp_path / "t2.xyz", 2, seed=2)
    _write_trajectory(tmp_path / "t_small.xyz", 1, seed=3)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (the store, the LaunchPad)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("case", "args", "env", "message", "field"), BAD_INPUTS)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_bad_input_is_refused_cleanly(
    case, args, env, message, field, as_json, bad_files, isolated_ssbflow, run_cli, monkeypatch
):
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(tmp=bad_files))
    watched = [isolated_ssbflow, bad_files / "corrupt"]
    before = [_snapshot(d) for d in watched]
    code, out, err = run_cli(*args, *(["--json"] if as_json else []))
    as_json = as_json or "--json" in args
    assert code == 2, (case, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ssbflow: error: "), (case, err)
    assert message in lines[0], (case, lines[0])
    assert SECRET not in out + err
    assert [_snapshot(d) for d in watched] == before, f"{case}: the data folder changed"
    if as_json:
        assert out.count("\n") == 1, (case, out)
        error = json.loads(out)
        assert error["exit_code"] == 2
        assert error["error"] == lines[0].removeprefix("ssbflow: error: ")
        assert error.get("field") == field
    else:
        assert out == ""


def test_the_table_covers_the_twelve_classes():
    """At least 40 distinct bad inputs (the issue's ~40 failing ones and more)."""
    assert len({case for case, *_ in BAD_INPUTS}) == len(BAD_INPUTS) >= 40


def _commands() -> dict:
    import typer

    from ssbflow.cli import _register_commands, app

    _register_commands()
    return typer.main.get_command(app).commands


def test_every_mapped_flag_is_an_option_of_its_command():
    from ssbflow.cli import COMMAND_FIELD_FLAGS, FIELD_FLAGS

    commands = _commands()
    every = set()
    for command in commands.values():
        for sub in [command, *(getattr(command, "commands", None) or {}).values()]:
            every |= {o for p in sub.params for o in p.opts}
    assert set(FIELD_FLAGS.values()) <= every
    for name, table in COMMAND_FIELD_FLAGS.items():
        options = {o for p in commands[name].params for o in p.opts}
        assert set(table.values()) <= options, name
        # a field that is already a parameter maps by itself; the table only holds the rest
        assert not set(table) & {p.name for p in commands[name].params}, name


def test_a_field_maps_to_the_flag_of_the_command_being_run():
    from ssbflow.cli import _flag_of, _with_flag

    commands = _commands()
    assert _flag_of(commands["adhesion"], "max_area_A2") == "--max-area"
    assert _flag_of(commands["adhesion"], "max_atoms") == "--max-atoms"  # its own parameter
    assert _flag_of(commands["surface"], "max_area_A2") is None  # no such option there
    assert _flag_of(commands["surface"], "vacuum_A") == "--vacuum"
    assert _flag_of(commands["diffusion-analyze"], "temperatures_K") == "--temperatures"
    assert _flag_of(commands["phonons"], "calculator_name") == "--calculator"  # shared table
    assert _flag_of(commands["stability"], "metal") is None  # an argument, not an option
    error = _with_flag(
        InputError("max_area_A2 = 5 finds no match; raise max_area_A2 to 60", field="max_area_A2"),
        commands["adhesion"],
    )
    assert str(error) == "--max-area = 5 finds no match; raise --max-area to 60"
    assert error.field == "--max-area"
    plain = _with_flag(
        InputError("output: x is a file; the output ...", "output"), commands["phonons"]
    )
    assert str(plain) == "--output: x is a file; the output ..."  # a plain word: first only


# --------------------------------------------------------------------------------------
# The --json contract on success
# --------------------------------------------------------------------------------------


def test_phases_and_submit_print_one_json_object(bad_files, run_cli):
    code, out, _ = run_cli("phases", "--json")
    assert code == 0 and {"Li", "Li2O"} <= {p["name"] for p in json.loads(out)["phases"]}

    code, out, err = run_cli("submit", "phonons", "cu.cif", *EMT, "--dry-run", "--json")
    assert code == 0, err
    dry = json.loads(out)
    assert dry["dry_run"] is True and any("summary" in j["name"] for j in dry["jobs"])

    code, out, err = run_cli("submit", "phonons", "cu.cif", *EMT, "--json")
    assert code == 0, err
    assert out.count("\n") == 1
    submitted = json.loads(out)
    assert isinstance(submitted["workflow_id"], int) and submitted["workflow_id"] >= 1
    code, out, _ = run_cli("status", "--json")
    assert [w["id"] for w in json.loads(out)["workflows"]] == [submitted["workflow_id"]]


def test_submit_help_still_exits_0(run_cli):
    code, out, _ = run_cli("submit", "--help")
    assert code == 0 and "Usage: ssbflow submit WORKFLOW" in out


def test_unexpected_errors_are_one_line(monkeypatch, run_cli):
    """A bug below the CLI gives one line naming the error, exit 1, and a JSON object."""
    import ssbflow.structures.library as library

    def boom(*_args, **_kwargs):
        raise ZeroDivisionError("synthetic bug")

    monkeypatch.setattr(library, "list_phases", boom)
    code, out, err = run_cli("phases", "--json")
    assert code == 1
    assert err.strip().splitlines() == [
        "ssbflow: error: ZeroDivisionError: synthetic bug (unexpected; set SSBFLOW_DEBUG=1 "
        "for the traceback)"
    ]
    assert json.loads(out)["exit_code"] == 1


def test_interrupt_says_what_was_kept(monkeypatch, run_cli):
    import ssbflow.structures.library as library

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(library, "list_phases", interrupted)
    code, _out, err = run_cli("phases")
    assert code == 130
    (line,) = err.strip().splitlines()
    assert "interrupted" in line and "kept in the results store" in line


# --------------------------------------------------------------------------------------
# The library checks themselves
# --------------------------------------------------------------------------------------


def test_min_distance_names_pair_and_distance():
    s = _cu()
    assert validation.check_min_distance(s) is None  # nearest pair 2.55 Å: nothing close
    s.replace(2, "Cu", coords=[0.5 + 0.2 / 3.6, 0.5, 0])  # 0.2 Å from atom 1
    with pytest.raises(InputError) as info:
        validation.check_min_distance(s)
    assert "atoms 1 (Cu) and 2 (Cu) are 0.200 Å apart" in str(info.value)
    assert info.value.field == "structure"
    # across the periodic boundary too: 0.05 Å from the image of atom 0
    t = _cu()
    t.replace(3, "Cu", coords=[1 - 0.05 / 3.6, 0, 0])
    with pytest.raises(InputError, match=r"0\.050 Å apart"):
        validation.check_min_distance(t)


def test_supercell_size_counts_the_diagonal_supercell():
    cu = _cu()  # 4 atoms, 3.6 Å cube
    assert validation.supercell_repeats(cu.lattice.matrix, 10.0) == (3, 3, 3)
    assert validation.check_supercell_size(cu, 10.0) == 4 * 27
    with pytest.raises(InputError, match="above the limit of 2000 atoms") as info:
        validation.check_supercell_size(cu, 100.0)
    assert "87808 atoms (28x28x28 cells)" in str(info.value)  # ceil(100/3.6) = 28


def test_calculator_kwargs_checked_against_the_constructor():
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    validation.check_calculator_kwargs(LennardJones, {"sigma": 2.0, "rc": 6.0}, "lj")
    validation.check_calculator_kwargs(EMT, {"asap_cutoff": True}, "emt")
    with pytest.raises(InputError, match="does not take 'nope'") as info:
        validation.check_calculator_kwargs(EMT, {"nope": 1}, "emt")
    assert info.value.field == "calculator_kwargs"
    assert "label" in validation.calculator_parameter_names(EMT)  # Calculator.__init__


def test_numbers():
    assert validation.check_seed(2**32 - 1) == 2**32 - 1
    for bad in (-1, 2**32, 1.5):
        with pytest.raises(InputError):
            validation.check_seed(bad)
    assert validation.check_temperature(10000.0) == 10000.0
    with pytest.raises(InputError, match="10000 K"):
        validation.check_temperature(10000.1)
    with pytest.raises(InputError, match="distinct"):
        validation.check_temperatures([600, 800, 600])
    assert validation.check_positive(0.0, "x", allow_zero=True) == 0.0
    with pytest.raises(InputError, match="finite"):
        validation.check_positive(float("nan"), "x")
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        validation.check_range(1.0, "x", 0.0, 1.0, low_inclusive=False, high_inclusive=False)


def test_same_system_accepts_reordered_atoms():
    validation.check_same_system([("a", ["Li", "S", "Li"]), ("b", ["Li", "Li", "S"])])
    with pytest.raises(InputError, match="b holds 2 atoms"):
        validation.check_same_system([("a", ["Li", "S", "Li"]), ("b", ["Li", "S"])])


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write read-only folders"
)
def test_read_only_data_dir_is_refused(tmp_path, run_cli, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("SSBFLOW_DATA_DIR", str(folder))
    try:
        code, out, err = run_cli("results", "--json")
    finally:
        folder.chmod(0o700)
    assert code == 2 and "cannot write in" in err
    assert json.loads(out)["field"] == "--data-dir"


def test_output_dir_is_not_created_by_the_check(tmp_path):
    target = tmp_path / "new" / "deeper"
    assert validation.check_output_dir(target) == target
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == [] or all(
        not p.name.startswith(".ssbflow-probe") for p in tmp_path.iterdir()
    )


# --------------------------------------------------------------------------------------
# Failures are stored as failed, and --json prints the failed summary
# --------------------------------------------------------------------------------------


class ExplodingEMT(EMTBase):
    """EMT whose every evaluation raises: an MD that fails at its first step."""

    def calculate(self, *args, **kwargs):
        raise RuntimeError("synthetic calculator failure")


def _stored(jobstore, result_type: str) -> list[dict]:
    return [
        d["output"]
        for d in jobstore.query({"output.result_type": result_type}, load=False)
        if isinstance(d.get("output"), dict)
    ]


def test_md_that_raises_is_stored_failed(bad_files, run_cli, jobstore, monkeypatch):
    tests_dir = str(Path(__file__).resolve().parent)
    monkeypatch.syspath_prepend(tests_dir)
    monkeypatch.setenv("PYTHONPATH", tests_dir)  # MD may run in a worker process
    code, out, err = run_cli(
        "diffusion", "cu.cif", "--species", "Cu", "--calculator",
        "test_cli_validation:ExplodingEMT", "--no-relax", "--duration-ps", "0.6",
        "--equilibration-ps", "0", "--timestep-fs", "2", "--supercell-min-length", "5",
        "--parallel", "1", "--output", "dout", "--json", "--temperatures", "600 800",
    )  # fmt: skip
    assert code == 1, err
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["status"] == "failed"
    assert set(doc["excluded_temperatures"]) == {"600", "800"}
    assert "synthetic calculator failure" in doc["failure_reason"]
    assert doc["activation_energy_eV"] is None and doc["diffusivity_cm2_per_s"] == {}
    (stored,) = _stored(jobstore, "diffusion")
    assert stored["status"] == "failed" and "MD job failed" in stored["failure_reason"]


def test_auto_ladder_md_that_raises_is_stored_failed(bad_files, run_cli, jobstore, monkeypatch):
    """--temperatures auto: the first rung's MD raises; a failed summary is still stored."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    code, out, err = run_cli(
        "diffusion", "cu.cif", "--species", "Cu", "--calculator",
        "test_cli_validation:ExplodingEMT", "--no-relax", "--equilibration-ps", "0",
        "--timestep-fs", "2", "--supercell-min-length", "5", "--chunk-ps", "0.2",
        "--max-duration-ps", "1", "--fit-start-ps", "0.1", "--auto-start", "900",
        "--output", "dout", "--json", "--temperatures", "auto", "--target-precision", "0.2",
    )  # fmt: skip
    assert code == 1, err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("ssbflow: error:")]
    assert "900 K" in line and "synthetic calculator failure" in line
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["status"] == "failed" and doc["ladder"] == "auto"
    assert set(doc["excluded_temperatures"]) == {"900"}
    assert "900 K" in doc["failure_reason"]
    assert "synthetic calculator failure" in doc["failure_reason"]
    assert doc["activation_energy_eV"] is None and doc["diffusivity_cm2_per_s"] == {}
    (stored,) = _stored(jobstore, "diffusion")
    assert stored["status"] == "failed" and stored["ladder"] == "auto"
    assert "900 K" in stored["failure_reason"]
    assert "synthetic calculator failure" in stored["failure_reason"]


def test_side_by_side_md_that_raises_is_one_line(bad_files, jobstore, monkeypatch, capfd):
    """Temperatures side by side (one process each): the workers' errors come back as one
    line per temperature, no traceback, and the failed summary names them."""
    from ssbflow.cli import main

    tests_dir = str(Path(__file__).resolve().parent)
    monkeypatch.syspath_prepend(tests_dir)
    monkeypatch.setenv("PYTHONPATH", tests_dir)  # the workers import the calculator
    code = main(
        [
            "diffusion", "cu.cif", "--species", "Cu", "--calculator",
            "test_cli_validation:ExplodingEMT", "--no-relax", "--duration-ps", "0.6",
            "--equilibration-ps", "0", "--timestep-fs", "2", "--supercell-min-length", "5",
            "--parallel", "2", "--output", "dout", "--json", "--temperatures", "600 800",
        ]
    )  # fmt: skip
    out, err = capfd.readouterr()
    assert code == 1, err
    assert "Traceback" not in err
    assert sum("synthetic calculator failure" in x for x in err.splitlines()) <= 2, err
    doc = json.loads(out)
    assert doc["status"] == "failed"
    assert set(doc["excluded_temperatures"]) == {"600", "800"}
    for key in ("600", "800"):
        assert "synthetic calculator failure" in doc["excluded_temperatures"][key]
    (stored,) = _stored(jobstore, "diffusion")
    assert stored["status"] == "failed"
    reason = stored["failure_reason"]
    assert "600 K: MD failed: RuntimeError: synthetic calculator failure" in reason


def test_molecule_phonons_are_stored_failed(run_cli, jobstore, tmp_path):
    """N2 in a box has no phonon DOS: a failed summary is stored and printed under --json."""
    from pymatgen.core import Molecule

    n2 = Molecule(["N", "N"], [[0, 0, 0], [1.1, 0, 0]]).get_boxed_structure(8, 8, 8)
    n2.to(filename=str(tmp_path / "n2.cif"))
    code, out, err = run_cli("phonons", "n2.cif", *EMT, "--json")
    assert code == 1
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["status"] == "failed" and doc["formula"] == "N2"
    assert "no real vibrational modes" in doc["failure_reason"]
    assert doc["debye_temperature_K"] is None and doc["n_imaginary_modes"] is None
    assert doc["dynamically_stable"] is None
    assert err.strip().splitlines()[-1].startswith("ssbflow: error: phonon analysis failed")
    (stored,) = _stored(jobstore, "phonons")
    assert stored["status"] == "failed" and stored["formula"] == "N2"
    code, out, _ = run_cli("results", "--json")
    (row,) = json.loads(out)["results"]
    assert row["status"] == "failed" and row["uuid"] == doc["uuid"]


def test_phonons_whose_relaxation_raises_are_stored_failed(
    bad_files, run_cli, jobstore, monkeypatch
):
    """The summary job runs with its inputs missing and stores a failed document."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    code, out, err = run_cli(
        "phonons", "cu.cif", "--calculator", "test_cli_validation:ExplodingEMT", "--json"
    )
    assert code == 1
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["status"] == "failed" and doc["formula"] == "Cu"
    assert "an earlier job failed" in doc["failure_reason"]
    assert "synthetic calculator failure" in doc["failure_reason"]
    (stored,) = _stored(jobstore, "phonons")
    assert stored["status"] == "failed"


def test_adhesion_whose_calculator_raises_is_stored_failed(
    tmp_path, run_cli, jobstore, monkeypatch
):
    """A calculator that raises (as an SCF that does not converge does) in every job."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "Cu.cif")
    )
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.09), ["Ag"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "Ag.cif")
    )
    code, out, err = run_cli(
        "adhesion", "Ag.cif", "Cu.cif", "--metal-miller", "1,1,1", "--electrolyte-miller",
        "1,1,1", "--calculator", "test_cli_validation:ExplodingEMT", "--max-area", "100",
        "--max-atoms", "200", "--json",
    )  # fmt: skip
    assert code == 1
    assert out.count("\n") == 1
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("ssbflow: error:")
    doc = json.loads(out)
    assert doc["status"] == "failed" and doc["work_of_adhesion_J_per_m2"] is None
    assert "metal bulk: the calculation did not run or raised" in doc["failure_reason"]
    (stored,) = _stored(jobstore, "adhesion")
    assert stored["status"] == "failed"
