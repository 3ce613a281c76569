"""Run a jobflow Flow locally against the configured results store, with progress."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, JobStore, run_locally

from ssbflow.console import stderr_console
from ssbflow.execution._compat import JOBFLOW_LOGGER, job_exception, job_failure, job_started
from ssbflow.execution.store import cached_jobstore, get_jobstore
from ssbflow.settings import SsbflowSettings


class FlowFailedError(RuntimeError):
    """A job raised; ``reason`` is the last line of its exception.

    ``field`` is the ``field`` of the job's exception when it had one (an `InputError`
    raised inside a job names the setting that was wrong), else ``None``.
    """

    def __init__(self, job_name: str, reason: str, field: str | None = None) -> None:
        super().__init__(f"job '{job_name}' failed: {reason}")
        self.job_name = job_name
        self.reason = reason
        self.field = field


class _JobWatcher(logging.Handler):
    """Follow jobflow's log: show the running job, remember the first failure.

    The messages are parsed in `ssbflow.execution._compat` (jobflow's log text is not a
    promised interface; ``tests/test_library_contracts.py`` checks it).
    """

    def __init__(self, status: Any | None) -> None:
        super().__init__(logging.INFO)
        self.status = status
        self.n_started = 0
        self.failure: FlowFailedError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        started = job_started(message)
        if started is not None:
            self.n_started += 1
            if self.status is not None:
                self.status.update(f"[bold]job {self.n_started}[/bold]: {started}")
            return
        failed = job_failure(message) if self.failure is None else None
        if failed is not None:
            name, trace = failed
            lines = [line for line in trace.strip().splitlines() if line.strip()]
            field = getattr(job_exception(), "field", None)
            self.failure = FlowFailedError(
                name, lines[-1] if lines else "unknown error", field=field
            )


@contextmanager
def _watch_jobs(progress: bool) -> Iterator[_JobWatcher]:
    logger = logging.getLogger(JOBFLOW_LOGGER)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    status_cm = stderr_console.status("starting", spinner="dots") if progress else None
    status = status_cm.__enter__() if status_cm is not None else None
    watcher = _JobWatcher(status)
    logger.addHandler(watcher)
    try:
        yield watcher
    finally:
        logger.removeHandler(watcher)
        logger.setLevel(old_level)
        if status_cm is not None:
            status_cm.__exit__(None, None, None)


#: Cyclic-GC thresholds while jobs run (Python's default is (700, 10, 10)).
RUN_GC_THRESHOLD = (10_000, 20, 20)


@contextmanager
def tuned_gc() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off the long-lived heap while jobs run.

    torch, pymatgen, phonopy and a loaded ML potential leave millions of long-lived
    objects; every full collection walked all of them. Measured on the Li/Li2O adhesion
    study with CHGNet: 3.0 s of 42 s wall went to the collector, 1.0 s of it outside the
    calculator. ``gc.freeze()`` moves what exists now to the permanent generation and a
    higher first threshold makes collections rarer (0.25 s left). Reference counting
    still frees everything at once; cycles among frozen objects are collected again after
    ``gc.unfreeze()`` at exit, where the old thresholds are restored. (No ``gc.collect()``
    before freezing: on this heap it takes 0.2 s, and garbage frozen now is collected
    after the run.)
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


@dataclass(frozen=True)
class FlowOutcome:
    """What a run left behind: the summary document found, and the first failure.

    ``document`` is the first stored output among the requested summary uuids (``None``
    when none was stored); ``uuid`` is the uuid it was found under; ``failure`` is the
    first job failure of the run (``None`` when every job succeeded). A flow can fail in a
    side branch and still leave a summary, so both can be set.
    """

    document: dict[str, Any] | None
    uuid: str | None
    failure: FlowFailedError | None

    @property
    def reason(self) -> str:
        """One line for the user: the failure, or that no summary was produced."""
        if self.failure is not None:
            return str(self.failure)
        return "the summary was not produced"


def run_and_load(
    flow: Flow | Job,
    settings: SsbflowSettings,
    summary_uuids: Sequence[str],
    work_dir: Path | None = None,
    progress: bool = True,
) -> FlowOutcome:
    """Run ``flow`` locally and load its summary document; the one way every command does it.

    Parameters
    ----------
    flow
        The flow or job to run.
    settings
        ssbflow settings; decide the results store.
    summary_uuids
        Uuids of the jobs whose output is the summary, in order of preference (e.g. the
        refined summary first, then the ML one it refines).
    work_dir, progress
        As for `run_flow`.

    Returns
    -------
    FlowOutcome
        Never raises for a failed job: the failure is returned beside whatever summary
        was stored.
    """
    from ssbflow.execution.store import load_output

    failure = None
    try:
        run_flow(flow, settings, work_dir=work_dir, progress=progress)
    except FlowFailedError as exc:
        failure = exc
    for uuid in summary_uuids:
        doc = load_output(settings, uuid)
        if doc is not None:
            return FlowOutcome(document=doc, uuid=uuid, failure=failure)
    return FlowOutcome(document=None, uuid=None, failure=failure)


def run_flow(
    flow: Flow | Job,
    settings: SsbflowSettings,
    work_dir: Path | None = None,
    progress: bool = True,
    store: JobStore | None = None,
) -> dict[str, dict[int, Any]]:
    """Run ``flow`` with jobflow's ``run_locally`` and store every output.

    Parameters
    ----------
    flow
        The flow or job to run.
    settings
        ssbflow settings; decide the results store.
    work_dir
        Where job folders go; default ``settings.data_dir / "runs"``.
    progress
        Show a progress spinner on stderr.
    store
        Use this JobStore instead of the one from settings.

    Returns
    -------
    dict
        jobflow's responses, ``{uuid: {index: Response}}``.

    Raises
    ------
    FlowFailedError
        If a job raised; the message names the job and the error.
    """
    # jobflow re-reads every job's inputs from the store: keep this run's documents in
    # memory as well (every write still goes to the persistent store at once)
    store = cached_jobstore(store or get_jobstore(settings))
    root = work_dir or settings.data_dir / "runs"
    root.mkdir(parents=True, exist_ok=True)
    # Calculators and libraries print banners; keep stdout for the command's own output.
    with (
        tuned_gc(),
        _watch_jobs(progress) as watcher,
        contextlib.redirect_stdout(sys.stderr),
    ):
        try:
            return run_locally(
                flow,
                store=store,
                root_dir=str(root),
                create_folders=True,
                ensure_success=True,
                log=False,
            )
        except RuntimeError as exc:
            if watcher.failure is not None:
                raise watcher.failure from exc
            raise
