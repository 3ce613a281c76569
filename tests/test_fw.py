"""FireWorks submission, workers, status, rerun and results: all across real processes.

Every multi-process test starts separate Python processes (``subprocess``), never threads:
the hazards being tested (lost writes, claimed-twice jobs, SIGKILL) are between processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import typer
from test_adhesion_flow import EMT_ARGS

TESTS_DIR = Path(__file__).resolve().parent
SECRET = "hunter2-s3cret-Pa55"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS_DIR), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ssbflow.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=timeout,
    )


#: Import the jobs from their module (not ``__main__``) so that workers can import them too.
_SUBMIT_SCRIPT = "import sys, fw_testjobs; fw_testjobs.submit_main(sys.argv[1:])"


def _submit(*args: str, env: dict[str, str] | None = None) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _SUBMIT_SCRIPT, *map(str, args)],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


def _status(run_cli=None, env: dict[str, str] | None = None) -> dict:
    """``ssbflow status --json``: in this process with ``run_cli``, else in a new one."""
    if run_cli is not None:
        code, out, err = run_cli("status", "--json")
    else:
        proc = _cli("status", "--json", env=env)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    assert code == 0, err
    return json.loads(out)


def _results(run_cli=None, *filters: str, env: dict[str, str] | None = None) -> list[dict]:
    """``ssbflow results --json``: in this process with ``run_cli``, else in a new one."""
    if run_cli is not None:
        code, out, err = run_cli("results", "--json", *filters)
    else:
        proc = _cli("results", "--json", *filters, env=env)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    assert code == 0, err
    return json.loads(out)["results"]


def _jobs(status: dict, wf_id: int) -> list[dict]:
    (wf,) = [w for w in status["workflows"] if w["id"] == wf_id]
    return wf["jobs"]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"worker exited early ({proc.returncode}): {out}\n{err}")
        assert time.monotonic() < deadline, f"{path} not created in {timeout} s"
        time.sleep(0.05)


# --------------------------------------------------------------------------------------
# The embedded LaunchPad itself
# --------------------------------------------------------------------------------------


def test_embedded_launchpad_is_shared_and_checkpointed(settings):
    """Two LaunchPad handles (as in two processes) see each other's changes at once.

    mongomock-persistence alone would keep each handle's state in memory until exit;
    here every call reloads the file if it changed and writes it back atomically.
    """
    from fireworks import Firework, FWorker, ScriptTask, Workflow

    from ssbflow.execution.fw import EmbeddedLaunchPad

    directory = settings.data_dir / "launchpad"
    first = EmbeddedLaunchPad(directory)
    second = EmbeddedLaunchPad(directory)
    id_map = first.add_wf(Workflow([Firework(ScriptTask.from_str("true"), name="a")]))
    (fw_id,) = id_map.values()
    # the file on disk already holds the workflow: a fresh reader (no shared memory) sees it
    text = (directory / "launchpad.json").read_text()
    assert '"name": "a"' in text
    assert second.get_fw_ids({"state": "READY"}) == [fw_id]
    fw, _launch_id = second.checkout_fw(FWorker(), str(directory))
    assert fw.fw_id == fw_id
    # the checkout by `second` is visible to `first`: nothing is left to claim
    assert first.get_fw_ids({"state": "READY"}) == []
    assert first.get_fw_dict_by_id(fw_id)["state"] == "RUNNING"
    assert not first.run_exists(FWorker())
    # no temporary files are left behind
    assert sorted(p.name for p in directory.iterdir()) == [
        "launchpad.generation",
        "launchpad.json",
        "launchpad.lock",
    ]


def test_embedded_launchpad_writes_back_only_after_changing_methods(settings):
    """Read-only LaunchPad methods leave the file alone; the others write it back."""
    from fireworks import Firework, ScriptTask, Workflow

    from ssbflow.execution.fw import EmbeddedLaunchPad

    directory = settings.data_dir / "launchpad"
    elp = EmbeddedLaunchPad(directory)
    generation = (directory / "launchpad.generation").read_text()
    assert elp.get_fw_ids() == [] and elp.get_wf_ids() == []
    assert (directory / "launchpad.generation").read_text() == generation
    (fw_id,) = elp.add_wf(Workflow([Firework(ScriptTask.from_str("true"))])).values()
    after_add = (directory / "launchpad.generation").read_text()
    assert after_add != generation
    assert EmbeddedLaunchPad(directory).get_fw_ids() == [fw_id]
    assert (directory / "launchpad.generation").read_text() == after_add


def test_busy_embedded_launchpad_says_so(settings):
    """A lock held by another process gives a one-line 'busy' error after the timeout."""
    from ssbflow.execution.fw import EmbeddedLaunchPad, LaunchPadBusyError

    directory = settings.data_dir / "launchpad"
    EmbeddedLaunchPad(directory)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            f"l = FileLock({str(directory / 'launchpad.lock')!r}); l.acquire(); "
            "print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LaunchPadBusyError, match="is busy"):
            EmbeddedLaunchPad(directory, lock_timeout_s=0.5).get_fw_ids()
    finally:
        holder.kill()
        holder.wait()
    assert EmbeddedLaunchPad(directory, lock_timeout_s=5).get_fw_ids() == []


# --------------------------------------------------------------------------------------
# Submit plumbing through the run commands
# --------------------------------------------------------------------------------------


def _app_with_fake_phonons(calls: list) -> typer.Typer:
    """A CLI with a stand-in 'phonons' run command that builds a trivial flow."""
    from jobflow import Flow

    from ssbflow.commands import fw as fw_commands
    from ssbflow.commands._common import get_mode, load_settings, run_or_submit

    app = typer.Typer()

    @app.command("phonons")
    def phonons(
        ctx: typer.Context,
        value: float,
        system: str = typer.Option("Cu/fake", "--system"),
    ) -> None:
        from fw_testjobs import fail_while_marker

        calls.append((value, system, get_mode(ctx)))
        flow = Flow([fail_while_marker("no-such-marker", value, system=system)], name="fake")
        run_or_submit(ctx, flow, load_settings(None), progress=False)

    fw_commands.register(app)
    return app


def _invoke(app: typer.Typer, *args: str) -> int:
    command = typer.main.get_command(app)
    result = command.main(args=list(args), prog_name="ssbflow", standalone_mode=False)
    return result if isinstance(result, int) else 0


def test_submit_reuses_run_command_arguments_and_dry_run_stores_nothing(
    settings, capsys, monkeypatch
):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    from ssbflow.execution.fw import open_launchpad

    calls: list = []
    app = _app_with_fake_phonons(calls)
    # options of submit may come after the workflow's own arguments
    assert _invoke(app, "submit", "phonons", "1.5", "--system", "Cu/x", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would be added" in out and "fail_while_marker" in out
    value, system, mode = calls[-1]
    assert (value, system, mode.submit, mode.dry_run) == (1.5, "Cu/x", True, True)
    assert open_launchpad(settings).launchpad.get_wf_ids() == []  # nothing stored

    assert _invoke(app, "submit", "phonons", "2.5") == 0
    wf_id = int(capsys.readouterr().out.strip())
    lp = open_launchpad(settings).launchpad
    assert lp.get_wf_ids() == [wf_id]
    assert lp.get_fw_dict_by_id(wf_id)["state"] == "READY"
    # no store (hence no credential) is serialised into the spec
    task = lp.get_fw_dict_by_id(wf_id)["spec"]["_tasks"][0]
    assert task["store"] is None

    # the same command without submit runs locally (RunMode default)
    assert _invoke(app, "phonons", "3.0") == 0
    assert calls[-1][2].submit is False
    assert lp.get_wf_ids() == [wf_id]


def test_submit_unknown_workflow_is_input_error(run_cli):
    code, _, err = run_cli("submit", "bogus", "Li")
    assert code == 2
    assert "cannot submit 'bogus'" in err


# --------------------------------------------------------------------------------------
# Across processes: submit, worker, status, rerun, results
# --------------------------------------------------------------------------------------


def test_submit_worker_results_in_three_processes(tmp_path):
    env = _env()
    marker = tmp_path / "absent-marker"
    wf_id = _submit("fail", marker, 1.25, env=env)
    worker = _cli("worker", env=env)
    assert worker.returncode == 0, worker.stderr
    assert "embedded mode" in worker.stderr and "file lock" in worker.stderr
    assert "1 completed" in worker.stderr
    (job,) = _jobs(_status(env=env), wf_id)
    assert job["state"] == "COMPLETED"

    (row,) = _results(env=env)
    assert row["result_type"] == "fwtest"
    assert row["values"] == {"energy_eV": 2.5, "n_atoms": 4}
    assert row["uuid"] == job["uuid"]
    assert row["structure_names"] == ["bulk"]
    # filters
    assert _results(None, "--system", "Cu/nothing", env=env) == []
    assert (
        len(
            _results(
                None, "--formula", "Cu", "--calculator", "EMT", "--property", "fwtest", env=env
            )
        )
        == 1
    )
    csv_out = _cli("results", "--csv", env=env)
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].endswith("energy_eV,n_atoms") and lines[1].endswith("2.5,4")

    show = _cli("results", "show", row["uuid"][:8], "--output", tmp_path / "out", "--json", env=env)
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert shown["output"]["energy_eV"] == 2.5
    from pymatgen.core import Structure

    bulk = Structure.from_file(tmp_path / "out" / "bulk.cif")
    assert bulk.composition.reduced_formula == "Cu" and len(bulk) == 4


def test_results_library_queries_filter_and_load_by_prefix(settings, run_cli):
    """`ssbflow.execution.results`: what ``ssbflow results`` prints, without the CLI."""
    from fw_testjobs import fail_while_marker
    from jobflow import Flow

    from ssbflow.errors import InputError
    from ssbflow.execution.results import get_result, query_results
    from ssbflow.execution.runner import run_flow

    first = fail_while_marker("absent", 1.5, system="Cu/first")
    second = fail_while_marker("absent", 4.0, system="Cu/second")
    run_flow(Flow([first, second]), settings, progress=False)

    rows = query_results(settings, formula="Cu4", calculator="EMT", result_type="fwtest")
    assert sorted(r["values"]["energy_eV"] for r in rows) == [3.0, 8.0]
    (row,) = query_results(settings, system="Cu/second")
    assert row["uuid"] == second.uuid and row["values"] == {"energy_eV": 8.0, "n_atoms": 4}
    assert query_results(settings, calculator="chgnet") == []

    doc = get_result(settings, first.uuid[:6].upper())
    assert doc["uuid"] == first.uuid and doc["output"]["energy_eV"] == 3.0
    with pytest.raises(InputError, match="too short"):
        get_result(settings, first.uuid[:3])
    with pytest.raises(InputError) as bad:
        query_results(settings, formula="not a formula!")
    assert bad.value.field == "formula" and "--" not in str(bad.value)
    # the CLI names its own flag, as before
    code, _, err = run_cli("results", "--formula", "not a formula!")
    assert code == 2 and "--formula 'not a formula!' is not a chemical formula" in err

    # the old import path still works, with a deprecation warning
    from ssbflow.commands import fw as fw_commands

    with pytest.warns(DeprecationWarning, match="ssbflow.execution.results.query_results"):
        assert fw_commands.query_results(settings, system="Cu/second") == [row]
    with pytest.warns(DeprecationWarning, match="ssbflow.execution.results.get_result"):
        assert fw_commands.get_result(settings, second.uuid)["uuid"] == second.uuid


def test_failed_job_shows_error_and_rerun_completes_it(tmp_path, run_cli):
    env = _env()
    marker = tmp_path / "broken"
    marker.write_text("remove me to fix the job")
    wf_id = _submit("fail", marker, 3.0, env=env)
    worker = _cli("worker", env=env)
    assert worker.returncode == 1  # a job failed
    (job,) = _jobs(_status(run_cli), wf_id)
    assert job["state"] == "FAILED"
    assert job["error"] == f"RuntimeError: marker file {marker} exists"
    code, table, _ = run_cli("status")
    assert code == 0 and "FAILED" in table and "RuntimeError" in table
    assert _results(run_cli) == []  # a failed job stores no number

    # nothing to rerun in a missing workflow
    code, _, err = run_cli("rerun", "999")
    assert code == 2 and "no workflow or job with id 999" in err

    marker.unlink()
    code, out, err = run_cli("rerun", wf_id)
    assert code == 0, err
    assert out.split() == [str(wf_id)]
    assert _cli("worker", env=env).returncode == 0
    (job,) = _jobs(_status(run_cli), wf_id)
    assert job["state"] == "COMPLETED" and job["error"] is None
    (row,) = _results(run_cli)
    assert row["values"]["energy_eV"] == 6.0

    code, _, err = run_cli("rerun", wf_id)
    assert code == 2 and "no failed or lost job" in err


def test_sigkilled_worker_job_is_lost_then_recovered_once(tmp_path, run_cli):
    env = _env()
    started, block = tmp_path / "started", tmp_path / "block"
    block.write_text("")
    wf_id = _submit("block", started, block, 4.0, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "ssbflow.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(started, worker)
        (job,) = _jobs(_status(run_cli), wf_id)
        assert job["state"] == "RUNNING" and not job["lost"]
        # the running job cannot be rerun: its worker is alive
        assert run_cli("rerun", wf_id)[0] == 2
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    (job,) = _jobs(_status(run_cli), wf_id)
    assert job["state"] == "LOST" and job["lost"]
    assert _results(run_cli) == []

    block.unlink()
    started.unlink()
    assert run_cli("rerun", wf_id)[0] == 0
    assert _cli("worker", env=env).returncode == 0
    (job,) = _jobs(_status(run_cli), wf_id)
    assert job["state"] == "COMPLETED"
    results = _results(run_cli)
    assert len(results) == 1 and results[0]["values"]["energy_eV"] == 8.0

    # jobflow upserts outputs by (uuid, index): running the completed job again through
    # FireWorks (as after a lost run whose output was already stored) adds no duplicate
    from ssbflow.execution.fw import open_launchpad
    from ssbflow.execution.store import get_jobstore
    from ssbflow.settings import get_settings

    open_launchpad(get_settings()).launchpad.rerun_fw(wf_id)
    assert _cli("worker", env=env).returncode == 0
    store = get_jobstore(get_settings())
    store.connect()
    try:
        assert store.count({"uuid": job["uuid"]}) == 1
    finally:
        store.close()
    assert len(_results(run_cli)) == 1


def test_lost_after_never_resets_a_live_job(tmp_path, run_cli):
    """--lost-after <= 0 or NaN is refused; a job whose worker is alive is never reset.

    Before issue 10, ``status --lost-after -5`` and ``rerun ID --lost-after 0`` marked the
    running job lost and reset it while its worker was alive, so its MD ran twice.
    """
    env = _env()
    started, block = tmp_path / "started", tmp_path / "block"
    block.write_text("")
    wf_id = _submit("block", started, block, 5.0, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "ssbflow.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(started, worker)
        for args in (
            ("status", "--lost-after", "-5"),
            ("status", "--json", "--lost-after", "0"),
            ("rerun", wf_id, "--lost-after", "0"),
            ("rerun", wf_id, "--lost-after", "nan"),
        ):
            code, out, err = run_cli(*args)
            assert code == 2, (args, err)
            assert err.startswith("ssbflow: error: --lost-after must be a ")
        # a positive but tiny silence limit: the launch has not pinged for longer than
        # that, but its worker runs on this machine and is alive, so it is not lost
        (job,) = _jobs(_status(run_cli), wf_id)
        code, out, _ = run_cli("status", "--json", "--lost-after", "1e-6")
        (job,) = _jobs(json.loads(out), wf_id)
        assert job["state"] == "RUNNING" and not job["lost"]
        code, _, err = run_cli("rerun", wf_id, "--lost-after", "1e-6")
        assert code == 2 and "no failed or lost job" in err
        block.unlink()
        _out, err = worker.communicate(timeout=180)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err
    assert "1 completed" in err  # ran once: not reset and run again
    (job,) = _jobs(_status(run_cli), wf_id)
    assert job["state"] == "COMPLETED"
    results = _results(run_cli)
    assert [r["values"]["energy_eV"] for r in results] == [10.0]


def test_submit_while_worker_runs_loses_nothing(tmp_path, run_cli):
    """A workflow submitted by another process while a worker holds the LaunchPad open."""
    env = _env()
    started, block = tmp_path / "started", tmp_path / "block"
    block.write_text("")
    first = _submit("block", started, block, 1.0, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "ssbflow.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(started, worker)
        second = _submit("pair", tmp_path / "absent", 2.0, 3.0, env=env)
        block.unlink()
        _out, err = worker.communicate(timeout=180)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    # the running worker picked up the workflow submitted meanwhile
    assert "3 completed" in err
    status = _status(run_cli)
    assert sorted(w["id"] for w in status["workflows"]) == [first, second]
    assert all(w["state"] == "COMPLETED" for w in status["workflows"])
    energies = sorted(r["values"]["energy_eV"] for r in _results(run_cli))
    assert energies == [2.0, 4.0, 6.0]


def test_credentials_never_appear_in_output(tmp_path, run_cli, monkeypatch):
    """Secrets in the LaunchPad file and the MongoDB URI stay out of every output."""
    lp_file = tmp_path / "launchpad.yaml"
    lp_file.write_text(
        "host: 127.0.0.1\nport: 9\nname: ssbflow\nusername: alice\n"
        "password: ${FW_TEST_PASSWORD}\n"
        "mongoclient_kwargs:\n  serverSelectionTimeoutMS: 300\n"
    )
    uri = f"mongodb://alice:{SECRET}@127.0.0.1:9/?serverSelectionTimeoutMS=300"
    outputs = []
    # one worker in its own process, with both secrets in its environment
    proc = _cli(
        "worker",
        "--launchpad",
        lp_file,
        env=_env(FW_TEST_PASSWORD=SECRET, SSBFLOW_MONGODB_URI=uri),
    )
    assert proc.returncode == 2, proc.stderr
    # both are unreachable: the results store is checked first and named as the store
    assert "cannot open the results store MongoDB mongodb://***@127.0.0.1:9" in proc.stderr
    outputs.append(proc.stdout + proc.stderr)

    code, out, err = run_cli("status", "--launchpad", lp_file)
    assert code == 2 and "FW_TEST_PASSWORD" in err  # unset: named, not guessed
    monkeypatch.setenv("FW_TEST_PASSWORD", SECRET)
    for args in (
        ["status", "--launchpad", lp_file],
        ["status", "--json", "--launchpad", lp_file],
        ["rerun", "1", "--launchpad", lp_file],
    ):
        code, out, err = run_cli(*args)
        assert code == 2, (args, err)
        assert "cannot use the MongoDB LaunchPad 127.0.0.1:9" in err
        outputs.append(out + err)
    monkeypatch.setenv("SSBFLOW_MONGODB_URI", uri)
    for args in (["results"], ["results", "--json"], ["status"], ["submit", "bogus"]):
        code, out, err = run_cli(*args)
        assert code == 2, (args, err)
        outputs.append(out + err)
    assert "mongodb://***@127.0.0.1:9" in outputs[-2]
    for text in outputs:
        assert SECRET not in text


def test_mask_credentials():
    from ssbflow.execution.fw import mask_credentials

    assert (
        mask_credentials("at mongodb+srv://u:p%40ss@h.example.org/db?x=1 and mongodb://h:1")
        == "at mongodb+srv://***@h.example.org/db?x=1 and mongodb://h:1"
    )


def test_repository_config_files_load(monkeypatch):
    """launchpad.yaml, my_fworker.yaml and my_qadapter.yaml are valid FireWorks configs."""
    import yaml
    from fireworks import FWorker
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

    from ssbflow.execution.launchpad import _expand_env, describe_launchpad_config

    root = TESTS_DIR.parent
    monkeypatch.setenv("SSBFLOW_MONGODB_URI", f"mongodb://alice:{SECRET}@db.example.org:27017")
    config = _expand_env(yaml.safe_load((root / "launchpad.yaml").read_text()), root)
    assert config["uri_mode"] is True and config["name"] == "ssbflow"
    assert SECRET not in describe_launchpad_config(config)
    assert SECRET not in (root / "launchpad.yaml").read_text()
    worker = FWorker.from_file(str(root / "my_fworker.yaml"))
    assert worker.name
    adapter = CommonAdapter.from_file(str(root / "my_qadapter.yaml"))
    assert adapter.q_type == "SLURM"
    script = adapter.get_script_str(".")
    assert "ssbflow worker" in script and "#SBATCH --nodes=1" in script


@pytest.mark.mongodb
@pytest.mark.skipif(
    not os.environ.get("SSBFLOW_TEST_MONGODB_URI"),
    reason="SSBFLOW_TEST_MONGODB_URI is not set (no MongoDB server to test against)",
)
def test_end_to_end_against_mongodb(tmp_path):
    from pymongo import MongoClient

    uri = os.environ["SSBFLOW_TEST_MONGODB_URI"]
    database = f"ssbflow_test_{uuid.uuid4().hex[:10]}"
    env = _env(SSBFLOW_MONGODB_URI=uri, SSBFLOW_DATABASE=database)
    try:
        marker = tmp_path / "broken"
        marker.write_text("")
        wf_id = _submit("fail", marker, 5.0, env=env)
        assert _cli("worker", env=env).returncode == 1
        (job,) = _jobs(_status(env=env), wf_id)
        assert job["state"] == "FAILED" and "marker file" in job["error"]
        marker.unlink()
        assert _cli("rerun", wf_id, env=env).returncode == 0
        worker = _cli("worker", env=env)
        assert worker.returncode == 0, worker.stderr
        (row,) = _results(env=env)
        assert row["values"]["energy_eV"] == 10.0
        secret_part = uri.split("@")[0].split("//")[-1] if "@" in uri else None
        if secret_part:
            assert secret_part not in worker.stdout + worker.stderr
    finally:
        MongoClient(uri).drop_database(database)


# --------------------------------------------------------------------------------------
# The EMT adhesion study through FireWorks equals run_locally
# --------------------------------------------------------------------------------------


def _write_fcc(path: Path, element: str, a: float) -> Path:
    from pymatgen.core import Lattice, Structure

    Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [element], [[0, 0, 0]]).to(
        filename=str(path)
    )
    return path


#: A small EMT Ag/Cu study (the settings of tests/test_adhesion_flow.py, one candidate).
ADHESION_ARGS = [*EMT_ARGS, "--registry-grid", "1", "--n-relax", "1"]


@pytest.mark.slow
def test_adhesion_through_fireworks_equals_local_run(tmp_path, run_cli):
    """The EMT adhesion study: submit, worker and results in three processes == run_locally."""
    cu = _write_fcc(tmp_path / "Cu.cif", "Cu", 3.61)
    ag = _write_fcc(tmp_path / "Ag.cif", "Ag", 4.09)
    study = ["adhesion", ag, cu, *ADHESION_ARGS]

    # run_locally, in this process, into this test's own data dir
    code, _, err = run_cli(*study)
    assert code == 0, err
    (local_row,) = _results(run_cli, "--property", "adhesion")

    # submit, worker and results: three more processes, another data dir
    fw_env = _env(SSBFLOW_DATA_DIR=str(tmp_path / "fw"))
    submitted = _cli("submit", *study, env=fw_env)
    assert submitted.returncode == 0, submitted.stderr
    wf_id = int(submitted.stdout.strip().splitlines()[-1])
    worker = _cli("worker", env=fw_env, timeout=600)
    assert worker.returncode == 0, worker.stderr
    assert all(j["state"] == "COMPLETED" for j in _jobs(_status(env=fw_env), wf_id))
    (fw_row,) = _results(None, "--property", "adhesion", env=fw_env)

    assert fw_row["status"] == local_row["status"] == "successful"
    assert fw_row["system"] == local_row["system"]
    w_ad = fw_row["values"]["work_of_adhesion_J_per_m2"]
    assert 0.1 < w_ad < 5.0  # a physical EMT Ag/Cu adhesion energy, J/m²
    assert w_ad == local_row["values"]["work_of_adhesion_J_per_m2"]  # identical, bit for bit
    assert fw_row["values"] == local_row["values"]
