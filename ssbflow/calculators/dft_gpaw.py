"""GPAW plane-wave DFT: presets, validation, geometry-aware set-up and provenance.

``get_calculator("gpaw", kwargs)`` returns a `GpawCalculator`: an ASE calculator that
builds the underlying GPAW calculator at the first ``calculate(atoms)``, because the
k-point mesh and the dipole correction depend on the atoms (bulk or slab, symmetric or
not) while the factory only sees the keyword arguments. It rebuilds GPAW when the cell,
the periodicity or the atoms change, and reuses the wave functions while only positions
change (relaxations).

Precision presets (``{"preset": "fast" | "standard" | "accurate"}``, default ``standard``)
==========  =========  ================  ====================  ==================  ==========
preset      cutoff     k-point spacing   smearing (Fermi-      SCF energy          SCF
            (eV)       (Å⁻¹, incl. 2π)   Dirac width, eV)      (eV / valence e⁻)   density
==========  =========  ================  ====================  ==================  ==========
fast        300        0.30              0.10                  5e-4                1e-3
standard    450        0.20              0.05                  1e-4                1e-4
accurate    600        0.15              0.02                  1e-5                1e-5
==========  =========  ================  ====================  ==================  ==========

The k-point mesh along reciprocal vector i is ``max(1, ceil(|b_i| / spacing))`` with
``|b_i|`` including the 2π (the VASP ``KSPACING`` convention), Γ-centred. ``fast`` is for
screening and tests; publishable numbers need ``standard`` or ``accurate`` plus a
convergence check.

Every key of ``kwargs`` (all optional, JSON-serialisable):

``preset``
    ``fast`` | ``standard`` | ``accurate``.
``xc``
    Any GPAW functional name with PAW setups in gpaw-data (``PBE`` default, ``LDA``,
    ``RPBE``, ``revPBE``; meta-GGAs such as ``TPSS``/``SCAN`` use PBE setups).
``ecut_eV``, ``kpoint_spacing_per_A``, ``smearing_eV``, ``scf_energy_eV``, ``scf_density``
    Override the preset's value.
``kpts``
    Explicit Monkhorst-Pack mesh ``[n1, n2, n3]`` instead of the spacing.
``maxiter``
    Maximum SCF iterations (default 333).
``spinpol``
    Spin-polarised calculation (default ``False``: spin-paired).
``dipole_correction``
    ``"auto"`` (default: on for slabs/interfaces without a mirror plane or inversion that
    swaps the two surfaces), ``true`` (on for every slab) or ``false``.
``min_vacuum_A``
    A gap of at least this many Å along c (normal to the a-b plane) marks a slab or an
    interface cell (default 5.0): it then gets one k-point along c.
``retry_scf``
    Retry once with conservative density mixing (Pulay, β = 0.02, 5 old densities, metric
    weight 100) and twice the iterations when the SCF does not converge (default ``True``).
    The retry is counted in ``GpawCalculator.n_scf_retries`` and in the
    ``gpaw_run.json`` file written beside the GPAW text output.
``blas_threads``
    BLAS threads during GPAW calls (default 1; GPAW here runs serially, and threaded
    BLAS competing with other processes made a 3-atom slab 5× slower on 2 cores). Needs
    ``threadpoolctl`` (installed with scikit-learn); ignored without it.
``txt``
    Name of the GPAW text output in the job's working directory (default ``gpaw.txt``).

An SCF that still does not converge raises `ssbflow.errors.CalculationError` with the
reason, so the job fails with a clear message instead of returning a number.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.geometry import cellpar_to_cell
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ssbflow.calculators.registry import GPAW_INSTALL_HINT
from ssbflow.calculators.threads import blas_threads
from ssbflow.errors import CalculationError, InputError

#: How to install GPAW with its PAW setups (shown when it is missing).
INSTALL_HINT = GPAW_INSTALL_HINT


@dataclass(frozen=True)
class GpawPreset:
    """Numerical settings of one precision preset (units in the names)."""

    ecut_eV: float
    kpoint_spacing_per_A: float
    smearing_eV: float
    scf_energy_eV: float
    scf_density: float


#: The documented presets (see the module docstring table).
PRESETS: dict[str, GpawPreset] = {
    "fast": GpawPreset(300.0, 0.30, 0.10, 5e-4, 1e-3),
    "standard": GpawPreset(450.0, 0.20, 0.05, 1e-4, 1e-4),
    "accurate": GpawPreset(600.0, 0.15, 0.02, 1e-5, 1e-5),
}

#: Conservative density mixing used for the one SCF retry.
SAFE_MIXER: dict[str, Any] = {"name": "pulay", "beta": 0.02, "nmaxold": 5, "weight": 100.0}


#: Possible range of each numerical setting (checked by `GpawSettings`).
_RANGES: dict[str, tuple[float, float]] = {
    "ecut_eV": (100.0, 3000.0),
    "kpoint_spacing_per_A": (0.02, 5.0),
    "smearing_eV": (1e-4, 2.0),
    "scf_energy_eV": (1e-9, 0.1),
    "scf_density": (1e-9, 0.1),
    "min_vacuum_A": (1.0, 100.0),
}

#: Order in which the settings are checked: the first wrong one is reported.
_CHECK_ORDER = (
    *_RANGES,
    "maxiter",
    "blas_threads",
    "kpts",
    "spinpol",
    "retry_scf",
    "dipole_correction",
    "txt",
    "xc",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class GpawSettings(BaseModel):
    """Fully resolved GPAW settings: the preset's values with the overrides applied.

    Build it with `GpawSettings.from_kwargs` (or `resolve_settings`), which validates the
    calculator keyword arguments (see the module docstring) and raises `InputError`
    naming the first wrong setting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str = "standard"
    xc: str = "PBE"
    ecut_eV: float = PRESETS["standard"].ecut_eV
    kpoint_spacing_per_A: float = PRESETS["standard"].kpoint_spacing_per_A
    kpts: tuple[int, int, int] | None = None
    smearing_eV: float = PRESETS["standard"].smearing_eV
    scf_energy_eV: float = PRESETS["standard"].scf_energy_eV
    scf_density: float = PRESETS["standard"].scf_density
    maxiter: int = 333
    spinpol: bool = False
    dipole_correction: str = "auto"
    min_vacuum_A: float = 5.0
    retry_scf: bool = True
    blas_threads: int = 1
    txt: str = "gpaw.txt"

    @model_validator(mode="before")
    @classmethod
    def _fill_preset(cls, data: Any) -> Any:
        """Refuse unknown keys; start from the preset's values, then the overrides."""
        if isinstance(data, GpawSettings):
            return data
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise ValueError(
                f"unknown gpaw setting(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(cls.model_fields))}"
            )
        preset = str(data.get("preset", "standard")).lower()
        if preset not in PRESETS:
            raise ValueError(
                f"unknown gpaw preset '{data['preset']}'; use one of {', '.join(PRESETS)}"
            )
        return {**asdict(PRESETS[preset]), **data, "preset": preset}

    @field_validator(*_RANGES, mode="before")
    @classmethod
    def _in_range(cls, value: Any, info: ValidationInfo) -> float:
        key = info.field_name
        low, high = _RANGES[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"gpaw {key}={value!r} is not a number; give e.g. {key}={high / 2:g}")
        if not low <= value <= high:
            raise ValueError(
                f"gpaw {key}={value} is impossible; use a value in [{low:g}, {high:g}]"
            )
        return float(value)

    @field_validator("maxiter", mode="before")
    @classmethod
    def _maxiter(cls, value: Any) -> int:
        if not _is_int(value) or value < 1:
            raise ValueError(f"gpaw maxiter={value!r} must be a positive integer, e.g. 333")
        return value

    @field_validator("blas_threads", mode="before")
    @classmethod
    def _blas_threads(cls, value: Any) -> int:
        if not _is_int(value) or not 1 <= value <= 1024:
            raise ValueError(f"gpaw blas_threads={value!r} must be a positive integer, e.g. 1")
        return value

    @field_validator("kpts", mode="before")
    @classmethod
    def _kpts(cls, value: Any) -> tuple[int, int, int] | None:
        if value is None:
            return None
        if (
            not isinstance(value, list | tuple)
            or len(value) != 3
            or not all(_is_int(k) and k >= 1 for k in value)
        ):
            raise ValueError(f"gpaw kpts={value!r} must be three positive integers, e.g. [4, 4, 1]")
        return tuple(value)

    @field_validator("spinpol", "retry_scf", mode="before")
    @classmethod
    def _flag(cls, value: Any, info: ValidationInfo) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"gpaw {info.field_name}={value!r} must be true or false")
        return value

    @field_validator("dipole_correction", mode="before")
    @classmethod
    def _dipole(cls, value: Any) -> str:
        mode = {True: "on", False: "off"}[value] if isinstance(value, bool) else value
        if mode not in {"auto", "on", "off"}:
            raise ValueError(f"gpaw dipole_correction={value!r}; use 'auto', true or false")
        return mode

    @field_validator("txt", mode="before")
    @classmethod
    def _txt(cls, value: Any) -> str:
        if not isinstance(value, str) or not value or "/" in value or value in {"-", "."}:
            raise ValueError(f"gpaw txt={value!r} must be a plain file name such as 'gpaw.txt'")
        return value

    @field_validator("xc", mode="before")
    @classmethod
    def _xc(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"gpaw xc={value!r} must be a functional name such as 'PBE'")
        return value.strip()

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any] | None) -> GpawSettings:
        """Validate the gpaw calculator keyword arguments and merge them with their preset.

        Raises
        ------
        InputError
            Unknown key, unknown preset, or a value out of its possible range (field
            ``calculator_kwargs``; the first wrong setting in `_CHECK_ORDER`).
        """
        try:
            return cls.model_validate(dict(kwargs or {}))
        except ValidationError as exc:
            errors = exc.errors()
            first = min(
                errors,
                key=lambda e: _CHECK_ORDER.index(e["loc"][0]) if e["loc"] else -1,
            )
            error = first.get("ctx", {}).get("error")
            message = str(error) if error is not None else first["msg"]
            raise InputError(message, field="calculator_kwargs") from exc

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every setting."""
        out = self.model_dump()
        out["kpts"] = list(self.kpts) if self.kpts is not None else None
        return out


def resolve_settings(kwargs: dict[str, Any] | None) -> GpawSettings:
    """Validate ``kwargs`` and merge them with their preset (`GpawSettings.from_kwargs`).

    Raises
    ------
    InputError
        Unknown key, unknown preset, or a value out of its possible range.
    """
    return GpawSettings.from_kwargs(kwargs)


def _gpaw_installed() -> bool:
    return (
        importlib.util.find_spec("gpaw") is not None
        and importlib.util.find_spec("gpaw_data") is not None
    )


def _require_gpaw() -> None:
    if not _gpaw_installed():
        raise InputError(f"calculator 'gpaw' is not installed; install it with: {INSTALL_HINT}")


def setup_name(xc: str) -> str:
    """Name of the PAW setup family GPAW uses for functional ``xc`` (e.g. 'PBE').

    Raises
    ------
    InputError
        GPAW does not know the functional.
    """
    _require_gpaw()
    import warnings

    from gpaw.xc import XC

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return XC(xc).get_setup_name()
    except (NameError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"GPAW does not know the functional '{xc}' ({exc}); use e.g. PBE, LDA, RPBE, revPBE"
        ) from exc


def setup_file(symbol: str, xc_setup: str) -> Path | None:
    """Path of the PAW setup file for ``symbol`` in GPAW's setup paths, or None."""
    import gpaw

    for root in gpaw.setup_paths:
        for candidate in (f"{symbol}.{xc_setup}.gz", f"{symbol}.{xc_setup}"):
            path = Path(root) / candidate
            if path.is_file():
                return path
    return None


