"""The calculator registry: one `CalculatorSpec` per calculator family.

A calculator name is normalised once, at the edge, by `resolve_calculator`; everything
that depends on the family (is it installed, which elements and keyword arguments it
takes, how it is built, its level of theory, its provenance, its torch device keyword)
is a field or a method of the spec, so no code outside the spec definitions switches on
name strings. The public functions of `ssbflow.calculators` are thin calls through it.

Families: ``chgnet``, ``sevennet`` (MPtrj-trained universal potentials whose weights ship
inside their packages), ``mace`` and ``matgl`` (atomate2's calculator factory; weights
from a local file), ``emt`` and ``lj`` (ASE's empirical potentials), ``gpaw`` (plane-wave
DFT with precision presets) and any ASE calculator class given by its import path.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from ase.calculators.calculator import Calculator

from ssbflow.errors import InputError

#: What a calculator is: machine-learned, DFT, empirical, or an ASE class given by path.
Kind = Literal["ml", "dft", "empirical", "ase"]

#: Models shipped inside the chgnet package (``CHGNet.load(model_name=...)``).
CHGNET_MODELS = ("0.3.0", "0.2.0", "r2scan")
#: Default CHGNet model of ``CHGNet.load``.
CHGNET_DEFAULT_MODEL = "0.3.0"
#: Modalities (fidelity heads) of SevenNet's multi-fidelity models.
SEVENNET_MF_MODALS = ("PBE", "R2SCAN")
#: Elements with CHGNet/SevenNet parameters: both were trained on MPtrj, Z = 1..94.
MPTRJ_MAX_Z = 94

_IMPORT_PATH_EXAMPLE = "ase.calculators.emt:EMT"


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


def import_calculator_class(path: str) -> type[Calculator]:
    """The object named by ``package.module:ClassName`` (or ``package.module.ClassName``).

    Raises
    ------
    InputError
        The module or the attribute cannot be imported (field ``calculator_name``).
    """
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(
            f"cannot import calculator '{path}': {exc}; give 'package.module:ClassName' "
            "of an installed ASE calculator",
            field="calculator_name",
        ) from exc
    return cls


@dataclass(frozen=True)
class CalculatorSpec:
    """Everything ssbflow knows about one calculator family.

    Parameters
    ----------
    name
        Canonical name (lower case), as stored in documents.
    kind
        ``"ml"``, ``"dft"``, ``"empirical"`` or ``"ase"`` (an import path).
    package
        Distribution that provides the calculator (provenance, install hint).
    install_hint
        How to install ``package``.
    aliases
        Other accepted spellings (lower case).
    module
        Importable module whose presence means "installed" (default: ``package``).
    calculator_class
        Import path of the ASE calculator class; keyword arguments are checked against
        its constructor (``None``: not checked).
    device_keyword
        Constructor keyword that selects the torch device (``None``: runs on the CPU).
    cached
        The loaded model is reused within a process (loading costs seconds).
    model
        Provenance model description when the keyword arguments name none.
    variants
        Short variant names -> keyword arguments (`ssbflow.calculators.resolve_variant`).
    hidden_variants
        Variant names that are accepted but never written by `variant_label`.
    """

    name: str
    kind: Kind
    package: str
    install_hint: str = ""
    aliases: tuple[str, ...] = ()
    module: str | None = None
    calculator_class: str | None = None
    device_keyword: str | None = None
    cached: bool = False
    model: str | None = None
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    hidden_variants: tuple[str, ...] = ()

    # -- installation and provenance -----------------------------------------------------
    def package_version(self) -> str | None:
        """Version of the installed distribution (None if not installed)."""
        try:
            return version(self.package)
        except PackageNotFoundError:
            return None

    def check_installed(self) -> None:
        """Raise InputError (with the install hint) when the calculator cannot be imported."""
        if importlib.util.find_spec(self.module or self.package) is None:
            raise InputError(
                f"calculator '{self.name}' is not installed; install it with: {self.install_hint}",
                field="calculator_name",
            )

    def level_of_theory(self, kwargs: Mapping[str, Any]) -> str:
        """Short label: 'ML potential (chgnet)', 'empirical potential (EMT)', ..."""
        if self.kind == "ml":
            return f"ML potential ({self.name})"
        if self.kind == "empirical":
            return f"empirical potential ({self.name.upper()})"
        return f"ASE calculator ({self.name})"

    def model_description(self, kwargs: Mapping[str, Any]) -> str | None:
        """The model (weights, parameter set) that ``kwargs`` select, for provenance."""
        model = kwargs.get("model")
        if model is None:
            model = self.model
        return str(model) if model is not None else None

    def provenance(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """What produced a number: calculator name, package version, model and settings."""
        return {
            "calculator": self.name,
            "package_version": self.package_version(),
            "model": self.model_description(kwargs),
            "calculator_kwargs": dict(kwargs),
        }

    # -- validation ----------------------------------------------------------------------
    def check(self, elements: Iterable[str], kwargs: Mapping[str, Any]) -> None:
        """Installed, keyword arguments accepted, every element covered (else InputError)."""
        self.check_installed()
        self.check_kwargs(kwargs)
        self.check_elements(sorted(set(elements)), kwargs)

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        """Refuse keyword arguments the calculator's constructor does not take (issue 10)."""
        if not kwargs or self.calculator_class is None:
            return
        from ssbflow.validation import check_calculator_kwargs

        check_calculator_kwargs(
            import_calculator_class(self.calculator_class), dict(kwargs), self.name
        )

    def check_elements(self, elements: list[str], kwargs: Mapping[str, Any]) -> None:
        """Raise InputError for an element the calculator has no parameters for."""

    # -- building ------------------------------------------------------------------------
    def build(self, kwargs: dict[str, Any]) -> Calculator:
        """A new calculator from ``kwargs`` (callers cache it when `cached`)."""
        return import_calculator_class(self.calculator_class or self.name)(**kwargs)

    def with_device(self, kwargs: Mapping[str, Any] | None, device: str = "auto") -> dict:
        """``kwargs`` with the device keyword resolved on this machine (a given one wins)."""
        out = dict(kwargs or {})
        key = self.device_keyword
        if key is not None and key not in out:
            out[key] = select_device(device)
        return out

    def device_of(self, kwargs: Mapping[str, Any] | None) -> str:
        """The device the calculator built from ``kwargs`` runs on ("cpu" without one)."""
        if self.device_keyword is None:
            return "cpu"
        return str((kwargs or {}).get(self.device_keyword) or select_device("auto"))

    # -- short variant names -------------------------------------------------------------
    @property
    def presets(self) -> tuple[str, ...]:
        """Precision presets written ``name:<preset>`` (none for most calculators)."""
        return ()

    def preset_kwargs(self, preset: str, text: str) -> dict[str, Any]:
        """Keyword arguments of ``name:<preset>`` (``text`` is the whole variant name)."""
        raise InputError(f"calculator '{self.name}' has no presets", field="calculator_name")

    def variant_label(self, kwargs: Mapping[str, Any]) -> str | None:
        """The short variant name of the model-selecting ``kwargs`` (None: has none)."""
        for label, vkwargs in self.variants.items():
            if dict(vkwargs) == dict(kwargs) and label not in self.hidden_variants:
                return label
        return None


