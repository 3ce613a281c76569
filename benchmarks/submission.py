"""Cost of running through the FireWorks LaunchPad, and parallel workers on one machine.

1. Overhead per job: a flow of trivial independent jobs run by jobflow's ``run_locally``
   against the embedded results store, and the same flow submitted to the embedded
   LaunchPad and run by one in-process ssbflow worker (jobs per second each).
2. A CPU-bound flow of independent EMT molecular-dynamics jobs (108-atom Cu cells): wall
   time of ``run_locally``, one ``ssbflow worker`` process, and two ``ssbflow worker``
   processes started together (both against the embedded LaunchPad, OMP_NUM_THREADS=1).

Writes ``benchmarks/results/submission.json`` and ``benchmarks/results/submission.md``.
Run: ``python benchmarks/submission.py [--trivial N] [--cpu N] [--steps N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobflow import Flow, job

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


@job
def trivial(i: int) -> int:
    """A job that does nothing but return its input."""
    return i


@job
def emt_md(seed: int, steps: int) -> float:
    """``steps`` velocity-Verlet steps of a rattled 108-atom Cu cell with EMT; final energy (eV)."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.verlet import VelocityVerlet

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))
    atoms.rattle(0.05, seed=seed)
    atoms.calc = EMT()
    VelocityVerlet(atoms, 2 * units.fs).run(steps)
    return float(atoms.get_potential_energy())


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SSBFLOW_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["MKL_NUM_THREADS"] = "1"
    return env


def _settings(data_dir: Path):
    from ssbflow.settings import get_settings

    return get_settings(data_dir=data_dir)


def _local(flow: Flow, data_dir: Path) -> float:
    from ssbflow.execution.runner import run_flow

    start = time.perf_counter()
    run_flow(flow, _settings(data_dir), progress=False)
    return time.perf_counter() - start


def _submit(flow: Flow, data_dir: Path) -> float:
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from ssbflow.execution.fw import submit_flow

    start = time.perf_counter()
    with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
        submit_flow(flow, _settings(data_dir))
    return time.perf_counter() - start


def _workers(n: int, data_dir: Path) -> float:
    """Wall time of ``n`` ``ssbflow worker`` processes started together until all exit."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ssbflow.cli", "worker"],
            env=_env(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed: {err[-2000:]}")
    return time.perf_counter() - start


def _job_seconds(data_dir: Path) -> float:
    """Sum of the run times FireWorks recorded for the completed launches."""
    from ssbflow.execution.fw import open_launchpad

    opened = open_launchpad(_settings(data_dir))
    with opened.transaction(write=False) as lp:
        return sum(x.get("runtime_secs") or 0.0 for x in lp.launches.find({"state": "COMPLETED"}))


def _completed(data_dir: Path) -> int:
    from ssbflow.execution.fw import open_launchpad

    return len(open_launchpad(_settings(data_dir)).launchpad.get_fw_ids({"state": "COMPLETED"}))


def _startup(data_dir: Path) -> float:
    """Wall time of an ``ssbflow worker`` process that finds nothing to do."""
    return _workers(1, data_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=60, help="number of trivial jobs")
    parser.add_argument("--cpu", type=int, default=12, help="number of CPU-bound jobs")
    parser.add_argument("--steps", type=int, default=150, help="MD steps per CPU-bound job")
    args = parser.parse_args()
    os.environ.update({k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    import submission  # the jobs must come from an importable module, not __main__

    from ssbflow.execution.fw import run_worker

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # 1. trivial jobs
        n = args.trivial
        local_s = _local(Flow([submission.trivial(i) for i in range(n)]), root / "t-local")
        submit_s = _submit(Flow([submission.trivial(i) for i in range(n)]), root / "t-fw")
        start = time.perf_counter()
        run_worker(_settings(root / "t-fw"), log=lambda _m: None)
        worker_s = time.perf_counter() - start
        assert _completed(root / "t-fw") == n
        lp_size_kB = (root / "t-fw" / "launchpad" / "launchpad.json").stat().st_size / 1e3

        # 2. CPU-bound jobs
        m, steps = args.cpu, args.steps
        startup_s = _startup(root / "empty")
        cpu_local_s = _local(
            Flow([submission.emt_md(i, steps) for i in range(m)]), root / "c-local"
        )
        _submit(Flow([submission.emt_md(i, steps) for i in range(m)]), root / "c-1")
        one_s = _workers(1, root / "c-1")
        _submit(Flow([submission.emt_md(i, steps) for i in range(m)]), root / "c-2")
        two_s = _workers(2, root / "c-2")
        assert _completed(root / "c-1") == m and _completed(root / "c-2") == m
        busy_one = _job_seconds(root / "c-1") / one_s
        busy_two = _job_seconds(root / "c-2") / two_s

    load = os.getloadavg()
    result = {
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": load},
        "trivial": {
            "n_jobs": n,
            "run_locally_s": local_s,
            "run_locally_jobs_per_s": n / local_s,
            "submit_s": submit_s,
            "worker_s": worker_s,
            "launchpad_jobs_per_s": n / worker_s,
            "launchpad_overhead_per_job_ms": 1e3 * (worker_s - local_s) / n,
            "launchpad_file_kB": lp_size_kB,
        },
        "cpu_bound": {
            "n_jobs": m,
            "md_steps_per_job": steps,
            "run_locally_s": cpu_local_s,
            "one_worker_s": one_s,
            "two_workers_s": two_s,
            "speedup_two_vs_one": one_s / two_s,
            "speedup_two_vs_run_locally": cpu_local_s / two_s,
            "worker_startup_s": startup_s,
            "mean_jobs_running_one_worker": busy_one,
            "mean_jobs_running_two_workers": busy_two,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "submission.json").write_text(json.dumps(result, indent=2))
    t, c = result["trivial"], result["cpu_bound"]
    md = f"""# FireWorks submission benchmark (embedded LaunchPad)

Machine: {os.cpu_count()} cores, load average {load[0]:.1f} (other processes were running).

## Trivial jobs ({n} independent jobs)

| runner | wall time (s) | jobs/s |
|---|---|---|
| jobflow run_locally | {t["run_locally_s"]:.2f} | {t["run_locally_jobs_per_s"]:.1f} |
| LaunchPad: one worker (in-process) | {t["worker_s"]:.2f} | {t["launchpad_jobs_per_s"]:.1f} |

Submitting took {t["submit_s"]:.2f} s; overhead {t["launchpad_overhead_per_job_ms"]:.0f} ms per
job through the LaunchPad (LaunchPad file {t["launchpad_file_kB"]:.0f} kB at the end).

## CPU-bound jobs ({m} independent EMT MD jobs, {steps} steps, 108 atoms)

| runner | wall time (s) |
|---|---|
| jobflow run_locally | {c["run_locally_s"]:.1f} |
| one `ssbflow worker` process | {c["one_worker_s"]:.1f} |
| two `ssbflow worker` processes | {c["two_workers_s"]:.1f} |

Speed-up of two workers over one: **{c["speedup_two_vs_one"]:.2f}×** (worker process
start-up, paid once per worker: {c["worker_startup_s"]:.1f} s). Jobs running at the same
time on average (sum of job run times / wall time): {c["mean_jobs_running_one_worker"]:.2f}
with one worker, {c["mean_jobs_running_two_workers"]:.2f} with two. The second figure
shows whether the LaunchPad lets two workers run side by side; the wall-time speed-up also
depends on free cores (load average {load[0]:.1f} on {os.cpu_count()} cores here).
"""
    (RESULTS / "submission.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
