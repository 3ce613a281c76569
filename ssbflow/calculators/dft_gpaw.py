"""GPAW plane-wave DFT: presets, validation and provenance (filled in by the DFT issue)."""

from __future__ import annotations

from typing import Any

from ssbflow.errors import InputError


def check_gpaw(elements: list[str], kwargs: dict[str, Any]) -> None:
    """Raise InputError when GPAW cannot run these elements with these settings."""
    raise InputError("the gpaw calculator is not wired in yet; use --calculator chgnet")


def make_gpaw_calculator(kwargs: dict[str, Any]):
    """Build the GPAW calculator."""
    raise InputError("the gpaw calculator is not wired in yet; use --calculator chgnet")


def gpaw_provenance(kwargs: dict[str, Any]) -> dict[str, Any]:
    """GPAW version, setups and parameters."""
    return {}
