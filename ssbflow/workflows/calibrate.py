"""Calibrate ML potentials against a DFT reference on a fixed set of rigid structures.

The calibration set is small and fixed: surface energies of the library metals and
electrolytes and ideal works of adhesion of metal/electrolyte pairs, all from the library
bulks (`ssbflow.structures.library`, Materials Project PBE lattices), all rigid, and
*identical for every calculator*: every number compares energies of the same atoms.

Methods (the same for every calculator):

surface energy
    Two symmetric, stoichiometric slabs of one termination (`termination_series`), one
    plane or one repeat apart; γ from the intercept of E(n) = n ε + 2 A γ
    (`surface_energy_from_series_J_per_m2`, Fiorentini–Methfessel: no bulk energy enters).
work of adhesion
    One interface cell from `build_interface_candidates` (smallest match, one registry),
    with the metal and electrolyte slabs alone in the same cell; W_ad(d) =
    (E_metal + E_electrolyte − E_interface(d))/A at each interfacial gap d (the metal moved
    rigidly along the normal). One gap: W_ad at that gap; four or more: the ideal work of
    separation of a UBER fit (`fit_uber`).

Reference energies are cached in the results store (collection ``calibration_energies``
next to the job outputs; `EnergyCache`), keyed by the structure, the calculator, its
keyword arguments and its package version, so a second potential or a second run reuses
them. ML energies are not cached: their run time is part of the result.

This is a plain library function, not a jobflow flow: the single points are independent
and cheap to describe, and the cache lives in the results store either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pymatgen.core import Lattice, Structure

from ssbflow.analysis.adhesion import (
    fit_uber,
    surface_energy_from_series_J_per_m2,
    work_of_adhesion_J_per_m2,
)
from ssbflow.analysis.calibration import relative_times, score_quantity
from ssbflow.errors import InputError, one_line_error
from ssbflow.structures.slabs import in_plane_area_A2

Quantity = Literal["gamma_metal", "gamma_electrolyte", "work_of_adhesion"]
QUANTITIES: tuple[str, ...] = ("gamma_metal", "gamma_electrolyte", "work_of_adhesion")
CACHE_COLLECTION = "calibration_energies"
#: Keyword arguments that do not change an energy (left out of cache keys).
_KEYLESS = {"txt", "blas_threads", "use_device", "device"}


# ----------------------------------------------------------------------------- structures


def rebox(structure: Structure, vacuum_A: float, extra_A: float = 0.0) -> Structure:
    """The slab (or interface) in a cell with c normal to the surface and ``vacuum_A``.

    The in-plane lattice vectors are kept; c becomes ``n · (thickness + vacuum + extra)``
    with n the unit normal, the atoms are unwrapped across the old vacuum and centred with
    ``vacuum_A/2`` below them. Site properties are kept.
    """
    frac = structure.frac_coords.copy()
    fz = np.mod(frac[:, 2], 1.0)
    order = np.sort(fz)
    gaps = np.diff(np.concatenate([order, [order[0] + 1.0]]))
    cut = order[(int(np.argmax(gaps)) + 1) % len(order)]
    frac[:, 2] = np.mod(fz - cut, 1.0)
    m = structure.lattice.matrix
    cart = frac @ m
    m = np.array([*_reduced_in_plane(m[0], m[1]), m[2]])
    normal = np.cross(m[0], m[1])
    normal /= np.linalg.norm(normal)
    height = cart @ normal
    height -= height.min()
    inplane = cart - np.outer(cart @ normal, normal)
    c_len = float(height.max() + vacuum_A + extra_A)
    new_cart = inplane + np.outer(height + vacuum_A / 2.0, normal)
    props = {k: list(v) for k, v in structure.site_properties.items()}
    return Structure(
        Lattice([m[0], m[1], normal * c_len]),
        structure.species,
        new_cart,
        coords_are_cartesian=True,
        site_properties=props or None,
    )


def _reduced_in_plane(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange–Gauss reduction of the in-plane vectors, only when they are not reduced.

    bcc(110) slabs come from pymatgen with a 144.7° in-plane angle, on which GPAW's
    eigensolver failed (LinAlgError); the reduced cell (109.5°) is the same lattice. An
    already reduced pair (|a·b| ≤ min(|a|², |b|²)/2) is returned unchanged.
    """
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    if abs(a @ b) <= 0.5 * min(a @ a, b @ b) + 1e-6:
        return a, b
    for _ in range(100):
        if b @ b < a @ a:
            a, b = b, a
        mu = round(float(a @ b) / float(a @ a))
        if mu == 0:
            break
        b = b - mu * a
    if np.cross(a, b)[2] < 0:  # keep a right-handed in-plane pair
        b = -b
    return a, b


