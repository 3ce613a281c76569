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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.geometry import cellpar_to_cell

from ssbflow.errors import CalculationError, InputError

INSTALL_HINT = (
    "pip install 'ssbflow[dft]' (on Debian first: apt-get install libxc-dev "
    "libopenblas-dev, and build with CC=g++)"
)


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


@dataclass(frozen=True)
class GpawSettings:
    """Fully resolved GPAW settings (preset values with overrides applied)."""

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every setting."""
        out = asdict(self)
        out["kpts"] = list(self.kpts) if self.kpts is not None else None
        return out


_ALLOWED_KEYS = {
    "preset",
    "xc",
    "ecut_eV",
    "kpoint_spacing_per_A",
    "kpts",
    "smearing_eV",
    "scf_energy_eV",
    "scf_density",
    "maxiter",
    "spinpol",
    "dipole_correction",
    "min_vacuum_A",
    "retry_scf",
    "blas_threads",
    "txt",
}


def _positive(kwargs: dict[str, Any], key: str, low: float, high: float) -> float | None:
    if key not in kwargs:
        return None
    value = kwargs[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"gpaw {key}={value!r} is not a number; give e.g. {key}={high / 2:g}")
    if not low <= value <= high:
        raise InputError(f"gpaw {key}={value} is impossible; use a value in [{low:g}, {high:g}]")
    return float(value)


def resolve_settings(kwargs: dict[str, Any] | None) -> GpawSettings:
    """Validate ``kwargs`` and merge them with their preset.

    Raises
    ------
    InputError
        Unknown key, unknown preset, or a value out of its possible range.
    """
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - _ALLOWED_KEYS)
    if unknown:
        raise InputError(
            f"unknown gpaw setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED_KEYS))}"
        )
    preset_name = str(kwargs.get("preset", "standard")).lower()
    if preset_name not in PRESETS:
        raise InputError(
            f"unknown gpaw preset '{kwargs['preset']}'; use one of {', '.join(PRESETS)}"
        )
    preset = PRESETS[preset_name]
    values: dict[str, Any] = {"preset": preset_name, **asdict(preset)}
    for key, low, high in (
        ("ecut_eV", 100.0, 3000.0),
        ("kpoint_spacing_per_A", 0.02, 5.0),
        ("smearing_eV", 1e-4, 2.0),
        ("scf_energy_eV", 1e-9, 0.1),
        ("scf_density", 1e-9, 0.1),
        ("min_vacuum_A", 1.0, 100.0),
    ):
        value = _positive(kwargs, key, low, high)
        if value is not None:
            values[key] = value
    if "maxiter" in kwargs:
        maxiter = kwargs["maxiter"]
        if isinstance(maxiter, bool) or not isinstance(maxiter, int) or maxiter < 1:
            raise InputError(f"gpaw maxiter={maxiter!r} must be a positive integer, e.g. 333")
        values["maxiter"] = maxiter
    if "blas_threads" in kwargs:
        threads = kwargs["blas_threads"]
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
            raise InputError(f"gpaw blas_threads={threads!r} must be a positive integer, e.g. 1")
        values["blas_threads"] = threads
    if kwargs.get("kpts") is not None:
        kpts = kwargs["kpts"]
        if (
            not isinstance(kpts, list | tuple)
            or len(kpts) != 3
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in kpts)
        ):
            raise InputError(f"gpaw kpts={kpts!r} must be three positive integers, e.g. [4, 4, 1]")
        values["kpts"] = tuple(kpts)
    for key in ("spinpol", "retry_scf"):
        if key in kwargs:
            if not isinstance(kwargs[key], bool):
                raise InputError(f"gpaw {key}={kwargs[key]!r} must be true or false")
            values[key] = kwargs[key]
    if "dipole_correction" in kwargs:
        dip = kwargs["dipole_correction"]
        dip = {True: "on", False: "off"}.get(dip, dip) if isinstance(dip, bool) else dip
        if dip not in {"auto", "on", "off"}:
            raise InputError(
                f"gpaw dipole_correction={kwargs['dipole_correction']!r}; use 'auto', true or false"
            )
        values["dipole_correction"] = dip
    if "txt" in kwargs:
        txt = kwargs["txt"]
        if not isinstance(txt, str) or not txt or "/" in txt or txt in {"-", "."}:
            raise InputError(f"gpaw txt={txt!r} must be a plain file name such as 'gpaw.txt'")
        values["txt"] = txt
    if "xc" in kwargs:
        if not isinstance(kwargs["xc"], str) or not kwargs["xc"].strip():
            raise InputError(f"gpaw xc={kwargs['xc']!r} must be a functional name such as 'PBE'")
        values["xc"] = kwargs["xc"].strip()
    return GpawSettings(**values)


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


def _reciprocal_lengths_per_A(cell: np.ndarray) -> np.ndarray:
    """|b_i| in Å⁻¹ including 2π, shape (3,)."""
    return 2 * np.pi * np.linalg.norm(np.linalg.inv(cell).T, axis=1)


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
    n = [max(1, math.ceil(b / spacing_per_A - 1e-9)) for b in _reciprocal_lengths_per_A(cell)]
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
        with _blas_threads(self.settings.blas_threads):
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


def _blas_threads(n: int) -> AbstractContextManager:
    """Limit BLAS threads to ``n`` inside the block (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


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
    "resolve_settings",
    "setup_file",
    "vacuum_gap",
]
