"""Helpers shared by the flows: reading energies from any task document, provenance."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

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


def with_calculator(maker: Maker, name: str, kwargs: dict[str, Any] | None = None) -> Maker:
    """A copy of ``maker`` whose every calculator maker uses calculator ``name``.

    Walks the dataclass fields recursively: a field holding a maker with a
    ``calculator_name`` field (`ssbflow.workflows.calc.CalcRelaxMaker`, ...) is replaced by
    a copy with ``calculator_name=name`` and ``calculator_kwargs=kwargs``; a field holding a
    flow maker is walked in turn; ``None`` and other makers (atomate2's VASP makers) are
    kept. Nothing is mutated.
    """
    if not dataclasses.is_dataclass(maker):
        return maker
    changes: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(maker)}
    if "calculator_name" in names:
        changes["calculator_name"] = name
        if "calculator_kwargs" in names:
            changes["calculator_kwargs"] = dict(kwargs or {})
    for f in dataclasses.fields(maker):
        value = getattr(maker, f.name)
        if isinstance(value, Maker) and dataclasses.is_dataclass(value):
            new = with_calculator(value, name, kwargs)
            if new is not value:
                changes[f.name] = new
    return dataclasses.replace(maker, **changes) if changes else maker


def calculators_of(maker: Maker | None) -> list[tuple[str, dict[str, Any]]]:
    """Every distinct ``(calculator name, kwargs)`` used by ``maker`` and its sub-makers."""
    found: list[tuple[str, dict[str, Any]]] = []
    if maker is None or not dataclasses.is_dataclass(maker):
        return found
    names = {f.name for f in dataclasses.fields(maker)}
    if "calculator_name" in names:
        found.append(maker_calculator(maker))
    for f in dataclasses.fields(maker):
        value = getattr(maker, f.name)
        if isinstance(value, Maker):
            found.extend(c for c in calculators_of(value) if c not in found)
    return found


class CalculatorMixin:
    """One convention for every flow maker: ``maker.with_calculator(name, kwargs)``.

    Flow makers hold calculator makers as fields (`ssbflow.workflows.calc`); this swaps
    the calculator of all of them at once and returns a copy (`with_calculator`).
    """

    def with_calculator(self, name: str, kwargs: dict[str, Any] | None = None) -> Self:
        """A copy of this maker whose every calculator maker uses calculator ``name``."""
        return with_calculator(self, name, kwargs)  # type: ignore[arg-type,return-value]


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