@dataclass(frozen=True)
class MptrjSpec(CalculatorSpec):
    """A universal potential trained on MPtrj: elements up to Z = 94."""

    def check_elements(self, elements: list[str], kwargs: Mapping[str, Any]) -> None:
        from pymatgen.core import Element

        missing = [el for el in elements if Element(el).Z > MPTRJ_MAX_Z]
        if missing:
            raise InputError(
                f"{self.name} was not trained on {', '.join(missing)}; choose another calculator",
                field="calculator_name",
            )


@dataclass(frozen=True)
class ChgnetSpec(MptrjSpec):
    """CHGNet: models shipped in the package, selected by ``{"model": ...}``."""

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        super().check_kwargs(kwargs)
        model = kwargs.get("model")
        if model is not None and str(model) not in CHGNET_MODELS:
            raise InputError(
                f"unknown CHGNet model '{model}'; the chgnet package ships "
                f"{', '.join(CHGNET_MODELS)}",
                field="calculator_kwargs",
            )

    def model_description(self, kwargs: Mapping[str, Any]) -> str | None:
        name = str(kwargs.get("model") or CHGNET_DEFAULT_MODEL)
        return f"CHGNet {name} pretrained weights (chgnet {self.package_version()})"

    def build(self, kwargs: dict[str, Any]) -> Calculator:
        from chgnet.model.dynamics import CHGNetCalculator

        kwargs = {"use_device": select_device("auto"), **kwargs}
        model = kwargs.pop("model", None)
        if isinstance(model, str):
            from chgnet.model import CHGNet

            model = CHGNet.load(model_name=model, use_device=kwargs["use_device"])
        return CHGNetCalculator(model=model, **kwargs)


