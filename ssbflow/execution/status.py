"""Status of the workflows on a LaunchPad, lost jobs, and reruns.

A job whose worker died stays RUNNING; `lost_jobs` finds it (the worker's pid is
recorded in its launch), `rerun` resets it, and jobflow's upsert of outputs by
``(uuid, index)`` means a rerun never duplicates a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssbflow.errors import InputError
from ssbflow.execution import _compat
from ssbflow.execution.launchpad import OpenedLaunchPad, database_errors, mask_credentials
from ssbflow.execution.worker import WORKER_ENV_KEY, _worker_alive

#: A RUNNING job not pinged for this long is lost (s). FireWorks workers ping every hour.
DEFAULT_LOST_AFTER_S = 4 * 3600.0


@dataclass
class JobStatus:
    """State of one job (FireWork) of a workflow."""

    fw_id: int
    name: str
    state: str
    uuid: str | None = None
    lost: bool = False
    error: str | None = None
    worker: str | None = None
    launch_dir: str | None = None


@dataclass
class WorkflowStatus:
    """A workflow and its jobs."""

    id: int
    name: str
    state: str
    created_on: str | None
    jobs: list[JobStatus]


def _error_of(launch: dict[str, Any] | None) -> str | None:
    """The last line of the exception of a failed launch."""
    if not launch:
        return None
    trace = _compat.launch_traceback(launch)
    if not trace:
        return None
    lines = [line for line in str(trace).strip().splitlines() if line.strip()]
    return mask_credentials(lines[-1].strip()) if lines else None


def lost_jobs(opened: OpenedLaunchPad, lost_after_s: float = DEFAULT_LOST_AFTER_S) -> set[int]:
    """Ids of RUNNING jobs whose worker is gone.

    A job is lost when its worker on this host is no longer running (recorded pid), or
    when its launch has not been pinged for ``lost_after_s`` (FireWorks'
    ``detect_lostruns``; workers ping hourly), whichever is found. A job whose worker
    runs on this host and is alive is never lost, whatever ``lost_after_s`` says:
    resetting it would run it twice.

    Raises
    ------
    InputError
        ``lost_after_s`` is not a positive, finite number of seconds.
    """
    from ssbflow.validation import check_lost_after

    lost_after_s = check_lost_after(lost_after_s, "lost_after_s")
    with opened.transaction(write=False) as lp:
        _, lost, _ = lp.detect_lostruns(expiration_secs=lost_after_s)
        found = set(lost)
        for fw in lp.fireworks.find({"state": "RUNNING"}, {"fw_id": 1, "launches": 1}):
            if not fw.get("launches"):
                continue
            launch = lp.launches.find_one(
                {"launch_id": fw["launches"][-1]}, {"fworker": 1, "state": 1}
            )
            identity = ((launch or {}).get("fworker") or {}).get("env", {}).get(WORKER_ENV_KEY)
            if not launch or launch.get("state") != "RUNNING":
                continue
            alive = _worker_alive(identity)
            if alive is False:
                found.add(fw["fw_id"])
            elif alive is True:
                found.discard(fw["fw_id"])
    return found


def workflow_status(
    opened: OpenedLaunchPad, lost_after_s: float = DEFAULT_LOST_AFTER_S
) -> list[WorkflowStatus]:
    """Every workflow of the LaunchPad with its jobs' states and errors, oldest first."""
    with database_errors(opened.description), opened.transaction(write=False) as lp:
        lost = lost_jobs(opened, lost_after_s)
        result = []
        for wf in lp.workflows.find({}, {"nodes": 1, "name": 1, "state": 1, "created_on": 1}):
            nodes = sorted(wf.get("nodes", []))
            jobs = []
            for fw in lp.fireworks.find(
                {"fw_id": {"$in": nodes}},
                {"fw_id": 1, "name": 1, "state": 1, "launches": 1, _compat.JOB_SPEC_FIELD: 1},
            ):
                job_uuid = _compat.job_uuid_of_firework(fw)
                launch = None
                if fw.get("launches"):
                    launch = lp.launches.find_one({"launch_id": fw["launches"][-1]})
                identity = (((launch or {}).get("fworker") or {}).get("env") or {}).get(
                    WORKER_ENV_KEY
                )
                jobs.append(
                    JobStatus(
                        fw_id=fw["fw_id"],
                        name=fw.get("name", ""),
                        state=fw.get("state", "?"),
                        uuid=job_uuid,
                        lost=fw["fw_id"] in lost,
                        error=_error_of(launch) if fw.get("state") == "FIZZLED" else None,
                        worker=(
                            f"{identity['host']}:{identity['pid']}"
                            if isinstance(identity, dict) and "pid" in identity
                            else None
                        ),
                        launch_dir=(launch or {}).get("launch_dir"),
                    )
                )
            jobs.sort(key=lambda j: j.fw_id)
            result.append(
                WorkflowStatus(
                    id=nodes[0] if nodes else -1,
                    name=wf.get("name", ""),
                    state=wf.get("state", "?"),
                    created_on=str(wf.get("created_on")) if wf.get("created_on") else None,
                    jobs=jobs,
                )
            )
    result.sort(key=lambda w: w.id)
    return result


def rerun(
    opened: OpenedLaunchPad, ident: int, lost_after_s: float = DEFAULT_LOST_AFTER_S
) -> list[int]:
    """Rerun the failed (FIZZLED) and lost jobs of workflow ``ident`` (or job ``ident``).

    ``ident`` is a workflow id as printed by ``ssbflow submit`` / ``ssbflow status``; if
    no workflow has that id it is taken as the id of one job.

    Returns
    -------
    list of int
        The ids of the jobs reset to run again.

    Raises
    ------
    InputError
        If there is no such workflow or job, or nothing in it failed or was lost.
    """
    with database_errors(opened.description), opened.transaction(write=True) as lp:
        wf = lp.workflows.find_one({"nodes": ident}, {"nodes": 1, "name": 1})
        if wf is None:
            raise InputError(f"no workflow or job with id {ident}; see 'ssbflow status'")
        if min(wf["nodes"]) == ident:
            candidates = sorted(wf["nodes"])
            what = f"workflow {ident} ('{wf.get('name', '')}')"
        else:
            candidates = [ident]
            what = f"job {ident}"
        lost = lost_jobs(opened, lost_after_s)
        states = {
            fw["fw_id"]: fw["state"]
            for fw in lp.fireworks.find({"fw_id": {"$in": candidates}}, {"fw_id": 1, "state": 1})
        }
        todo = [i for i in candidates if states.get(i) == "FIZZLED" or i in lost]
        if not todo:
            summary = ", ".join(f"{i}: {states.get(i, '?')}" for i in candidates)
            raise InputError(
                f"{what} has no failed or lost job to rerun ({summary}); a running job is "
                f"lost only once its worker is gone or silent for {lost_after_s:.0f} s "
                "(lost_after_s)",
                field="lost_after_s",
            )
        for fw_id in todo:
            if fw_id in lost:
                fw = lp.fireworks.find_one({"fw_id": fw_id}, {"launches": 1})
                for launch_id in fw.get("launches", []):
                    launch = lp.launches.find_one({"launch_id": launch_id}, {"state": 1})
                    if launch and launch.get("state") == "RUNNING":
                        lp.mark_fizzled(launch_id)
            lp.rerun_fw(fw_id)
    return todo
