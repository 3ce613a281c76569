"""Stored result summaries: list them with filters, or load one by uuid prefix.

What ``ssbflow results`` and ``ssbflow results show`` print. A summary is any job output
whose ``output.result_type`` is set (every `ssbflow.schemas.ResultDocument`); local runs
and FireWorks workers store them alike in ``get_jobstore(settings)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ssbflow.errors import InputError
from ssbflow.execution.launchpad import database_errors
from ssbflow.execution.store import describe_store, get_jobstore
from ssbflow.settings import SsbflowSettings

#: Fields of a result document that are not listed as values.
_BASE_FIELDS = {
    "result_type",
    "status",
    "failure_reason",
    "system",
    "formula",
    "calculator",
    "provenance",
    "structures",
    "warnings",
}


def _numeric_values(output: dict[str, Any]) -> dict[str, float | int]:
    """Top-level numbers of a result document (names carry their units, e.g. _J_per_m2)."""
    return {
        k: v
        for k, v in output.items()
        if k not in _BASE_FIELDS and isinstance(v, int | float) and not isinstance(v, bool)
    }


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc.get("output") or {}
    completed = doc.get("completed_at")
    return {
        "uuid": doc["uuid"],
        "index": doc.get("index"),
        "name": doc.get("name"),
        "completed_at": completed.isoformat() if isinstance(completed, datetime) else completed,
        "result_type": out.get("result_type"),
        "status": out.get("status", "successful"),
        "failure_reason": out.get("failure_reason"),
        "system": out.get("system"),
        "formula": out.get("formula"),
        "calculator": out.get("calculator"),
        "warnings": out.get("warnings") or [],
        "structure_names": sorted((out.get("structures") or {}).keys()),
        "values": _numeric_values(out),
    }


def query_results(
    settings: SsbflowSettings,
    result_type: str | None = None,
    system: str | None = None,
    formula: str | None = None,
    calculator: str | None = None,
) -> list[dict[str, Any]]:
    """Every stored summary (latest index per uuid) matching the filters, oldest first."""
    from ssbflow.calculators import normalize_name

    criteria: dict[str, Any] = {"output.result_type": {"$exists": True}}
    if result_type:
        criteria["output.result_type"] = result_type
    if system:
        criteria["output.system"] = system
    if formula:
        criteria["output.formula"] = _reduced_formula(formula)
    if calculator:
        criteria["output.calculator"] = normalize_name(calculator)
    store = get_jobstore(settings)
    latest: dict[str, dict[str, Any]] = {}
    with database_errors(f"results store ({describe_store(settings)})"):
        store.connect()
        try:
            for doc in store.query(criteria=criteria, load=False):
                if not isinstance(doc.get("output"), dict):
                    continue
                previous = latest.get(doc["uuid"])
                if previous is None or doc.get("index", 1) > previous.get("index", 1):
                    latest[doc["uuid"]] = doc
        finally:
            store.close()
    rows = [_row(doc) for doc in latest.values()]
    rows.sort(key=lambda r: (str(r["completed_at"]), r["uuid"]))
    return rows


def get_result(settings: SsbflowSettings, uuid: str) -> dict[str, Any]:
    """The latest stored summary whose uuid starts with ``uuid`` (InputError if not unique)."""

    prefix = uuid.strip().lower()
    if len(prefix) < 4:
        raise InputError(f"uuid '{uuid}' is too short; give at least 4 characters")
    matches = [
        r["uuid"] for r in query_results(settings) if str(r["uuid"]).lower().startswith(prefix)
    ]
    if not matches:
        raise InputError(f"no stored result with uuid '{uuid}'; list them with 'ssbflow results'")
    if len(set(matches)) > 1:
        raise InputError(f"uuid prefix '{uuid}' matches {len(matches)} results; give more of it")
    store = get_jobstore(settings)
    with database_errors(f"results store ({describe_store(settings)})"):
        store.connect()
        try:
            doc = store.query_one({"uuid": matches[0]}, sort={"index": -1}, load=True)
        finally:
            store.close()
    if doc is None:  # pragma: no cover - deleted between the two queries
        raise InputError(f"result {matches[0]} disappeared from the store; retry")
    return doc


def _reduced_formula(formula: str) -> str:
    from pymatgen.core import Composition

    try:
        return Composition(formula).reduced_formula
    except (ValueError, KeyError) as exc:
        raise InputError(
            f"formula '{formula}' is not a chemical formula, e.g. Li3PS4", field="formula"
        ) from exc