@dataclass(frozen=True)
class SevennetSpec(MptrjSpec):
    """SevenNet: ``{"model": ...}`` and, for multi-fidelity models, ``{"modal": ...}``."""

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        super().check_kwargs(kwargs)
        if "modal" not in kwargs:
            return
        model, modal = kwargs.get("model"), kwargs["modal"]
        if "mf" in str(model or "").lower() and str(modal) not in SEVENNET_MF_MODALS:
            raise InputError(
                f"unknown SevenNet modal '{modal}' for {model}; use one of "
                f"{', '.join(SEVENNET_MF_MODALS)} (PBE for PBE-like energies)",
                field="calculator_kwargs",
            )

    def model_description(self, kwargs: Mapping[str, Any]) -> str | None:
        modal = kwargs.get("modal")
        return f"SevenNet {kwargs.get('model') or self.model}" + (
            f", modal {modal}" if modal else ""
        )

    def build(self, kwargs: dict[str, Any]) -> Calculator:
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(
            **{"model": self.model, self.device_keyword: select_device("auto"), **kwargs}
        )


@dataclass(frozen=True)
class Atomate2Spec(CalculatorSpec):
    """A potential built by atomate2's factory (``MLFF`` member ``mlff``), local weights."""

    mlff: str = ""

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        if "model" not in kwargs:
            raise InputError(
                f"calculator '{self.name}' downloads its weights at run time, which fails "
                "offline; give a local model file, e.g. calculator_kwargs "
                '\'{"model": "/path/model"}\'',
                field="calculator_kwargs",
            )

    def build(self, kwargs: dict[str, Any]) -> Calculator:
        from atomate2.forcefields.utils import ase_calculator

        return ase_calculator(self.mlff, **kwargs)


@dataclass(frozen=True)
class EmtSpec(CalculatorSpec):
    """ASE's effective-medium theory: the elements of its parameter table only."""

    def check_elements(self, elements: list[str], kwargs: Mapping[str, Any]) -> None:
        from ase.calculators.emt import parameters

        missing = [el for el in elements if el not in parameters]
        if missing:
            raise InputError(
                f"EMT has no parameters for {', '.join(missing)}; EMT covers "
                f"{', '.join(sorted(parameters))}. Use calculator_name chgnet instead",
                field="calculator_name",
            )


