"""Reproduce published findings: the reference set, the runs, and the report.

``ssbflow.reproduce.reference``
    the curated reference set (`load_reference_set`, `ReferenceRow`, claim parsing);
``ssbflow.reproduce.runs``
    one task per system a row needs, run through the workflows and compared
    (`reproduce`, `build_tasks`, `assemble`, `write_vasp_inputs`);
``ssbflow.reproduce.report``
    the Markdown report (`write_report`).

The names below were importable from the former module ``ssbflow.reproduce`` and stay
importable from here.
"""

from __future__ import annotations

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
    coexistence_chemical_potentials_eV,
    comparison_label,
    extract_value,
    find_stored,
    find_stored_all,
    match_terminations,
    reproduce,
    resolve_bulk,
    run_task,
    summarize,
    surface_at_coexistence,
    write_vasp_inputs,
)

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
    "coexistence_chemical_potentials_eV",
    "comparison_label",
    "extract_value",
    "find_stored",
    "find_stored_all",
    "match_terminations",
    "reproduce",
    "resolve_bulk",
    "run_task",
    "summarize",
    "surface_at_coexistence",
    "write_report",
    "write_vasp_inputs",
]