def check_gpaw(elements: list[str], kwargs: dict[str, Any]) -> None:
    """Raise InputError when GPAW cannot run these elements with these settings.

    Parameters
    ----------
    elements
        Chemical symbols in the structures to be computed.
    kwargs
        The gpaw calculator keyword arguments (see module docstring).
    """
    _require_gpaw()
    settings = resolve_settings(kwargs)
    family = setup_name(settings.xc)
    missing = [el for el in sorted(set(elements)) if setup_file(el, family) is None]
    if missing:
        import gpaw

        raise InputError(
            f"GPAW has no {family} PAW setup for {', '.join(missing)} (searched "
            f"{', '.join(str(p) for p in gpaw.setup_paths)}); choose another calculator, or "
            "generate setups with 'gpaw-setup' and add their folder to GPAW_SETUP_PATH"
        )


def reciprocal_lengths_per_A(cell: np.ndarray) -> np.ndarray:
    """Lengths |b_i| of the reciprocal lattice vectors, 2π included (VASP's convention).

    Parameters
    ----------
    cell
        Lattice vectors as rows, shape (3, 3), Å (``atoms.cell``,
        ``structure.lattice.matrix``).

    Returns
    -------
    numpy.ndarray
        |b_i| in Å⁻¹, shape (3,).
    """
    return 2 * np.pi * np.linalg.norm(np.linalg.inv(np.asarray(cell, dtype=float)).T, axis=1)


