"""Reproduce published findings: the reference set, the runs, and the report.

``ssbflow.reproduce.reference``
    the curated reference set (`load_reference_set`, `ReferenceRow`, claim parsing);
``ssbflow.reproduce.runs``
    one task per system a row needs, run through the workflows and compared
    (`reproduce`, `build_tasks`, `assemble`, `write_vasp_inputs`);
``ssbflow.reproduce.report``
    the Markdown report (`write_report`).

The names below were importable from the former module ``ssbflow.reproduce`` and stay
importable from here; ``coexistence_chemical_potentials_eV`` (now in
`ssbflow.analysis.coexistence`), ``match_terminations`` and ``surface_at_coexistence`` (now
in `ssbflow.workflows.surface`) too, with a DeprecationWarning.
"""

from __future__ import annotations

from typing import Any

from ssbflow.reproduce import runs
from ssbflow.reproduce.report import write_report
from ssbflow.reproduce.runs import (
    ML_CALCULATORS,
    TASK_VERSION,
    EntryResult,
    MemberValue,
    ReproduceOptions,
    ReproduceResult,
    ReproduceSummary,
    Task,
    TaskResult,
    _surface_flow,
    assemble,
    build_tasks,
    comparison_label,
    exceeds_max_atoms,
    extract_value,
    find_stored,
    find_stored_all,
    reproduce,
    resolve_bulk,
    run_task,
    summarize,
    write_vasp_inputs,
)


def __getattr__(name: str) -> Any:
    """Former names that moved into the library (`ssbflow.reproduce.runs._MOVED`): they
    still import from here, with a DeprecationWarning."""
    return getattr(runs, name)


__all__ = [
    "ML_CALCULATORS",
    "TASK_VERSION",
    "EntryResult",
    "MemberValue",
    "ReproduceOptions",
    "ReproduceResult",
    "ReproduceSummary",
    "Task",
    "TaskResult",
    "_surface_flow",
    "assemble",
    "build_tasks",
    "comparison_label",
    "exceeds_max_atoms",
    "extract_value",
    "find_stored",
    "find_stored_all",
    "reproduce",
    "resolve_bulk",
    "run_task",
    "summarize",
    "write_report",
    "write_vasp_inputs",
]
