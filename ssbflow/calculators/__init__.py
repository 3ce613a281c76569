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

Short variant names (`resolve_variant`, for commands that compare several potentials):
``chgnet``, ``chgnet-r2scan``, ``sevennet``, ``sevennet-l3i5``, ``sevennet-mf-0`` (the PBE
head of the multi-fidelity model), ``gpaw:<preset>``, and every calculator name above.
``mace`` / ``matgl`` / any atomate2 ``MLFF`` name
    through atomate2's calculator factory. Their weights are downloaded at run time unless
    a local model file is given, e.g. ``{"model": "/path/to/mace.model"}``.
``emt``
    ASE's effective-medium theory (Al, Cu, Ag, Au, Ni, Pd, Pt, H, C, N, O); for tests and
    metal/metal studies.
``lj``
    ASE's Lennard-Jones, for tests only.
``gpaw``
    GPAW plane-wave DFT with precision presets (``pip install ssbflow[dft]``).
``module.path:ClassName`` (or ``module.path.ClassName``)
    any ASE calculator class, constructed with the keyword arguments.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ase.calculators.calculator import Calculator

from ssbflow.errors import InputError

#: ML potentials whose loaded model is reused within a process (loading costs seconds).
_CACHED = {"chgnet", "sevennet", "mace", "matgl"}

#: Machine-learned potentials (level of theory "ML potential").
ML_CALCULATORS = frozenset({"chgnet", "sevennet", "mace", "matgl"})

#: Distribution that provides each named calculator, for provenance and install hints.
_PACKAGES = {
    "chgnet": ("chgnet", "pip install chgnet"),
    "sevennet": ("sevenn", "pip install 'ssbflow[sevennet]'"),
    "mace": ("mace-torch", "pip install mace-torch"),
    "matgl": ("matgl", "pip install matgl"),
    "emt": ("ase", "pip install ase"),
    "lj": ("ase", "pip install ase"),
    "gpaw": (
        "gpaw",
        "pip install 'ssbflow[dft]' (on Debian first: apt-get install libxc-dev "
        "libopenblas-dev, and build with CC=g++)",
    ),
}

#: Elements with CHGNet/SevenNet parameters: both were trained on MPtrj, Z = 1..94.
_MPTRJ_MAX_Z = 94


def normalize_name(name: str) -> str:
    """Canonical calculator name: lower-case for the built-in names, import paths as given."""
    stripped = name.strip()
    if not stripped:
        raise InputError("empty calculator name; use e.g. --calculator chgnet")
    low = stripped.lower()
    aliases = {"7net": "sevennet", "sevenn": "sevennet", "lennard-jones": "lj", "mace-mp": "mace"}
    low = aliases.get(low, low)
    if low in _PACKAGES:
        return low
    if ":" in stripped or "." in stripped:
        return stripped
    known = ", ".join(sorted(_PACKAGES))
    raise InputError(
        f"unknown calculator '{name}'; use one of {known}, or an ASE calculator import path "
        "such as ase.calculators.emt:EMT"
    )


#: Models shipped inside the chgnet package (``CHGNet.load(model_name=...)``).
CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")
#: Default CHGNet model of ``CHGNet.load``.
CHGNET_DEFAULT_MODEL = "0.3.0"
#: Modalities (fidelity heads) of SevenNet's multi-fidelity models.
SEVENNET_MF_MODALS = ("PBE", "R2SCAN")

#: Short variant name -> (calculator name, keyword arguments).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chgnet": ("chgnet", {}),
    "chgnet-0.3.0": ("chgnet", {}),
    "chgnet-r2scan": ("chgnet", {"model": "r2scan"}),
    "sevennet": ("sevennet", {}),
    "sevennet-0": ("sevennet", {}),
    "sevennet-l3i5": ("sevennet", {"model": "7net-l3i5"}),
    "sevennet-mf-0": ("sevennet", {"model": "7net-mf-0", "modal": "PBE"}),
}


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
    if low.startswith("gpaw:"):
        from ssbflow.calculators.dft_gpaw import PRESETS

        preset = low.split(":", 1)[1]
        if preset not in PRESETS:
            raise InputError(
                f"unknown gpaw preset '{preset}' in '{text}'; use gpaw:" + ", gpaw:".join(PRESETS),
                field="calculator_name",
            )
        return "gpaw", {"preset": preset}
    try:
        return normalize_name(stripped), {}
    except InputError as exc:
        raise InputError(
            f"unknown calculator '{text}'; use one of {', '.join(VARIANTS)}, gpaw:<preset>, "
            f"{', '.join(n for n in sorted(_PACKAGES) if n not in VARIANTS)}, or an ASE "
            "calculator import path such as ase.calculators.emt:EMT",
            field="calculator_name",
        ) from exc