@dataclass(frozen=True)
class GpawSpec(CalculatorSpec):
    """GPAW plane-wave DFT; ``{"preset": ...}`` and the settings of `dft_gpaw`."""

    def level_of_theory(self, kwargs: Mapping[str, Any]) -> str:
        # the preset matters: fast and standard differ by 0.05-0.1 J/m² on surface energies
        return f"DFT (GPAW, {kwargs.get('xc', 'PBE')}, {kwargs.get('preset', 'standard')} preset)"

    def provenance(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        from ssbflow.calculators.dft_gpaw import gpaw_provenance

        return {**super().provenance(kwargs), **gpaw_provenance(dict(kwargs))}

    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        """Settings are checked with the elements (`check_elements`): both need GPAW."""

    def check_elements(self, elements: list[str], kwargs: Mapping[str, Any]) -> None:
        from ssbflow.calculators.dft_gpaw import check_gpaw

        check_gpaw(elements, dict(kwargs))

    def build(self, kwargs: dict[str, Any]) -> Calculator:
        from ssbflow.calculators.dft_gpaw import make_gpaw_calculator

        return make_gpaw_calculator(kwargs)

    @property
    def presets(self) -> tuple[str, ...]:
        from ssbflow.calculators.dft_gpaw import PRESETS

        return tuple(PRESETS)

    def preset_kwargs(self, preset: str, text: str) -> dict[str, Any]:
        if preset not in self.presets:
            raise InputError(
                f"unknown gpaw preset '{preset}' in '{text}'; use gpaw:"
                + ", gpaw:".join(self.presets),
                field="calculator_name",
            )
        return {"preset": preset}

    def variant_label(self, kwargs: Mapping[str, Any]) -> str | None:
        if set(kwargs) <= {"preset"}:
            return f"gpaw:{kwargs.get('preset', 'standard')}"
        return None


@dataclass(frozen=True)
class ImportPathSpec(CalculatorSpec):
    """Any ASE calculator class, named ``package.module:ClassName``."""

    @classmethod
    def for_path(cls, path: str) -> ImportPathSpec:
        """The spec of the class at ``path`` (imported when checked or built)."""
        package = path.split(".")[0].split(":")[0]
        return cls(name=path, kind="ase", package=package, calculator_class=path)

    def check_installed(self) -> None:
        """The path names an importable ASE calculator class."""
        from ssbflow.validation import check_calculator_class

        check_calculator_class(import_calculator_class(self.name), self.name)


#: How to install GPAW with its PAW setups.
GPAW_INSTALL_HINT = (
    "pip install 'ssbflow[dft]' (on Debian first: apt-get install libxc-dev "
    "libopenblas-dev, and build with CC=g++)"
)

#: Every named calculator, in the order help texts list them.
SPECS: tuple[CalculatorSpec, ...] = (
    ChgnetSpec(
        name="chgnet",
        kind="ml",
        package="chgnet",
        install_hint="pip install chgnet",
        calculator_class="chgnet.model.dynamics:CHGNetCalculator",
        device_keyword="use_device",
        cached=True,
        variants={"chgnet": {}, "chgnet-0.3.0": {}, "chgnet-r2scan": {"model": "r2scan"}},
        hidden_variants=("chgnet-0.3.0",),
    ),
    SevennetSpec(
        name="sevennet",
        kind="ml",
        package="sevenn",
        install_hint="pip install 'ssbflow[sevennet]'",
        aliases=("7net", "sevenn"),
        calculator_class="sevenn.calculator:SevenNetCalculator",
        device_keyword="device",
        cached=True,
        model="7net-0",
        variants={
            "sevennet": {},
            "sevennet-0": {},
            "sevennet-l3i5": {"model": "7net-l3i5"},
            "sevennet-mf-0": {"model": "7net-mf-0", "modal": "PBE"},
        },
        hidden_variants=("sevennet-0",),
    ),
    Atomate2Spec(
        name="mace",
        kind="ml",
        package="mace-torch",
        module="mace",
        install_hint="pip install mace-torch",
        aliases=("mace-mp",),
        device_keyword="device",
        cached=True,
        mlff="MACE-MP-0",
    ),
    Atomate2Spec(
        name="matgl",
        kind="ml",
        package="matgl",
        install_hint="pip install matgl",
        cached=True,
        mlff="M3GNet",
    ),
    EmtSpec(
        name="emt",
        kind="empirical",
        package="ase",
        install_hint="pip install ase",
        calculator_class="ase.calculators.emt:EMT",
        model="ASE EMT",
    ),
    CalculatorSpec(
        name="lj",
        kind="empirical",
        package="ase",
        install_hint="pip install ase",
        aliases=("lennard-jones",),
        calculator_class="ase.calculators.lj:LennardJones",
        model="ASE LennardJones",
    ),
    GpawSpec(name="gpaw", kind="dft", package="gpaw", install_hint=GPAW_INSTALL_HINT),
)

#: Canonical name -> spec.
CALCULATORS: dict[str, CalculatorSpec] = {spec.name: spec for spec in SPECS}
_BY_NAME: dict[str, CalculatorSpec] = {
    **{alias: spec for spec in SPECS for alias in spec.aliases},
    **CALCULATORS,
}


def resolve_calculator(name: str | CalculatorSpec) -> CalculatorSpec:
    """The spec of calculator ``name`` (a built-in name or alias, any case, or an import path).

    Raises
    ------
    InputError
        An empty or unknown name (the message lists the known names).
    """
    if isinstance(name, CalculatorSpec):
        return name
    stripped = name.strip()
    if not stripped:
        raise InputError(
            "empty calculator name; use e.g. calculator_name chgnet", field="calculator_name"
        )
    spec = _BY_NAME.get(stripped.lower())
    if spec is not None:
        return spec
    if ":" in stripped or "." in stripped:
        return ImportPathSpec.for_path(stripped)
    raise InputError(
        f"unknown calculator '{name}'; use one of {', '.join(sorted(CALCULATORS))}, or an ASE "
        f"calculator import path such as {_IMPORT_PATH_EXAMPLE}",
        field="calculator_name",
    )


__all__ = [
    "CALCULATORS",
    "CHGNET_DEFAULT_MODEL",
    "CHGNET_MODELS",
    "GPAW_INSTALL_HINT",
    "MPTRJ_MAX_Z",
    "SEVENNET_MF_MODALS",
    "SPECS",
    "CalculatorSpec",
    "ImportPathSpec",
    "Kind",
    "import_calculator_class",
    "resolve_calculator",
    "select_device",
]