def kpoint_mesh(cell: np.ndarray, spacing_per_A: float, slab: bool) -> tuple[int, int, int]:
    """Γ-centred mesh from a spacing: ``max(1, ceil(|b_i| / spacing))``; 1 along c for slabs.

    Parameters
    ----------
    cell
        Lattice vectors as rows, shape (3, 3), Å.
    spacing_per_A
        k-point spacing in Å⁻¹ (2π included).
    slab
        One k-point along c (the surface normal direction).
    """
    n = [max(1, math.ceil(b / spacing_per_A - 1e-9)) for b in reciprocal_lengths_per_A(cell)]
    if slab:
        n[2] = 1
    return (int(n[0]), int(n[1]), int(n[2]))


def vacuum_gap(atoms: Atoms) -> tuple[float, float]:
    """Largest empty gap along c, measured normal to the a-b plane.

    Returns
    -------
    (gap_A, centre_frac)
        Thickness of the gap in Å and the fractional c coordinate of its middle.
    """
    cell = np.asarray(atoms.cell)
    normal = np.cross(cell[0], cell[1])
    normal /= np.linalg.norm(normal)
    height = abs(float(cell[2] @ normal))
    z = np.sort(np.mod(atoms.get_scaled_positions(wrap=False)[:, 2], 1.0))
    if len(z) == 0:
        return height, 0.5
    gaps = np.diff(np.append(z, z[0] + 1.0))
    i = int(np.argmax(gaps))
    return float(gaps[i] * height), float((z[i] + gaps[i] / 2) % 1.0)