@dataclass(frozen=True)
class SurfaceSpec:
    """One surface energy of the set.

    Attributes
    ----------
    phase
        Library name (``get_phase``) or a bulk `Structure` given through ``bulk``.
    miller
        Miller index.
    quantity
        "gamma_metal" or "gamma_electrolyte".
    min_thickness_A
        The thinner slab is the thinnest of the termination at or above this, Å.
    termination
        Substring of the termination chemistry to pick (None: the first symmetric,
        stoichiometric one).
    n_slabs
        Slabs in the thickness series (≥ 2).
    """

    phase: str
    miller: tuple[int, int, int]
    quantity: str
    min_thickness_A: float
    termination: str | None = None
    n_slabs: int = 2


@dataclass(frozen=True)
class AdhesionSpec:
    """One work of adhesion of the set (builder limits of `build_interface_candidates`)."""

    metal: str
    electrolyte: str
    metal_miller: tuple[int, int, int]
    electrolyte_miller: tuple[int, int, int]
    max_strain: float = 0.15
    max_area_A2: float = 40.0
    max_atoms: int = 32
    metal_layers: int = 3
    electrolyte_layers: int = 2
    termination: str | None = None


@dataclass
class CalibrationItem:
    """One calibration value and the rigid structures it needs.

    Attributes
    ----------
    label
        e.g. "Li(100)", "Li/LiF".
    quantity
        One of `QUANTITIES`.
    structures
        Role -> structure: "slab0", "slab1", ... (surfaces) or "metal", "electrolyte",
        "interface@<gap>" (adhesion).
    n_units
        Surfaces: bulk units (atoms or formula units) of each slab role.
    area_A2
        Area of one face / of the interface, Å².
    gaps_A
        Adhesion: interfacial gaps, Å.
    description
        How the structures were built (termination, thicknesses, strain...).
    """

    label: str
    quantity: str
    structures: dict[str, Structure]
    area_A2: float
    n_units: dict[str, float] = field(default_factory=dict)
    gaps_A: tuple[float, ...] = ()
    description: str = ""

    def value_J_per_m2(self, energies_eV: dict[str, float]) -> tuple[float, str]:
        """The calibration value from the energies of every role, and the method used."""
        if self.quantity in ("gamma_metal", "gamma_electrolyte"):
            roles = sorted(self.n_units, key=lambda r: self.n_units[r])
            fit = surface_energy_from_series_J_per_m2(
                [self.n_units[r] for r in roles],
                [energies_eV[r] for r in roles],
                self.area_A2,
            )
            return fit.surface_energy_J_per_m2, f"slab series ({len(roles)} slabs)"
        w = [
            work_of_adhesion_J_per_m2(
                energies_eV[f"interface@{g:.2f}"],
                energies_eV["metal"],
                energies_eV["electrolyte"],
                self.area_A2,
            )
            for g in self.gaps_A
        ]
        if len(self.gaps_A) == 1:
            return w[0], f"rigid W_ad at gap {self.gaps_A[0]:.2f} Å"
        if len(self.gaps_A) >= 4:
            fit = fit_uber(self.gaps_A, [-x for x in w])
            return fit.work_of_separation_J_per_m2, f"UBER fit of {len(w)} gaps"
        return max(w), f"largest W_ad of {len(w)} gaps"


def _bulk(phase: str) -> Structure:
    from ssbflow.structures.library import get_phase

    return get_phase(phase)


