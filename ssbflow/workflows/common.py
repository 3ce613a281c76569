"""Helpers shared by the flows: reading energies from any task document, provenance."""

from __future__ import annotations

import math
from typing import Any

from jobflow import Maker

from ssbflow.schemas import Provenance


def maker_calculator(maker: Maker | None) -> tuple[str, dict[str, Any]]:
    """Calculator name and kwargs of an ssbflow Calc maker; the class name otherwise.

    atomate2's VASP makers, for example, are reported as their class name with no
    keyword arguments (their input set is recorded in their own task documents).
    """
    if maker is None:
        return "none", {}
    name = getattr(maker, "calculator_name", None)
    if name is None:
        return type(maker).__name__, {}
    return name, dict(getattr(maker, "calculator_kwargs", {}) or {})


def provenance_for(
    maker: Maker | None, settings: dict[str, Any], upstream: list[str] | None = None
) -> Provenance:
    """Provenance of a result computed with ``maker``'s calculator."""
    name, kwargs = maker_calculator(maker)
    if maker is None or getattr(maker, "calculator_name", None) is None:
        return Provenance(
            calculator=name, level_of_theory=name, settings=settings, upstream_uuids=upstream or []
        )
    return Provenance.from_calculator(name, kwargs, settings=settings, upstream_uuids=upstream)


def task_energy_eV(doc: Any) -> float | None:
    """Final total energy (eV) of an atomate2 task document (ASE or VASP), if finite."""
    if doc is None:
        return None
    output = doc.get("output") if isinstance(doc, dict) else getattr(doc, "output", None)
    if output is None:
        return None
    energy = output.get("energy") if isinstance(output, dict) else getattr(output, "energy", None)
    if energy is None or not math.isfinite(float(energy)):
        return None
    return float(energy)


def task_structure(doc: Any):
    """Final structure of an atomate2 task document (ASE or VASP)."""
    from pymatgen.core import Structure

    s = doc.get("structure") if isinstance(doc, dict) else getattr(doc, "structure", None)
    if isinstance(s, dict):
        s = Structure.from_dict(s)
    return s


def task_failure(doc: Any, what: str) -> str | None:
    """Why a task's result cannot be used (None when it can)."""
    if doc is None:
        return f"{what}: the calculation did not run or raised"
    if task_energy_eV(doc) is None:
        return f"{what}: no finite energy"
    get = doc.get if isinstance(doc, dict) else lambda k, d=None: getattr(doc, k, d)
    converged = get("is_force_converged", None)
    if converged is False:
        output = get("output", None)
        steps = (
            output.get("n_steps") if isinstance(output, dict) else getattr(output, "n_steps", None)
        )
        return f"{what}: relaxation did not reach the force criterion in {steps} steps"
    return None


def task_n_steps(doc: Any) -> int:
    """Force evaluations of a task: ionic steps of a relaxation, 1 for a single point."""
    if doc is None:
        return 0
    output = doc.get("output") if isinstance(doc, dict) else getattr(doc, "output", None)
    steps = output.get("n_steps") if isinstance(output, dict) else getattr(output, "n_steps", None)
    return int(steps) if steps else 1