def is_symmetric_slab(atoms: Atoms, symprec: float = 0.01) -> bool:
    """True when a symmetry operation maps c to −c (the two surfaces are equivalent)."""
    import spglib

    dataset = spglib.get_symmetry(
        (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers), symprec=symprec
    )
    if dataset is None:
        return False
    return any(
        rot[2, 2] == -1 and rot[2, 0] == 0 and rot[2, 1] == 0 for rot in dataset["rotations"]
    )


@dataclass(frozen=True)
class _Geometry:
    """How the GPAW copy of the atoms is laid out (fixed for one GPAW build)."""

    slab: bool
    dipole: bool
    kpts: tuple[int, int, int]
    vacuum_A: float
    rotation: np.ndarray  # orig_cart = std_cart @ rotation
    shift_frac: float  # fractional c shift that moves the vacuum centre to the c boundary


class GpawCalculator(Calculator):
    """GPAW configured from ssbflow settings once the atoms are known.

    Parameters
    ----------
    settings
        Resolved settings (`resolve_settings`).
    directory
        Where the GPAW text output and ``gpaw_run.json`` go (default: the working
        directory, i.e. the job folder under jobflow).

    Attributes
    ----------
    n_scf_retries
        How many SCF runs were repeated with conservative mixing.
    run_info
        Parameters of the current GPAW build (k-points, dipole correction, setups ...).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: GpawSettings, directory: str = ".") -> None:
        super().__init__(directory=directory)
        self.settings = settings
        self.n_scf_retries = 0
        self.n_builds = 0
        self.run_info: dict[str, Any] = {}
        self._gpaw: Any = None
        self._geometry: _Geometry | None = None
        self._signature: tuple | None = None
        self._safe_mixing = False

    # -- set-up -----------------------------------------------------------------------
    def _analyse(self, atoms: Atoms) -> _Geometry:
        s = self.settings
        gap, centre = vacuum_gap(atoms)
        slab = gap >= s.min_vacuum_A
        if s.dipole_correction == "off" or not slab:
            dipole = False
        elif s.dipole_correction == "on":
            dipole = True
        else:
            dipole = not is_symmetric_slab(atoms)
        kpts = (
            s.kpts if s.kpts is not None else kpoint_mesh(atoms.cell, s.kpoint_spacing_per_A, slab)
        )
        if slab and kpts[2] != 1:
            kpts = (kpts[0], kpts[1], 1)
        if dipole:
            std = cellpar_to_cell(atoms.cell.cellpar())  # a along x, b in the x-y plane
            rotation = np.linalg.solve(std, np.asarray(atoms.cell))
        else:
            rotation = np.eye(3)
        return _Geometry(
            slab=slab,
            dipole=dipole,
            kpts=tuple(int(k) for k in kpts),
            vacuum_A=gap,
            rotation=rotation,
            shift_frac=-centre if dipole else 0.0,
        )

    def _gpaw_atoms(self, atoms: Atoms) -> Atoms:
        """The copy GPAW sees: for the dipole correction, rotated to a standard frame,
        vacuum moved across the c boundary, c made normal to the surface, pbc off along c."""
        geo = self._geometry
        assert geo is not None
        gatoms = Atoms(numbers=atoms.numbers, cell=atoms.cell, pbc=True)
        gatoms.set_scaled_positions(atoms.get_scaled_positions(wrap=False))
        if geo.dipole:
            frac = gatoms.get_scaled_positions(wrap=False)
            frac[:, 2] = np.mod(frac[:, 2] + geo.shift_frac, 1.0)
            frac[:, :2] = np.mod(frac[:, :2], 1.0)
            std = cellpar_to_cell(atoms.cell.cellpar())
            cart = frac @ std
            cell = std.copy()
            cell[2] = [0.0, 0.0, std[2, 2]]
            gatoms = Atoms(
                numbers=atoms.numbers, positions=cart, cell=cell, pbc=(True, True, False)
            )
        if atoms.has("initial_magmoms"):
            gatoms.set_initial_magnetic_moments(atoms.get_initial_magnetic_moments())
        return gatoms

    def _signature_of(self, atoms: Atoms) -> tuple:
        return (
            tuple(atoms.numbers),
            tuple(np.round(np.asarray(atoms.cell), 8).ravel()),
            tuple(atoms.pbc),
        )

    def gpaw_parameters(self) -> dict[str, Any]:
        """The keyword arguments passed to GPAW for the current geometry."""
        s = self.settings
        geo = self._geometry
        assert geo is not None
        params: dict[str, Any] = {
            "mode": {"name": "pw", "ecut": s.ecut_eV},
            "xc": s.xc,
            "kpts": {"size": list(geo.kpts), "gamma": True},
            "occupations": {"name": "fermi-dirac", "width": s.smearing_eV},
            "convergence": {"energy": s.scf_energy_eV, "density": s.scf_density},
            "maxiter": s.maxiter * (2 if self._safe_mixing else 1),
            "spinpol": s.spinpol,
        }
        if geo.dipole:
            params["poissonsolver"] = {"dipolelayer": "xy"}
        if self._safe_mixing:
            params["mixer"] = dict(SAFE_MIXER)
        return params

    def _txt_path(self) -> Path:
        name = self.settings.txt
        if self.n_builds > 1:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{self.n_builds}.{ext}" if dot else f"{name}-{self.n_builds}"
        return Path(self.directory) / name

    def _build(self, atoms: Atoms) -> None:
        from gpaw import GPAW

        self._geometry = self._analyse(atoms)
        self._signature = self._signature_of(atoms)
        self.n_builds += 1
        txt = self._txt_path()
        txt.parent.mkdir(parents=True, exist_ok=True)
        params = self.gpaw_parameters()
        self._gpaw = GPAW(**params, txt=str(txt))
        geo = self._geometry
        self.run_info = {
            "gpaw_parameters": params,
            "settings": self.settings.as_dict(),
            "slab": geo.slab,
            "vacuum_A": geo.vacuum_A,
            "dipole_correction": geo.dipole,
            "kpts": list(geo.kpts),
            "safe_mixing": self._safe_mixing,
            "n_scf_retries": self.n_scf_retries,
            "txt": str(txt),
            "setups": {
                sym: str(setup_file(sym, setup_name(self.settings.xc)))
                for sym in sorted(set(atoms.get_chemical_symbols()))
            },
        }

    def _write_run_info(self) -> None:
        path = Path(self.directory) / "gpaw_run.json"
        path.write_text(json.dumps({**self.run_info, "n_builds": self.n_builds}, indent=2))

    # -- calculation ------------------------------------------------------------------
    def _compute(self, atoms: Atoms, properties: list[str]) -> dict[str, Any]:
        from gpaw.new.symmetry import SymmetryBrokenError

        gatoms = self._gpaw_atoms(atoms)
        gatoms.calc = self._gpaw
        try:
            energy = gatoms.get_potential_energy()
        except SymmetryBrokenError:
            # Positions moved off the symmetry found at the build: start afresh.
            self._build(atoms)
            gatoms = self._gpaw_atoms(atoms)
            gatoms.calc = self._gpaw
            energy = gatoms.get_potential_energy()
        results: dict[str, Any] = {
            "energy": energy,
            "free_energy": gatoms.get_potential_energy(force_consistent=True),
        }
        rot = self._geometry.rotation
        if "forces" in properties or "stress" in properties:
            results["forces"] = gatoms.get_forces() @ rot
        if "stress" in properties:
            from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress

            sigma = voigt_6_to_full_3x3_stress(gatoms.get_stress())
            results["stress"] = full_3x3_to_voigt_6_stress(rot.T @ sigma @ rot)
        return results

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Energy, forces and (if asked) stress of ``atoms`` with GPAW.

        Raises
        ------
        CalculationError
            The SCF did not converge (after the optional retry), or the energy is not finite.
        """

        properties = properties or ["energy"]
        with blas_threads(self.settings.blas_threads):
            self._calculate(atoms, properties, system_changes)

    def _calculate(
        self, atoms: Atoms | None, properties: list[str], system_changes: list[str]
    ) -> None:
        from gpaw import KohnShamConvergenceError

        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if self._gpaw is None or self._signature_of(atoms) != self._signature:
            self._build(atoms)
        try:
            results = self._compute(atoms, properties)
        except KohnShamConvergenceError as exc:
            first = f"SCF not converged in {self.gpaw_parameters()['maxiter']} iterations"
            if not self.settings.retry_scf or self._safe_mixing:
                self._write_run_info()
                raise CalculationError(
                    f"GPAW {first} ({exc or 'KohnShamConvergenceError'}); retry_scf is "
                    f"{'off' if not self.settings.retry_scf else 'exhausted'}; see {self._txt_path()}"
                ) from exc
            self.n_scf_retries += 1
            self._safe_mixing = True
            self._build(atoms)
            try:
                results = self._compute(atoms, properties)
            except KohnShamConvergenceError as exc2:
                self._write_run_info()
                raise CalculationError(
                    f"GPAW {first}, and again after one retry with safer mixing "
                    f"(Pulay beta={SAFE_MIXER['beta']}, {self.gpaw_parameters()['maxiter']} "
                    f"iterations); see {self._txt_path()}"
                ) from exc2
        if not np.isfinite(results["energy"]):
            raise CalculationError(f"GPAW returned a non-finite energy; see {self._txt_path()}")
        self.run_info["n_scf_retries"] = self.n_scf_retries
        self._write_run_info()
        self.results = results