def build_surface_item(
    spec: SurfaceSpec, vacuum_A: float = 10.0, bulk: Structure | None = None
) -> CalibrationItem:
    """Slabs of one surface-energy item (see `SurfaceSpec`)."""
    import warnings

    from ssbflow.structures.slabs import enumerate_terminations, termination_series

    if spec.n_slabs < 2:
        raise InputError(
            "a surface energy from a slab series needs at least 2 slabs", field="n_slabs"
        )
    bulk = bulk if bulk is not None else _bulk(spec.phase)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        terms = [
            t
            for t in enumerate_terminations(bulk, spec.miller)
            if t.symmetric
            and t.stoichiometric
            and (spec.termination is None or spec.termination in t.chemistry)
        ]
        if not terms:
            raise InputError(
                f"{spec.phase}{spec.miller} has no symmetric stoichiometric termination"
                + (f" matching '{spec.termination}'" if spec.termination else "")
            )
        term = terms[0]
        d = bulk.lattice.d_hkl(spec.miller)
        max_t = spec.min_thickness_A + (spec.n_slabs + 2) * max(d, 1.0) * 3
        series = termination_series(
            bulk,
            spec.miller,
            term,
            min_thickness_A=spec.min_thickness_A,
            max_thickness_A=max_t,
            vacuum_A=vacuum_A,
        )[: spec.n_slabs]
    if len(series) < spec.n_slabs:
        raise InputError(f"fewer than {spec.n_slabs} slabs of {spec.phase}{spec.miller}")
    unit = bulk.composition.reduced_composition.num_atoms
    structures, n_units = {}, {}
    for i, s in enumerate(series):
        role = f"slab{i}"
        structures[role] = rebox(Structure.from_sites(s.slab.sites), vacuum_A)
        n_units[role] = round(len(s.slab) / unit, 6)
    miller = "".join(str(i) for i in spec.miller)
    return CalibrationItem(
        label=f"{spec.phase}({miller})",
        quantity=spec.quantity,
        structures=structures,
        area_A2=series[0].area_A2,
        n_units=n_units,
        description=(
            f"termination {term.label}; slabs of {[len(s.slab) for s in series]} atoms, "
            f"{[s.thickness_A for s in series]} Å thick, {vacuum_A} Å vacuum"
        ),
    )


