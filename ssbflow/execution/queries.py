"""Queries of the results store that a workflow job makes (e.g. a comparison with an
earlier result). Jobs reach the store through ``jobflow.CURRENT_JOB.store``
(``JobConfig(expose_store=True)``) and pass it here; the query itself knows the stored
document layout (job documents with ``uuid``, ``completed_at`` and an ``output`` whose
``result_type`` is set, see `ssbflow.schemas.ResultDocument`).
"""

from __future__ import annotations

from typing import Any


def find_diffusion_result(store: Any, formula: str, calculator: str) -> dict | None:
    """The newest successful stored diffusion result of ``formula`` by ``calculator``.

    Parameters
    ----------
    store
        A connected jobflow ``JobStore`` (or anything with its ``query``).
    formula
        Reduced formula, as stored in ``output.formula``.
    calculator
        Canonical calculator name, as stored in ``output.calculator``.

    Returns
    -------
    dict or None
        The stored ``output`` dict plus its job ``uuid``; ``None`` when there is none.
    """
    docs = list(
        store.query(
            criteria={
                "output.result_type": "diffusion",
                "output.formula": formula,
                "output.calculator": calculator,
            },
            properties=["uuid", "completed_at", "output"],
            sort={"completed_at": -1},
            load=False,
        )
    )
    docs = [d for d in docs if d["output"].get("status", "successful") == "successful"]
    if not docs:
        return None
    return {"uuid": docs[0]["uuid"], **docs[0]["output"]}


__all__ = ["find_diffusion_result"]
