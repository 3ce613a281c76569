"""Run ssbflow studies at scale with FireWorks: LaunchPad, submission, workers, status.

This module gathers the FireWorks layer under one name; the code lives in

- `ssbflow.execution.launchpad`: which LaunchPad (the queue of jobs) is used and the
  embedded, file-locked LaunchPad (`open_launchpad`, `EmbeddedLaunchPad`);
- `ssbflow.execution.submit`: `submit_flow`, `flow_to_fireworks_workflow`;
- `ssbflow.execution.worker`: `run_worker`;
- `ssbflow.execution.status`: `workflow_status`, `lost_jobs`, `rerun`;
- `ssbflow.execution._compat`: everything that relies on FireWorks, mongomock or jobflow
  internals.

Where things live
-----------------
- **LaunchPad**: ``settings.launchpad_file`` (``SSBFLOW_LAUNCHPAD_FILE``, or the
  ``launchpad_file`` parameter) if given; else the MongoDB of ``settings.mongodb_uri`` if
  set (database ``settings.database``); else the *embedded* LaunchPad in
  ``settings.data_dir / "launchpad"``.
- **Results** always go to ``ssbflow.execution.store.get_jobstore(settings)``, the store that
  ``ssbflow results`` reads. Submitted workflows carry no store (and so no credentials):
  the worker sets jobflow's ``SETTINGS.JOB_STORE`` from its own ssbflow settings.
"""

from __future__ import annotations

from ssbflow.execution.launchpad import (
    EMBEDDED_DB_NAME,
    EMBEDDED_DIR,
    LOCK_TIMEOUT_S,
    EmbeddedLaunchPad,
    LaunchPadBusyError,
    OpenedLaunchPad,
    database_errors,
    describe_launchpad_config,
    initialize_launchpad,
    mask_credentials,
    open_launchpad,
)
from ssbflow.execution.status import (
    DEFAULT_LOST_AFTER_S,
    JobStatus,
    WorkflowStatus,
    lost_jobs,
    rerun,
    workflow_status,
)
from ssbflow.execution.submit import flow_to_fireworks_workflow, submit_flow
from ssbflow.execution.worker import WORKER_ENV_KEY, run_worker, worker_identity

__all__ = [
    "DEFAULT_LOST_AFTER_S",
    "EMBEDDED_DB_NAME",
    "EMBEDDED_DIR",
    "LOCK_TIMEOUT_S",
    "WORKER_ENV_KEY",
    "EmbeddedLaunchPad",
    "JobStatus",
    "LaunchPadBusyError",
    "OpenedLaunchPad",
    "WorkflowStatus",
    "database_errors",
    "describe_launchpad_config",
    "flow_to_fireworks_workflow",
    "initialize_launchpad",
    "lost_jobs",
    "mask_credentials",
    "open_launchpad",
    "rerun",
    "run_worker",
    "submit_flow",
    "worker_identity",
    "workflow_status",
]