def make_gpaw_calculator(kwargs: dict[str, Any]) -> GpawCalculator:
    """Build the GPAW calculator for ``kwargs`` (validated; GPAW itself is built lazily)."""
    _require_gpaw()
    return GpawCalculator(resolve_settings(kwargs))


def gpaw_provenance(kwargs: dict[str, Any]) -> dict[str, Any]:
    """GPAW version, PAW setup package/version/family and every resolved parameter.

    The per-element setup files and the k-point mesh of each run are in the
    ``gpaw_run.json`` file written in each job's folder.
    """
    if not _gpaw_installed():
        return {"gpaw_installed": False}
    import gpaw

    settings = resolve_settings(kwargs)
    try:
        data_version = version("gpaw-data")
    except PackageNotFoundError:
        data_version = None
    return {
        "gpaw_version": gpaw.__version__,
        "paw_setups": {
            "package": "gpaw-data",
            "version": data_version,
            "family": setup_name(settings.xc),
            "paths": [str(p) for p in gpaw.setup_paths],
        },
        "mode": "plane waves",
        "gpaw_settings": settings.as_dict(),
        "preset_values": asdict(PRESETS[settings.preset]),
        "safe_mixer_on_retry": dict(SAFE_MIXER) if settings.retry_scf else None,
        "spin": "polarised" if settings.spinpol else "paired",
    }


__all__ = [
    "INSTALL_HINT",
    "PRESETS",
    "GpawCalculator",
    "GpawPreset",
    "GpawSettings",
    "check_gpaw",
    "gpaw_provenance",
    "is_symmetric_slab",
    "kpoint_mesh",
    "make_gpaw_calculator",
    "reciprocal_lengths_per_A",
    "resolve_settings",
    "setup_file",
    "vacuum_gap",
]
