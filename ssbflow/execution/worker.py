"""Workers: run ready jobs from the LaunchPad on this machine (FireWorks rapid-fire).

Each worker records its identity (host, pid, process start time) in every launch
(``FWorker.env``), so that a job whose worker died is found by `ssbflow.execution.status`.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssbflow.errors import InputError
from ssbflow.execution.launchpad import database_errors, open_launchpad
from ssbflow.settings import SsbflowSettings

#: Key of the worker identity in ``FWorker.env`` (recorded in every launch).
WORKER_ENV_KEY = "ssbflow_worker"


def worker_identity() -> dict[str, Any]:
    """Host, pid and process start time of this process (to detect dead workers)."""
    import psutil

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
        "token": uuidlib.uuid4().hex,
    }


def _worker_alive(identity: dict[str, Any]) -> bool | None:
    """Whether the worker of ``identity`` still runs; ``None`` if it ran on another host."""
    import psutil

    if not identity or identity.get("host") != socket.gethostname():
        return None
    try:
        proc = psutil.Process(int(identity["pid"]))
        return abs(proc.create_time() - float(identity["started"])) < 1.0 and (
            proc.status() != psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, ValueError):
        return False


def run_worker(
    settings: SsbflowSettings,
    launchpad_file: Path | None = None,
    max_jobs: int | None = None,
    work_dir: Path | None = None,
    fworker_file: Path | None = None,
    poll_s: float = 2.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Run ready jobs (rapid-fire) until none are left or ``max_jobs`` have run.

    Job outputs go to ``get_jobstore(settings)``: the worker sets jobflow's
    ``SETTINGS.JOB_STORE`` for this process.

    Returns
    -------
    dict
        Counts of this worker's launches by final state, e.g. ``{"COMPLETED": 3}``.
    """
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire
    from jobflow import SETTINGS

    from ssbflow.execution.store import describe_store, get_jobstore

    log = log or (lambda message: sys.stderr.write(message + "\n"))
    if max_jobs is not None and max_jobs < 1:
        raise InputError(f"max_jobs must be at least 1, got {max_jobs}", field="max_jobs")
    if fworker_file is not None:
        if not Path(fworker_file).is_file():
            raise InputError(
                f"worker file {fworker_file} does not exist; see my_fworker.yaml",
                field="fworker_file",
            )
        try:
            fworker = FWorker.from_file(str(fworker_file))
        except Exception as exc:  # FireWorks raises YAML, serialization and type errors
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise InputError(
                f"cannot read the worker file {fworker_file} ({reason}); it must be a YAML "
                "mapping like my_fworker.yaml (name:, category:, query:)",
                field="fworker_file",
            ) from None
    else:
        fworker = FWorker(name=f"ssbflow@{socket.gethostname()}")
    # the LaunchPad is opened (and an embedded one created) only once the input is good
    opened = open_launchpad(settings, launchpad_file)
    identity = worker_identity()
    fworker.env = {**(fworker.env or {}), WORKER_ENV_KEY: identity}

    SETTINGS.JOB_STORE = get_jobstore(settings)
    root = Path(work_dir or settings.data_dir / "runs" / "fireworks").expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)

    log(f"ssbflow worker {identity['pid']}: jobs from {opened.description}")
    log(f"results go to {describe_store(settings)}; job folders in {root}")
    if opened.embedded:
        log(
            "embedded mode: for this machine only. Every LaunchPad access holds an exclusive "
            "file lock and is saved atomically, so workers started here never claim the "
            "same job and a submit while they run is never lost. Use MongoDB to run "
            "workers on several machines."
        )
    elif not settings.uses_mongodb:
        log(
            "warning: the LaunchPad is a MongoDB but results go to the embedded store on "
            "this machine; set SSBFLOW_MONGODB_URI so that 'ssbflow results' sees them "
            "from anywhere"
        )
    from ssbflow.execution.runner import tuned_gc

    with database_errors(opened.description), tuned_gc():
        rapidfire(
            opened.launchpad,
            fworker,
            m_dir=str(root),
            nlaunches=max_jobs or 0,
            sleep_time=max(1, round(poll_s)),
            strm_lvl="INFO",
        )
        with opened.transaction(write=False) as lp:
            counts: dict[str, int] = {}
            for launch in lp.launches.find(
                {f"fworker.env.{WORKER_ENV_KEY}.token": identity["token"]}, {"state": 1}
            ):
                counts[launch["state"]] = counts.get(launch["state"], 0) + 1
    summary = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
    log(f"ssbflow worker {identity['pid']}: done ({summary or 'no jobs were ready'})")
    return counts
