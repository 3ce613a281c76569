"""Pydantic building blocks shared by every ssbflow result document.

Every summary document that ssbflow stores derives from `ResultDocument`, so that
``ssbflow results`` can list and filter all result types the same way:

- ``result_type``: "adhesion", "surface_energy", "diffusion", "phonons", ...;
- ``status``: "successful" or "failed"; a failed result carries ``failure_reason`` and
  never a number in place of the missing value;
- ``system`` and ``formula``: what was computed, for queries;
- ``calculator``: the canonical calculator name, and `Provenance` for the details;
- ``structures``: the structures worth writing to files (``ssbflow results show``).
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow import __version__
from ssbflow.calculators import calculator_provenance, level_of_theory


class Provenance(BaseModel):
    """What produced a result: code versions, calculator, settings and upstream jobs."""

    ssbflow_version: str = Field(__version__, description="ssbflow version")
    calculator: str = Field(..., description="Canonical calculator name")
    level_of_theory: str = Field(..., description="e.g. 'ML potential (chgnet)'")
    package_version: str | None = Field(None, description="Version of the calculator package")
    model: str | None = Field(None, description="Model or potential (ML weights, PAW setups)")
    calculator_kwargs: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Workflow settings (Maker fields) that produced it"
    )
    upstream_uuids: list[str] = Field(default_factory=list, description="uuids of input jobs")
    python_version: str = Field(default_factory=platform.python_version)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = Field(default_factory=dict, description="Calculator-specific details")

    @classmethod
    def from_calculator(
        cls,
        calculator: str,
        calculator_kwargs: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        upstream_uuids: list[str] | None = None,
    ) -> Provenance:
        """Build provenance for ``calculator`` with its keyword arguments."""
        info = calculator_provenance(calculator, calculator_kwargs)
        extra = {
            k: v
            for k, v in info.items()
            if k not in {"calculator", "package_version", "model", "calculator_kwargs"}
        }
        return cls(
            calculator=info["calculator"],
            level_of_theory=level_of_theory(calculator, calculator_kwargs),
            package_version=info["package_version"],
            model=info["model"],
            calculator_kwargs=info["calculator_kwargs"],
            settings=settings or {},
            upstream_uuids=upstream_uuids or [],
            extra=extra,
        )


class ResultDocument(BaseModel):
    """Common fields of every stored ssbflow summary."""

    result_type: str = Field(..., description="adhesion | surface_energy | diffusion | phonons")
    status: Literal["successful", "failed"] = "successful"
    failure_reason: str | None = Field(None, description="Why the result is missing, if failed")
    system: str = Field(..., description="Human-readable system, e.g. 'Li/Li2O' or 'Li3PS4'")
    formula: str = Field(..., description="Reduced formula (electrolyte for interfaces)")
    calculator: str = Field(..., description="Canonical calculator name")
    provenance: Provenance
    structures: dict[str, Structure] = Field(
        default_factory=dict, description="Named structures worth writing to files"
    )
    warnings: list[str] = Field(default_factory=list)
    tags: list[str] = Field(
        default_factory=list, description="Free labels for queries, e.g. 'reference:IF-05'"
    )


def as_model(value: Any, model: type[BaseModel]) -> Any:
    """``value`` as a ``model`` instance when it is a dict (monty's ``@`` keys dropped).

    The one place where a stored document (a plain dict, as jobflow hands references
    over) becomes its pydantic model; ``None`` and instances pass through unchanged.
    """
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, dict):
        return model.model_validate({k: v for k, v in value.items() if not k.startswith("@")})
    return value