def build_adhesion_item(
    spec: AdhesionSpec,
    gaps_A: Sequence[float] = (2.0,),
    vacuum_A: float = 10.0,
    metal_bulk: Structure | None = None,
    electrolyte_bulk: Structure | None = None,
) -> CalibrationItem:
    """Interface, metal and electrolyte slabs of one work-of-adhesion item.

    The interface is built at the first gap; the other gaps move the metal rigidly along
    the normal. The cell is tall enough for the largest gap with ``vacuum_A`` above.
    """
    import warnings

    from ssbflow.structures.interfaces import build_interface_candidates

    gaps = tuple(float(g) for g in gaps_A)
    if not gaps or min(gaps) <= 0:
        raise InputError("gaps must be positive", field="gaps_A")
    metal = metal_bulk if metal_bulk is not None else _bulk(spec.metal)
    electrolyte = electrolyte_bulk if electrolyte_bulk is not None else _bulk(spec.electrolyte)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cands = build_interface_candidates(
            metal,
            electrolyte,
            spec.metal_miller,
            spec.electrolyte_miller,
            max_strain=spec.max_strain,
            max_area_A2=spec.max_area_A2,
            max_atoms=spec.max_atoms,
            metal_layers=spec.metal_layers,
            electrolyte_layers=spec.electrolyte_layers,
            gap_A=gaps[0],
            vacuum_A=vacuum_A,
            registry_grid=1,
            max_matches=1,
            electrolyte_termination=spec.termination,
        )
    cand = cands[0]
    base = rebox(cand.interface, vacuum_A, extra_A=max(gaps) - gaps[0])
    labels = base.site_properties["interface_label"]
    metal_key = "film" if cand.strained_side == "metal" else "substrate"
    is_metal = np.array([metal_key in str(t) for t in labels])
    m = base.lattice.matrix
    normal = np.cross(m[0], m[1])
    normal /= np.linalg.norm(normal)
    # the metal must be above the electrolyte for "moving it up" to open the gap
    heights = base.cart_coords @ normal
    if heights[is_metal].min() < heights[~is_metal].max():
        raise InputError(f"interface {cand.label}: the metal is not above the electrolyte")
    structures: dict[str, Structure] = {}
    plain = Structure(base.lattice, base.species, base.cart_coords, coords_are_cartesian=True)
    for g in gaps:
        cart = plain.cart_coords.copy()
        cart[is_metal] += normal * (g - gaps[0])
        structures[f"interface@{g:.2f}"] = Structure(
            plain.lattice, plain.species, cart, coords_are_cartesian=True
        )
    structures["metal"] = Structure.from_sites([plain[i] for i in np.where(is_metal)[0]])
    structures["electrolyte"] = Structure.from_sites([plain[i] for i in np.where(~is_metal)[0]])
    mm = "".join(str(i) for i in spec.metal_miller)
    em = "".join(str(i) for i in spec.electrolyte_miller)
    return CalibrationItem(
        label=f"{spec.metal}({mm})/{spec.electrolyte}({em})",
        quantity="work_of_adhesion",
        structures=structures,
        area_A2=in_plane_area_A2(plain),
        gaps_A=gaps,
        description=(
            f"{cand.label}, {len(plain)} atoms ({int(is_metal.sum())} metal), electrolyte "
            f"termination {cand.electrolyte_termination} ({cand.electrolyte_termination_chemistry}), "
            f"area {cand.area_A2:.1f} Å², metal strain {cand.strain_percent:.2f} %"
        ),
    )


#: The default calibration set: library bulks (MP PBE lattices), small rigid cells.
DEFAULT_SURFACES: tuple[SurfaceSpec, ...] = (
    SurfaceSpec("Li", (1, 0, 0), "gamma_metal", 5.0),
    SurfaceSpec("Li", (1, 1, 0), "gamma_metal", 4.5),
    SurfaceSpec("Li", (1, 1, 1), "gamma_metal", 5.0),
    SurfaceSpec("Na", (1, 0, 0), "gamma_metal", 4.0),
    SurfaceSpec("Na", (1, 1, 0), "gamma_metal", 6.0),
    SurfaceSpec("K", (1, 0, 0), "gamma_metal", 5.0),
    SurfaceSpec("K", (1, 1, 0), "gamma_metal", 7.0),
    SurfaceSpec("Li2O", (1, 1, 1), "gamma_electrolyte", 3.0),
    SurfaceSpec("LiF", (1, 0, 0), "gamma_electrolyte", 3.0),
    SurfaceSpec("LiCl", (1, 0, 0), "gamma_electrolyte", 3.0),
    SurfaceSpec("Li2S", (1, 1, 1), "gamma_electrolyte", 3.0),
    SurfaceSpec("Na2O", (1, 1, 1), "gamma_electrolyte", 3.0),
)
DEFAULT_ADHESION: tuple[AdhesionSpec, ...] = (
    AdhesionSpec("Na", "Na2O", (1, 1, 0), (1, 1, 1), termination="Na"),
    AdhesionSpec("Li", "Li2O", (1, 1, 0), (1, 1, 0), max_strain=0.08),
    AdhesionSpec("Li", "Li2S", (1, 1, 0), (1, 1, 1), termination="Li"),
    AdhesionSpec("Li", "LiF", (1, 1, 0), (1, 0, 0)),
)
#: Default interfacial gap(s) of the W_ad items, Å: 2.5 Å is near the CHGNet/SevenNet
#: maximum of the rigid W_ad(d) of the Li2O, Li2S and Na2O cells (gap scan 1.6-3.6 Å).
DEFAULT_GAPS_A: tuple[float, ...] = (2.5,)