def variant_label(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """The short variant name of ``(name, kwargs)`` (inverse of `resolve_variant`).

    Keyword arguments other than the model selection (a device, ...) are ignored; a
    combination without a short name is written ``name{json kwargs}``.
    """
    canonical = normalize_name(name)
    kwargs = {k: v for k, v in (kwargs or {}).items() if k not in _NON_MODEL_KEYS}
    for label, (vname, vkwargs) in VARIANTS.items():
        if vname == canonical and vkwargs == kwargs and label not in {"chgnet-0.3.0", "sevennet-0"}:
            return label
    if canonical == "gpaw" and set(kwargs) <= {"preset"}:
        return f"gpaw:{kwargs.get('preset', 'standard')}"
    if not kwargs:
        return canonical
    return f"{canonical}{json.dumps(kwargs, sort_keys=True)}"


#: Keyword arguments that do not change the model (left out of variant labels).
_NON_MODEL_KEYS = {"use_device", "device", "txt", "blas_threads"}


def _import_path(name: str) -> type[Calculator]:
    module_name, _, attr = name.rpartition(":") if ":" in name else name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(
            f"cannot import calculator '{name}': {exc}; give 'package.module:ClassName' "
            "of an installed ASE calculator"
        ) from exc
    return cls


def package_version(name: str) -> str | None:
    """Version of the package that provides calculator ``name`` (None if not installed)."""
    name = normalize_name(name)
    dist = _PACKAGES.get(name, (name.split(".")[0].split(":")[0], ""))[0]
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _require(name: str) -> None:
    dist, hint = _PACKAGES[name]
    module = {"mace-torch": "mace", "sevenn": "sevenn"}.get(dist, dist)
    if importlib.util.find_spec(module) is None:
        raise InputError(f"calculator '{name}' is not installed; install it with: {hint}")


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
        The calculator is not installed, or it has no parameters for an element.
    """
    from pymatgen.core import Element

    canonical = normalize_name(name)
    kwargs = kwargs or {}
    elements = sorted(set(elements))
    if canonical in _PACKAGES:
        _require(canonical)
    else:
        from ssbflow.validation import check_calculator_class

        check_calculator_class(_import_path(canonical), canonical)
    _check_kwargs(canonical, kwargs)
    _check_model(canonical, kwargs)
    if canonical == "emt":
        from ase.calculators.emt import parameters

        missing = [el for el in elements if el not in parameters]
        if missing:
            raise InputError(
                f"EMT has no parameters for {', '.join(missing)}; EMT covers "
                f"{', '.join(sorted(parameters))}. Use --calculator chgnet instead"
            )
    elif canonical in {"chgnet", "sevennet"}:
        missing = [el for el in elements if Element(el).Z > _MPTRJ_MAX_Z]
        if missing:
            raise InputError(
                f"{canonical} was not trained on {', '.join(missing)}; choose another calculator"
            )
    elif canonical in {"mace", "matgl"} and "model" not in kwargs:
        raise InputError(
            f"calculator '{canonical}' downloads its weights at run time, which fails offline; "
            'give a local model file, e.g. --calculator-kwargs \'{"model": "/path/model"}\''
        )
    elif canonical == "gpaw":
        from ssbflow.calculators.dft_gpaw import check_gpaw

        check_gpaw(elements, kwargs)
    return canonical


#: Keyword that selects the torch device of each ML calculator.
DEVICE_KEYWORDS = {"chgnet": "use_device", "sevennet": "device", "mace": "device"}


def select_device(requested: str = "auto") -> str:
    """Torch device for an ML calculator: "cuda" when torch sees a GPU, else "cpu".

    Parameters
    ----------
    requested
        "auto" (CUDA if ``torch.cuda.is_available()``), "cpu" or "cuda".

    Raises
    ------
    InputError
        An unknown device, or "cuda" on a machine where torch sees no GPU.
    """
    requested = str(requested).strip().lower()
    if requested not in {"auto", "cpu", "cuda"}:
        raise InputError(f"unknown device '{requested}'; use auto, cpu or cuda")
    if requested == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        available = False
    else:
        available = bool(torch.cuda.is_available())
    if requested == "cuda" and not available:
        raise InputError("device 'cuda' requested but torch sees no GPU here; use auto or cpu")
    return "cuda" if available else "cpu"


def device_kwargs(name: str, kwargs: dict[str, Any] | None, device: str = "auto") -> dict:
    """``kwargs`` with the device keyword of ML calculator ``name`` resolved on this machine.

    A device already given in ``kwargs`` wins; calculators without a device (EMT, LJ,
    GPAW, import paths) get ``kwargs`` unchanged. Call it where the calculation runs (on
    the FireWorks worker, not where the study is submitted).
    """
    canonical = normalize_name(name)
    out = dict(kwargs or {})
    key = DEVICE_KEYWORDS.get(canonical)
    if key is not None and key not in out:
        out[key] = select_device(device)
    return out


def device_of(name: str, kwargs: dict[str, Any] | None) -> str:
    """The device a calculator built from ``name`` and ``kwargs`` runs on ("cpu" for EMT...)."""
    key = DEVICE_KEYWORDS.get(normalize_name(name))
    if key is None:
        return "cpu"
    return str((kwargs or {}).get(key) or select_device("auto"))


#: Calculator classes whose constructor keywords are checked (gpaw: `check_gpaw`;
#: mace/matgl go through atomate2's factory and are not checked).
_CLASSES = {
    "chgnet": "chgnet.model.dynamics:CHGNetCalculator",
    "sevennet": "sevenn.calculator:SevenNetCalculator",
    "emt": "ase.calculators.emt:EMT",
    "lj": "ase.calculators.lj:LennardJones",
}


def _check_kwargs(canonical: str, kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments the calculator's constructor does not take (issue 10)."""
    from ssbflow.validation import check_calculator_kwargs

    if not kwargs or canonical in {"gpaw", "mace", "matgl"}:
        return
    cls = _import_path(_CLASSES.get(canonical, canonical))
    check_calculator_kwargs(cls, kwargs, canonical)


def _check_model(canonical: str, kwargs: dict[str, Any]) -> None:
    """Refuse a model name that the package does not ship (offline: no download)."""
    model = kwargs.get("model")
    if canonical == "chgnet" and model is not None and str(model) not in CHGNET_MODELS:
        raise InputError(
            f"unknown CHGNet model '{model}'; the chgnet package ships {', '.join(CHGNET_MODELS)}",
            field="calculator_kwargs",
        )
    if canonical == "sevennet" and "modal" in kwargs:
        modal = kwargs["modal"]
        if "mf" in str(model or "").lower() and str(modal) not in SEVENNET_MF_MODALS:
            raise InputError(
                f"unknown SevenNet modal '{modal}' for {model}; use one of "
                f"{', '.join(SEVENNET_MF_MODALS)} (PBE for PBE-like energies)",
                field="calculator_kwargs",
            )


def _build(name: str, kwargs: dict[str, Any]) -> Calculator:
    if name == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        kwargs = {"use_device": select_device("auto"), **kwargs}
        model = kwargs.pop("model", None)
        if isinstance(model, str):
            from chgnet.model import CHGNet

            model = CHGNet.load(model_name=model, use_device=kwargs["use_device"])
        return CHGNetCalculator(model=model, **kwargs)
    if name == "sevennet":
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(**{"model": "7net-0", "device": select_device("auto"), **kwargs})
    if name in {"mace", "matgl"}:
        from atomate2.forcefields.utils import ase_calculator

        meta = {"mace": "MACE-MP-0", "matgl": "M3GNet"}[name]
        return ase_calculator(meta, **kwargs)
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT(**kwargs)
    if name == "lj":
        from ase.calculators.lj import LennardJones

        return LennardJones(**kwargs)
    if name == "gpaw":
        from ssbflow.calculators.dft_gpaw import make_gpaw_calculator

        return make_gpaw_calculator(kwargs)
    return _import_path(name)(**kwargs)


@lru_cache(maxsize=8)
def _cached(name: str, kwargs_json: str) -> Calculator:
    return _build(name, json.loads(kwargs_json))


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
    canonical = normalize_name(name)
    kwargs = dict(kwargs or {})
    # model loaders print banners on stdout; keep stdout clean for --json output
    with contextlib.redirect_stdout(sys.stderr):
        if canonical in _CACHED:
            return _cached(canonical, json.dumps(kwargs, sort_keys=True))
        return _build(canonical, kwargs)


def calculator_provenance(name: str, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What produced a number: calculator name, package version, model and settings."""
    canonical = normalize_name(name)
    kwargs = dict(kwargs or {})
    model = kwargs.get("model")
    if model is None:
        model = {
            "chgnet": "CHGNet pretrained (default in chgnet package)",
            "sevennet": "7net-0",
            "emt": "ASE EMT",
            "lj": "ASE LennardJones",
        }.get(canonical)
    info: dict[str, Any] = {
        "calculator": canonical,
        "package_version": package_version(canonical),
        "model": str(model) if model is not None else None,
        "calculator_kwargs": kwargs,
    }
    if canonical == "chgnet":
        name_ = str(kwargs.get("model") or CHGNET_DEFAULT_MODEL)
        info["model"] = f"CHGNet {name_} pretrained weights (chgnet {package_version('chgnet')})"
    if canonical == "sevennet":
        name_ = str(kwargs.get("model") or "7net-0")
        modal = kwargs.get("modal")
        info["model"] = f"SevenNet {name_}" + (f", modal {modal}" if modal else "")
    if canonical == "gpaw":
        from ssbflow.calculators.dft_gpaw import gpaw_provenance

        info.update(gpaw_provenance(kwargs))
    return info


def level_of_theory(name: str, kwargs: dict[str, Any] | None = None) -> str:
    """Short label: 'ML potential (chgnet)', 'DFT (GPAW, PBE, fast preset)', 'EMT', ..."""
    canonical = normalize_name(name)
    kwargs = kwargs or {}
    if canonical == "gpaw":
        # the preset matters: fast and standard differ by 0.05-0.1 J/m² on surface energies
        return f"DFT (GPAW, {kwargs.get('xc', 'PBE')}, {kwargs.get('preset', 'standard')} preset)"
    if canonical in {"chgnet", "sevennet", "mace", "matgl"}:
        return f"ML potential ({canonical})"
    if canonical in {"emt", "lj"}:
        return f"empirical potential ({canonical.upper()})"
    return f"ASE calculator ({canonical})"
