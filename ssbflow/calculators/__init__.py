"""Calculator selection by name.

One factory serves every workflow: a calculator is named by a string and configured by a
plain dict of keyword arguments, both JSON-serialisable, so that Makers can carry them to
a FireWorks worker. Names:

``chgnet`` (default)
    CHGNet universal potential; pretrained weights ship inside the package (offline).
    ``{"model": "r2scan"}`` selects another shipped model (``CHGNet.load(model_name=...)``:
    ``0.3.0`` default, ``0.2.0``, ``r2scan``).
``sevennet``
    SevenNet universal potential (``pip install ssbflow[sevennet]``); weights ship inside.
    ``{"model": "7net-l3i5"}`` or ``{"model": "7net-mf-0", "modal": "PBE"}`` select other
    shipped models (default ``7net-0``).
``mace`` / ``matgl``
    through atomate2's calculator factory (``MACE-MP-0``, ``M3GNet``). Their weights are
    downloaded at run time unless a local model file is given, e.g.
    ``{"model": "/path/to/mace.model"}``; without one they are refused (offline).
``emt``
    ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O); for tests and
    metal/metal studies.
``lj``
    ASE's Lennard-Jones, for tests only.
``gpaw``
    GPAW plane-wave DFT with precision presets (``pip install ssbflow[dft]``).
``module.path:ClassName`` (or ``module.path.ClassName``)
    any ASE calculator class, constructed with the keyword arguments.

Short variant names (`resolve_variant`, for commands that compare several potentials):
``chgnet``, ``chgnet-r2scan``, ``sevennet``, ``sevennet-l3i5``, ``sevennet-mf-0`` (the PBE
head of the multi-fidelity model), ``gpaw:<preset>``, and every calculator name above.

Every family is one `CalculatorSpec` in `ssbflow.calculators.registry`; a name is
normalised once, by `resolve_calculator`, and the functions here are thin calls through
its spec.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ase.calculators.calculator import Calculator

from ssbflow.calculators.registry import (
    CALCULATORS,
    CHGNET_DEFAULT_MODEL,
    CHGNET_MODELS,
    SEVENNET_MF_MODALS,
    SPECS,
    CalculatorSpec,
    resolve_calculator,
    select_device,
)
from ssbflow.errors import InputError

#: Machine-learned potentials (level of theory "ML potential"), from the registry.
ML_CALCULATORS = frozenset(spec.name for spec in SPECS if spec.kind == "ml")

#: Keyword that selects the torch device of each ML calculator.
DEVICE_KEYWORDS = {spec.name: spec.device_keyword for spec in SPECS if spec.device_keyword}

#: Short variant name -> (calculator name, keyword arguments).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    label: (spec.name, dict(kwargs)) for spec in SPECS for label, kwargs in spec.variants.items()
}

#: Keyword arguments that do not change the model (left out of variant labels).
_NON_MODEL_KEYS = {"use_device", "device", "txt", "blas_threads"}


def normalize_name(name: str) -> str:
    """Canonical calculator name: lower-case for the built-in names, import paths as given.

    ``resolve_calculator(name).name``; prefer `resolve_calculator`, which returns the spec.
    """
    return resolve_calculator(name).name


def resolve_variant(text: str) -> tuple[str, dict[str, Any]]:
    """Normalise a short variant name into ``(calculator name, keyword arguments)``.

    ``chgnet-r2scan`` -> ``("chgnet", {"model": "r2scan"})``, ``sevennet-mf-0`` ->
    ``("sevennet", {"model": "7net-mf-0", "modal": "PBE"})``, ``gpaw:fast`` ->
    ``("gpaw", {"preset": "fast"})``; any other calculator name -> ``(name, {})``.

    Raises
    ------
    InputError
        Unknown name (the message lists the variants).
    """
    stripped = text.strip()
    low = stripped.lower()
    if low in VARIANTS:
        name, kwargs = VARIANTS[low]
        return name, dict(kwargs)
    head, sep, preset = low.partition(":")
    spec = CALCULATORS.get(head) if sep else None
    if spec is not None and spec.presets:
        return spec.name, spec.preset_kwargs(preset, text)
    try:
        return normalize_name(stripped), {}
    except InputError as exc:
        presets = [f"{s.name}:<preset>" for s in SPECS if s.presets]
        others = [n for n in sorted(CALCULATORS) if n not in VARIANTS]
        raise InputError(
            f"unknown calculator '{text}'; use one of {', '.join([*VARIANTS, *presets, *others])}"
            ", or an ASE calculator import path such as ase.calculators.emt:EMT",
            field="calculator_name",
        ) from exc


def variant_label(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """The short variant name of ``(name, kwargs)`` (inverse of `resolve_variant`).

    Keyword arguments other than the model selection (a device, ...) are ignored; a
    combination without a short name is written ``name{json kwargs}``.
    """
    spec = resolve_calculator(name)
    kwargs = {k: v for k, v in (kwargs or {}).items() if k not in _NON_MODEL_KEYS}
    label = spec.variant_label(kwargs)
    if label is not None:
        return label
    if not kwargs:
        return spec.name
    return f"{spec.name}{json.dumps(kwargs, sort_keys=True)}"


def package_version(name: str) -> str | None:
    """Version of the package that provides calculator ``name`` (None if not installed)."""
    return resolve_calculator(name).package_version()


def check_calculator(name: str, elements: Iterable[str], kwargs: dict | None = None) -> str:
    """Validate a calculator choice before anything runs.

    Parameters
    ----------
    name
        Calculator name or import path (see module docstring).
    elements
        Chemical symbols that the calculator must handle.
    kwargs
        Calculator keyword arguments.

    Returns
    -------
    str
        The canonical name.

    Raises
    ------
    InputError
        The calculator is not installed, it does not take a keyword argument, or it has
        no parameters for an element.
    """
    spec = resolve_calculator(name)
    spec.check(elements, kwargs or {})
    return spec.name


def device_kwargs(name: str, kwargs: dict[str, Any] | None, device: str = "auto") -> dict:
    """``kwargs`` with the device keyword of ML calculator ``name`` resolved on this machine.

    A device already given in ``kwargs`` wins; calculators without a device (EMT, LJ,
    GPAW, import paths) get ``kwargs`` unchanged. Call it where the calculation runs (on
    the FireWorks worker, not where the study is submitted).
    """
    return resolve_calculator(name).with_device(kwargs, device)


def device_of(name: str, kwargs: dict[str, Any] | None) -> str:
    """The device a calculator built from ``name`` and ``kwargs`` runs on ("cpu" for EMT...)."""
    return resolve_calculator(name).device_of(kwargs)


@lru_cache(maxsize=8)
def _cached(spec: CalculatorSpec, kwargs_json: str) -> Calculator:
    return spec.build(json.loads(kwargs_json))


def get_calculator(name: str, kwargs: dict[str, Any] | None = None) -> Calculator:
    """Construct (or reuse) the ASE calculator ``name`` with ``kwargs``.

    ML potentials are loaded once per process and reused: loading CHGNet costs about a
    second, and an ASE calculator resets its results whenever the atoms change.

    Parameters
    ----------
    name
        Calculator name or import path.
    kwargs
        Keyword arguments for the calculator (JSON-serialisable).

    Returns
    -------
    ase.calculators.calculator.Calculator
    """
    spec = resolve_calculator(name)
    kwargs = dict(kwargs or {})
    # model loaders print banners on stdout; keep stdout clean for --json output
    with contextlib.redirect_stdout(sys.stderr):
        if spec.cached:
            return _cached(spec, json.dumps(kwargs, sort_keys=True))
        return spec.build(kwargs)


def calculator_provenance(name: str, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What produced a number: calculator name, package version, model and settings."""
    return resolve_calculator(name).provenance(dict(kwargs or {}))


def level_of_theory(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """Short label: 'ML potential (chgnet)', 'DFT (GPAW, PBE, fast preset)', 'EMT', ..."""
    return resolve_calculator(name).level_of_theory(kwargs or {})


__all__ = [
    "CALCULATORS",
    "CHGNET_DEFAULT_MODEL",
    "CHGNET_MODELS",
    "DEVICE_KEYWORDS",
    "ML_CALCULATORS",
    "SEVENNET_MF_MODALS",
    "VARIANTS",
    "CalculatorSpec",
    "calculator_provenance",
    "check_calculator",
    "device_kwargs",
    "device_of",
    "get_calculator",
    "level_of_theory",
    "normalize_name",
    "package_version",
    "resolve_calculator",
    "resolve_variant",
    "select_device",
    "variant_label",
]