def default_items(
    gaps_A: Sequence[float] = DEFAULT_GAPS_A, vacuum_A: float = 10.0
) -> list[CalibrationItem]:
    """Build the default calibration set (about a minute of structure generation)."""
    items = [build_surface_item(s, vacuum_A) for s in DEFAULT_SURFACES]
    items += [build_adhesion_item(a, gaps_A, vacuum_A) for a in DEFAULT_ADHESION]
    return items


def set_elements(items: Iterable[CalibrationItem]) -> list[str]:
    """Chemical symbols of every structure of the set."""
    els: set[str] = set()
    for item in items:
        for s in item.structures.values():
            els |= {el.symbol for el in s.composition.elements}
    return sorted(els)


# ----------------------------------------------------------------------------- energies


def structure_key(structure: Structure, name: str, kwargs: dict[str, Any]) -> str:
    """Cache key: sha256 of the rounded cell, species and positions, the calculator name,
    its energy-relevant keyword arguments and its package version."""
    from ssbflow.calculators import normalize_name, package_version

    canonical = normalize_name(name)
    payload = {
        "lattice": np.round(structure.lattice.matrix, 5).tolist(),
        "species": [str(sp) for sp in structure.species],
        "cart": np.round(structure.cart_coords, 5).tolist(),
        "calculator": canonical,
        "kwargs": {k: v for k, v in sorted(kwargs.items()) if k not in _KEYLESS},
        "version": package_version(canonical),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class EnergyCache:
    """Reference energies in the results store (collection ``calibration_energies``).

    One document per (structure, calculator, settings): ``key``, ``status``
    ("completed" | "failed"), ``energy_eV`` (completed only), ``failure_reason``,
    ``calculator``, ``calculator_kwargs``, ``formula``, ``n_atoms``, ``wall_s``,
    ``computed_at``. Failed documents are kept as a record but not reused.
    """

    def __init__(self, store) -> None:
        self.store = store
        self.store.connect()

    @classmethod
    def from_settings(cls, settings) -> EnergyCache:
        """The cache in the results store of ``settings`` (SQLite file or MongoDB)."""
        if settings.uses_mongodb:
            from maggma.stores import MongoURIStore

            store = MongoURIStore(
                settings.mongodb_uri.get_secret_value(),
                collection_name=CACHE_COLLECTION,
                database=settings.database,
                key="key",
            )
        else:
            from ssbflow.execution.sqlite_store import SQLiteStore

            path = settings.data_dir / "results" / "ssbflow.sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            store = SQLiteStore(str(path), CACHE_COLLECTION, key="key")
        return cls(store)

    def get(self, key: str) -> dict | None:
        """The completed document of ``key`` (None when absent or failed)."""
        doc = self.store.query_one({"key": key})
        if doc is None or doc.get("status") != "completed":
            return None
        return doc

    def put(self, doc: dict) -> None:
        """Store (or replace) one document."""
        self.store.update([doc], key="key")

    def close(self) -> None:
        """Close the store connection."""
        self.store.close()


@dataclass
class EnergyRun:
    """Energies of one calculator over the unique structures of the set."""

    label: str
    calculator: str
    calculator_kwargs: dict[str, Any]
    energies_eV: dict[str, float] = field(default_factory=dict)  # structure key -> energy
    failures: dict[str, str] = field(default_factory=dict)  # structure key -> reason
    times_s: dict[str, float] = field(default_factory=dict)  # computed here only
    load_s: float = 0.0
    n_computed: int = 0
    n_cached: int = 0
    cached_wall_s: dict[str, float] = field(default_factory=dict)  # stored run times


class _TimeLimitError(RuntimeError):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise `_TimeLimitError` after ``seconds`` (no limit: None, or not the main thread)."""
    import signal
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _TimeLimitError(f"stopped after the time limit of {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


def compute_energies(
    label: str,
    name: str,
    kwargs: dict[str, Any],
    structures: dict[str, Structure],
    cache: EnergyCache | None = None,
    work_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
    max_seconds: float | None = None,
    compute: bool = True,
) -> EnergyRun:
    """Single-point energies of ``structures`` (key -> structure) with one calculator.

    With ``cache``, completed energies are looked up first and every new result (or
    failure) is written at once, so an interrupted run loses at most one calculation.
    A calculation that raises, or runs longer than ``max_seconds`` (main thread only, by
    SIGALRM), is recorded as a failure, never as a number. With ``compute=False`` only
    cached energies are used and every other structure is a failure ("not computed").
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.calculators import device_kwargs, get_calculator
    from ssbflow.calculators.registry import resolve_calculator

    run = EnergyRun(label=label, calculator=name, calculator_kwargs=dict(kwargs))
    todo = {}
    for key, s in structures.items():
        doc = cache.get(key) if cache is not None else None
        if doc is not None:
            run.energies_eV[key] = float(doc["energy_eV"])
            run.n_cached += 1
            if doc.get("wall_s") is not None:
                run.cached_wall_s[key] = float(doc["wall_s"])
        else:
            todo[key] = s
    if not todo:
        return run
    if not compute:
        run.failures = {k: "not computed (only stored energies were used)" for k in todo}
        return run
    full_kwargs = device_kwargs(name, kwargs)
    t0 = time.perf_counter()
    try:
        calc = get_calculator(name, full_kwargs)
    except Exception as exc:  # a potential that cannot load fails every structure
        reason = f"calculator {label} could not be built: {one_line_error(exc, 300)}"
        run.failures = {k: reason for k in todo}
        return run
    run.load_s = time.perf_counter() - t0
    # in-process potentials (ML, empirical) write no files: no folder per structure for them
    in_process = resolve_calculator(name).kind in ("ml", "empirical")
    root = Path(work_dir) if work_dir is not None and not in_process else None
    for i, (key, s) in enumerate(todo.items()):
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        folder = root / f"{label.replace(':', '_')}-{key[:16]}" if root is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        status, energy, reason = "completed", None, None
        try:
            if folder is not None:  # file-writing calculators (GPAW) write there; no chdir
                calc.directory = str(folder)
            with _time_limit(max_seconds):
                energy = float(atoms.get_potential_energy())
            if not np.isfinite(energy):
                status, energy, reason = "failed", None, f"non-finite energy {energy}"
        except Exception as exc:
            status, reason = "failed", one_line_error(exc, 300)
        dt = time.perf_counter() - t
        run.times_s[key] = dt
        run.n_computed += 1
        if status == "completed":
            run.energies_eV[key] = energy  # type: ignore[assignment]
        else:
            run.failures[key] = reason  # type: ignore[assignment]
        if log is not None:
            shown = f"{energy:.5f} eV" if energy is not None else f"FAILED ({reason})"
            log(
                f"{label}: {i + 1}/{len(todo)} {s.composition.reduced_formula} "
                f"{len(s)} atoms: {shown} in {dt:.1f} s"
            )
        if cache is not None:
            cache.put(
                {
                    "key": key,
                    "status": status,
                    "energy_eV": energy,
                    "failure_reason": reason,
                    "calculator": name,
                    "calculator_kwargs": {k: v for k, v in kwargs.items() if k not in _KEYLESS},
                    "formula": s.composition.formula,
                    "n_atoms": len(s),
                    "wall_s": dt,
                    "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "structure": s.as_dict(),
                }
            )
    return run


# ----------------------------------------------------------------------------- calibration


def _item_values(
    items: Sequence[CalibrationItem], keys: dict[tuple[int, str], str], run: EnergyRun
) -> list[dict[str, Any]]:
    out = []
    for idx, item in enumerate(items):
        energies, failed = {}, []
        for role in item.structures:
            key = keys[(idx, role)]
            if key in run.energies_eV:
                energies[role] = run.energies_eV[key]
            else:
                failed.append(f"{role}: {run.failures.get(key, 'no energy')}")
        if failed:
            out.append({"status": "failed", "value": None, "failure_reason": "; ".join(failed)})
            continue
        try:
            value, method = item.value_J_per_m2(energies)
        except ValueError as exc:
            out.append({"status": "failed", "value": None, "failure_reason": str(exc)})
            continue
        out.append({"status": "completed", "value": value, "method": method})
    return out


def calibrate(
    items: Sequence[CalibrationItem],
    calculators: Sequence[tuple[str, dict[str, Any]]],
    reference: tuple[str, dict[str, Any]],
    cache: EnergyCache | None = None,
    work_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
    baseline: str | None = "chgnet",
    reference_first: bool = False,
    reference_max_seconds: float | None = None,
    reference_stored_only: bool = False,
) -> dict[str, Any]:
    """Compute the calibration set with every calculator and the reference, and score.

    Parameters
    ----------
    items
        The calibration set (`default_items` or custom `CalibrationItem`s).
    calculators
        ``(name, kwargs)`` of each potential to measure (normalised, e.g. by
        `ssbflow.calculators.resolve_variant`).
    reference
        ``(name, kwargs)`` of the reference (e.g. ``("gpaw", {"preset": "standard"})``).
    cache
        Reference-energy cache (None: compute everything).
    work_dir
        Folder for calculator output files (GPAW text output), one sub-folder per
        structure and calculator.
    log
        Called with one line per single point.
    baseline
        Variant whose time per structure the others are divided by.
    reference_first
        Compute the reference before the potentials (default: after, so the cheap numbers
        come first).
    reference_max_seconds
        Wall-time limit of one reference single point, s (None: none); a structure over
        the limit is a failure (not cached as a number).
    reference_stored_only
        Use only reference energies already in ``cache``; compute none.

    Returns
    -------
    dict
        JSON-serialisable: ``reference``, ``items``, ``potentials`` (scores per quantity,
        times, provenance), ``warnings``.
    """
    from ssbflow.calculators import calculator_provenance, variant_label

    if not items:
        raise InputError("the calibration set is empty", field="items")
    if not calculators:
        raise InputError("name at least one calculator to calibrate", field="calculators")
    labels = [variant_label(n, k) for n, k in calculators]
    if len(set(labels)) != len(labels):
        raise InputError(f"a calculator is named twice: {', '.join(labels)}", field="calculators")
    ref_label = variant_label(*reference)

    def unique_for(name: str, kwargs: dict[str, Any]):
        keys, structs = {}, {}
        for idx, item in enumerate(items):
            for role, s in item.structures.items():
                key = structure_key(s, name, kwargs)
                keys[(idx, role)] = key
                structs[key] = s
        return keys, structs

    runs: dict[str, tuple[EnergyRun, dict]] = {}
    order = [(ref_label, reference, True)] if reference_first else []
    order += [(lab, calc, False) for lab, calc in zip(labels, calculators, strict=True)]
    if not reference_first:
        order.append((ref_label, reference, True))
    t_all = time.perf_counter()
    for lab, (name, kwargs), is_ref in order:
        keys, structs = unique_for(name, kwargs)
        run = compute_energies(
            lab,
            name,
            kwargs,
            structs,
            cache=cache if is_ref else None,
            work_dir=work_dir,
            log=log,
            max_seconds=reference_max_seconds if is_ref else None,
            compute=not (is_ref and reference_stored_only),
        )
        runs["__reference__" if is_ref else lab] = (run, keys)
    ref_run, ref_keys = runs["__reference__"]
    ref_values = _item_values(items, ref_keys, ref_run)
    warnings: list[str] = []
    for item, rv in zip(items, ref_values, strict=True):
        if rv["status"] != "completed":
            warnings.append(f"reference failed for {item.label}: {rv['failure_reason']}")

    item_rows: list[dict[str, Any]] = []
    predicted: dict[str, list[dict[str, Any]]] = {}
    for lab in labels:
        run, keys = runs[lab]
        predicted[lab] = _item_values(items, keys, run)
    for idx, item in enumerate(items):
        item_rows.append(
            {
                "label": item.label,
                "quantity": item.quantity,
                "description": item.description,
                "n_structures": len(item.structures),
                "n_atoms": {r: len(s) for r, s in item.structures.items()},
                "area_A2": item.area_A2,
                "gaps_A": list(item.gaps_A),
                "reference": ref_values[idx],
                "predicted": {lab: predicted[lab][idx] for lab in labels},
            }
        )

    potentials: dict[str, Any] = {}
    times: dict[str, float] = {}
    for (name, kwargs), lab in zip(calculators, labels, strict=True):
        run, _ = runs[lab]
        scores: dict[str, Any] = {}
        all_err: list[float] = []
        n_failed_items = 0
        for q in QUANTITIES:
            ref_v, pred_v = [], []
            for idx, item in enumerate(items):
                if item.quantity != q:
                    continue
                r, p = ref_values[idx], predicted[lab][idx]
                if r["status"] != "completed":
                    continue
                if p["status"] != "completed":
                    n_failed_items += 1
                    warnings.append(f"{lab} failed for {item.label}: {p['failure_reason']}")
                    continue
                ref_v.append(r["value"])
                pred_v.append(p["value"])
            if ref_v:
                score = score_quantity(q, ref_v, pred_v, with_sign=q == "work_of_adhesion")
                scores[q] = score.as_dict()
                all_err += [abs(a - b) for a, b in zip(pred_v, ref_v, strict=True)]
            else:
                scores[q] = None
        per_structure = float(np.mean(list(run.times_s.values()))) if run.times_s else None
        if per_structure is not None:
            times[lab] = per_structure
        potentials[lab] = {
            "calculator": name,
            "calculator_kwargs": kwargs,
            "provenance": calculator_provenance(name, kwargs),
            "scores": scores,
            "max_abs_error_J_per_m2": max(all_err) if all_err else None,
            "n_failed_items": n_failed_items,
            "n_single_points": run.n_computed,
            "time_per_structure_s": per_structure,
            "total_time_s": float(sum(run.times_s.values())),
            "load_time_s": run.load_s,
        }
    rel = relative_times(times, baseline) if baseline in times else {k: None for k in times}
    for lab in labels:
        potentials[lab]["time_relative_to_baseline"] = rel.get(lab)
    ref_prov = calculator_provenance(*reference)
    return {
        "reference": {
            "label": ref_label,
            "calculator": reference[0],
            "calculator_kwargs": reference[1],
            "provenance": ref_prov,
            "n_single_points_computed": ref_run.n_computed,
            "n_single_points_cached": ref_run.n_cached,
            "n_failed": len(ref_run.failures),
            "compute_time_s": float(sum(ref_run.times_s.values())),
            "time_per_structure_s": (
                float(np.mean(list(ref_run.times_s.values()))) if ref_run.times_s else None
            ),
            # every reference energy of the set, computed now or stored by an earlier run
            "all_time_s": float(sum({**ref_run.cached_wall_s, **ref_run.times_s}.values())),
            "all_time_per_structure_s": (
                float(np.mean(list({**ref_run.cached_wall_s, **ref_run.times_s}.values())))
                if (ref_run.cached_wall_s or ref_run.times_s)
                else None
            ),
        },
        "baseline": baseline if baseline in times else None,
        "items": item_rows,
        "potentials": potentials,
        "quantities": list(QUANTITIES),
        "method": {
            "surface_energy": "two-slab series, intercept of E(n) = n eps + 2 A gamma "
            "(Fiorentini-Methfessel), rigid",
            "work_of_adhesion": "W_ad = (E_metal + E_electrolyte - E_interface)/A, rigid, "
            "slabs alone in the interface cell; one gap: W at that gap; >= 4 gaps: UBER fit",
        },
        "wall_time_s": time.perf_counter() - t_all,
        "warnings": warnings,
    }


def spec_dicts() -> dict[str, Any]:
    """The default set's specifications (JSON-serialisable, for reports)."""
    return {
        "surfaces": [asdict(s) for s in DEFAULT_SURFACES],
        "adhesion": [asdict(a) for a in DEFAULT_ADHESION],
        "gaps_A": list(DEFAULT_GAPS_A),
    }


def in_process_env() -> dict[str, str]:
    """Thread settings that matter for the measured times (for reports)."""
    return {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
