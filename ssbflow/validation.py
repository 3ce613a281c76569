"""Checks of user input that run before any work starts, one function per concept.

Every function raises `ssbflow.errors.InputError` with ``field`` set to the name of the
setting it checked (a Maker field or a CLI parameter name such as ``"output"``); the
message is one line saying what is wrong and how to fix it. The CLI maps ``field`` to
its flag (`ssbflow.cli.COMMAND_FIELD_FLAGS`, e.g. ``min_msd_increase_A2`` -> the min-msd
option of ``ssbflow diffusion``); library code never speaks in flags.

The functions have no side effects beyond, where documented, a probe file that is
removed at once: nothing is created that a failed command would leave behind.

Numbers
    `check_finite`, `check_positive`, `check_range`, `check_temperature`,
    `check_temperatures`, `check_seed`, `check_lost_after`, `check_ion_charge`
Files and stores
    `check_output_dir`, `check_data_dir`, `check_store`
Calculators
    `check_calculator_class`, `check_calculator_kwargs`
Structures and trajectories
    `check_cell_size`, `check_supercell_size`, `check_min_distance`, `check_same_system`
"""

from __future__ import annotations

import inspect
import math
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ssbflow.errors import InputError

#: Highest temperature accepted for MD or thermal properties, K. Every solid electrolyte
#: and alkali metal here melts below 2000 K; hot fluids (a test of liquid Cu runs at
#: 6000 K) stay allowed, but 10^4 K is beyond any potential's training data.
MAX_TEMPERATURE_K = 10000.0
#: numpy's ``SeedSequence``/``RandomState`` accept seeds in [0, 2**32 - 1].
MAX_SEED = 2**32 - 1
#: Longest file or folder name on common file systems (ext4, xfs, apfs, ntfs), bytes.
NAME_MAX_BYTES = 255
#: Two atoms closer than this fraction of the sum of their covalent radii are refused.
#: The shortest real bonds are about 0.6 of the sum (H2: 0.74 Å vs 0.62 Å).
MIN_DISTANCE_FRACTION = 0.5
#: Largest cell any workflow accepts for MD by default, atoms.
DEFAULT_MAX_ATOMS = 2000


def _err(message: str, field: str | None) -> InputError:
    return InputError(message, field=field)


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


def check_finite(value: Any, field: str) -> float | None:
    """Refuse NaN and infinity (``None`` passes through).

    Returns
    -------
    float or None
        ``value`` as a float.
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise _err(f"{field} must be a number, got {value!r}", field) from exc
    if not math.isfinite(number):
        raise _err(f"{field} must be a finite number, got {value}", field)
    return number


def check_positive(
    value: Any, field: str, maximum: float | None = None, allow_zero: bool = False
) -> float | None:
    """Finite and > 0 (>= 0 with ``allow_zero``), and at most ``maximum`` when given.

    ``None`` passes through (an optional setting left unset).
    """
    number = check_finite(value, field)
    if number is None:
        return None
    if number < 0 or (number == 0 and not allow_zero):
        bound = "zero or positive" if allow_zero else "positive"
        raise _err(f"{field} must be {bound}, got {value}", field)
    if maximum is not None and number > maximum:
        raise _err(
            f"{field}={value} is beyond the limit of {maximum:g}; use a smaller value", field
        )
    return number


def check_range(
    value: Any,
    field: str,
    low: float,
    high: float,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    hint: str = "",
) -> float | None:
    """Finite and inside ``[low, high]`` (open ends where told); ``None`` passes."""
    number = check_finite(value, field)
    if number is None:
        return None
    below = number < low if low_inclusive else number <= low
    above = number > high if high_inclusive else number >= high
    if below or above:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        extra = f"; {hint}" if hint else ""
        raise _err(f"{field} must be in {left}{low:g}, {high:g}{right}, got {value}{extra}", field)
    return number


def check_ion_charge(value: Any, field: str = "ion_charge") -> int:
    """The charge number of a mobile ion: a non-zero whole number (e.g. 1 for Li+).

    The Nernst-Einstein conductivity is proportional to its square, so 0 would turn every
    diffusivity into a conductivity of zero.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _err(f"{field} must be a whole number, e.g. 1 for Li+, got {value!r}", field)
    if int(value) == 0:
        raise _err(
            f"{field} must be non-zero (the conductivity is proportional to its square); "
            "give the ion's charge number, e.g. 1 for Li+",
            field,
        )
    return int(value)


def check_temperature(value_K: Any, field: str = "temperature_K") -> float:
    """A temperature in kelvin: finite, > 0 and at most `MAX_TEMPERATURE_K`."""
    number = check_finite(value_K, field)
    if number is None or number <= 0:
        raise _err(f"{field} must be a positive temperature in K, got {value_K}", field)
    if number > MAX_TEMPERATURE_K:
        raise _err(
            f"{field}: {value_K} K is above the limit of {MAX_TEMPERATURE_K:g} K (no "
            "potential here was trained on such states); use e.g. 600 800 1000 1200",
            field,
        )
    return number


def check_temperatures(values_K: Iterable[Any], field: str = "temperatures_K") -> list[float]:
    """Each temperature by `check_temperature`, and all distinct; at least one."""
    temps = [check_temperature(v, field) for v in values_K]
    if not temps:
        raise _err(f"{field}: give at least one temperature in K, e.g. 600 800 1000", field)
    if len(set(temps)) != len(temps):
        repeated = sorted(t for t, n in Counter(temps).items() if n > 1)
        raise _err(f"{field}: temperatures must be distinct; repeated {repeated} K", field)
    return temps


def check_seed(value: Any, field: str = "seed") -> int | None:
    """A random seed numpy accepts: an integer in [0, 2**32 - 1]; ``None`` passes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _err(f"{field} must be a whole number, got {value!r}", field)
    if not 0 <= int(value) <= MAX_SEED:
        raise _err(f"{field} must be in [0, {MAX_SEED}] (numpy's seed range), got {value}", field)
    return int(value)


def check_lost_after(value_s: Any, field: str = "lost_after_s") -> float:
    """Seconds without a worker ping after which a running job is lost: finite and > 0.

    A zero or negative value would declare every running job lost, and resetting a live
    job runs it twice.
    """
    number = check_finite(value_s, field)
    if number is None or number <= 0:
        raise _err(
            f"{field} must be a positive number of seconds, got {value_s}; workers ping "
            "hourly, so use e.g. 14400 (4 h)",
            field,
        )
    return number


# --------------------------------------------------------------------------------------
# Files and stores
# --------------------------------------------------------------------------------------


def _check_names(path: Path, field: str) -> None:
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX_BYTES:
            raise _err(
                f"{field}: the name '{part[:40]}...' is {len(os.fsencode(part))} bytes long, "
                f"above the file-system limit of {NAME_MAX_BYTES}; choose a shorter name",
                field,
            )


def _probe_writable(folder: Path, field: str, what: str) -> None:
    """Create and remove a file in ``folder`` (os.access is wrong for root and chattr +i)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".ssbflow-probe-", dir=folder)
    except OSError as exc:
        raise _err(
            f"{field}: cannot write in {folder} ({exc.strerror or exc}); {what}", field
        ) from exc
    os.close(fd)
    os.unlink(name)


def check_output_dir(
    path: Any, field: str = "output", fix: str = "choose another folder"
) -> Path | None:
    """A folder results can be written to: it exists or can be created, and is writable.

    Refused: an existing file, a path under a file, a name longer than the file-system
    limit, a folder (or, when missing, its nearest existing parent) that is not
    writable. Nothing is created; a probe file in an existing folder is removed at once.
    ``None`` passes through.
    """
    if path is None:
        return None
    folder = Path(path).expanduser()
    _check_names(folder, field)
    if folder.exists():
        if not folder.is_dir():
            raise _err(f"{field}: {folder} is a file, not a folder; {fix}", field)
        _probe_writable(folder, field, fix)
        return folder
    parent = folder.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise _err(f"{field}: {folder} cannot be created because {parent} is a file; {fix}", field)
    _probe_writable(parent, field, f"{folder} cannot be created there; {fix}")
    return folder


def check_data_dir(path: Any, field: str = "data_dir") -> Path:
    """The results/LaunchPad folder: usable as by `check_output_dir`, and its SQLite
    results file (``results/ssbflow.sqlite``), where present, is a readable database.

    The fix names ``SSBFLOW_DATA_DIR`` and the ``data_dir`` setting (the CLI shows its
    flag) so that the user knows which setting to change.
    """
    folder = Path(path).expanduser()
    check_output_dir(folder, field, fix=f"set SSBFLOW_DATA_DIR (or {field}) to a usable folder")
    results = folder / "results"
    if results.exists() and not results.is_dir():
        raise _err(f"{field}: {results} is a file, not the results folder; move it away", field)
    check_sqlite_file(results / "ssbflow.sqlite", field)
    return folder


def check_sqlite_file(path: Path, field: str = "data_dir") -> None:
    """An existing SQLite file opens and its schema reads (missing files pass)."""
    if not path.exists():
        return
    if not path.is_file():
        raise _err(f"{field}: {path} is not a file; move it away", field)
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise _err(
            f"{field}: the results store {path} cannot be read ({exc}); it is corrupt or not an "
            "ssbflow store: restore it from a backup or move it away to start an empty store",
            field,
        ) from exc


def mask_uri(uri: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://***@host`` (for messages)."""
    import re

    return re.sub(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^@/\s]+@", r"\1***@", str(uri))


def check_store(settings: Any, timeout_s: float = 5.0, field: str = "store") -> None:
    """The results store of ``settings`` opens.

    Embedded: the data folder is usable and its SQLite file reads (`check_data_dir`).
    MongoDB: the server answers within ``timeout_s`` and the database can be listed; the
    message names the URI with its password masked.
    """
    if not getattr(settings, "uses_mongodb", False):
        check_data_dir(settings.data_dir, "data_dir")
        return
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    uri = settings.mongodb_uri.get_secret_value()
    try:
        # a timeout given in the URI wins over ours
        options = (
            {}
            if "serverselectiontimeoutms" in uri.lower()
            else {"serverSelectionTimeoutMS": int(timeout_s * 1000)}
        )
        client = MongoClient(uri, **options)
        try:
            client[settings.database].list_collection_names()
        finally:
            client.close()
    except (PyMongoError, ValueError, TypeError) as exc:
        reason = mask_uri(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise _err(
            f"cannot open the results store MongoDB {mask_uri(uri)} (database "
            f"'{settings.database}'): {reason[:200]}; check SSBFLOW_MONGODB_URI, the "
            "credentials and that the server is running",
            field,
        ) from None


# --------------------------------------------------------------------------------------
# Calculators
# --------------------------------------------------------------------------------------


def check_calculator_class(obj: Any, name: str, field: str = "calculator_name") -> type:
    """``obj`` is a class deriving from ASE's ``BaseCalculator`` (or ``Calculator``)."""
    from ase.calculators.calculator import BaseCalculator

    if not (inspect.isclass(obj) and issubclass(obj, BaseCalculator)):
        kind = "class" if inspect.isclass(obj) else type(obj).__name__
        raise _err(
            f"calculator '{name}' is a {kind} that is not an ASE calculator (no "
            "ase.calculators.calculator.Calculator base); give an ASE calculator class, "
            "e.g. ase.calculators.emt:EMT",
            field,
        )
    return obj


def calculator_parameter_names(cls: type) -> set[str]:
    """Keyword arguments an ASE calculator class accepts.

    The named parameters of every ``__init__`` along the class's MRO (ASE calculators
    pass ``**kwargs`` up to ``Calculator.__init__``) plus the class's
    ``default_parameters`` (which ``Calculator.set`` takes as its parameters).
    """
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {
            p.name
            for p in params
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
        }
        names |= set(getattr(klass, "default_parameters", {}) or {})
    return names


def check_calculator_kwargs(
    cls: type, kwargs: dict[str, Any] | None, name: str, field: str = "calculator_kwargs"
) -> None:
    """Every key of ``kwargs`` is a parameter of calculator class ``cls``.

    Unknown keys are refused (ASE stores unknown keywords as parameters and ignores
    them, so a typo would silently run with the default). See
    `calculator_parameter_names` for how the accepted names are found.
    """
    if not kwargs:
        return
    known = calculator_parameter_names(cls)
    unknown = sorted(set(kwargs) - known)
    if unknown:
        shown = ", ".join(sorted(known - {"ignore_bad_restart_file"}))
        raise _err(
            f"{field}: calculator '{name}' does not take {', '.join(map(repr, unknown))}; "
            f"it takes {shown or 'no keyword arguments'}",
            field,
        )


# --------------------------------------------------------------------------------------
# Structures and trajectories
# --------------------------------------------------------------------------------------


def check_cell_size(n_atoms: int, max_atoms: int, field: str, what: str = "the cell") -> int:
    """``0 < n_atoms <= max_atoms``; the message names the limit and the setting."""
    if n_atoms <= 0:
        raise _err(f"{what} has no atoms", field)
    if n_atoms > max_atoms:
        raise _err(
            f"{what} would have {n_atoms} atoms, above the limit of {max_atoms}; lower {field}",
            field,
        )
    return n_atoms


def supercell_repeats(cell_A: Any, min_length_A: float) -> tuple[int, int, int]:
    """Repeats (n1, n2, n3) so that every perpendicular width of the supercell is at least
    ``min_length_A``.

    Parameters
    ----------
    cell_A
        (3, 3) lattice vectors as rows, Å.
    """
    import numpy as np

    cell = np.asarray(cell_A, dtype=float)
    volume = abs(float(np.linalg.det(cell)))
    widths = [
        volume / float(np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])))
        for i in range(3)
    ]
    n1, n2, n3 = (max(1, math.ceil(min_length_A / w - 1e-9)) for w in widths)
    return n1, n2, n3


def check_supercell_size(
    structure: Any,
    min_length_A: float,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    field: str = "supercell_min_length_A",
) -> int:
    """Atoms of the diagonal supercell whose perpendicular widths reach ``min_length_A``.

    Raises InputError, naming ``max_atoms`` and ``field``, when it is above the limit.
    """
    check_positive(min_length_A, field)
    cell = structure.lattice.matrix if hasattr(structure, "lattice") else structure.cell[:]
    reps = supercell_repeats(cell, float(min_length_A))
    n_atoms = len(structure) * reps[0] * reps[1] * reps[2]
    if n_atoms > max_atoms:
        raise _err(
            f"{field}: a supercell with widths of at least {min_length_A:g} Å has {n_atoms} "
            f"atoms ({reps[0]}x{reps[1]}x{reps[2]} cells), above the limit of {max_atoms} "
            f"atoms; lower {field}",
            field,
        )
    return n_atoms


def check_min_distance(
    structure: Any, field: str = "structure", fraction: float = MIN_DISTANCE_FRACTION
) -> float | None:
    """Refuse two atoms closer than ``fraction`` x the sum of their covalent radii.

    Periodic images count. The message gives the distance and the pair (indices and
    elements). Returns the shortest distance found (Å), or None for a single atom in a
    cell with no close image.
    """
    import numpy as np
    from ase.data import atomic_numbers, covalent_radii

    if len(structure) == 0:
        raise _err(f"{field}: the structure has no atoms", field)
    symbols = [site.specie.symbol for site in structure]
    radii = np.array([covalent_radii[atomic_numbers[s]] for s in symbols])
    cutoff = float(fraction * 2 * radii.max())
    centers, neighbors, _, distances = structure.get_neighbor_list(cutoff)
    if len(distances) == 0:
        return None
    limits = fraction * (radii[centers] + radii[neighbors])
    bad = np.flatnonzero(distances < limits)
    if bad.size:
        k = bad[np.argmin(distances[bad] / limits[bad])]
        i, j = int(centers[k]), int(neighbors[k])
        raise _err(
            f"{field}: atoms {i} ({symbols[i]}) and {j} ({symbols[j]}) are "
            f"{distances[k]:.3f} Å apart, below {limits[k]:.2f} Å ({fraction:g} x the sum of "
            "their covalent radii); fix the structure file",
            field,
        )
    return float(distances.min())


def check_same_system(
    systems: Sequence[tuple[str, Sequence[str]]], field: str = "trajectories"
) -> None:
    """Trajectories analysed together describe one system: the same atoms, in any order.

    Parameters
    ----------
    systems
        ``(label, chemical symbols)`` per trajectory (label: a file name, for the message).
    """
    if not systems:
        return
    ref_label, ref_symbols = systems[0]
    ref = Counter(ref_symbols)
    for label, symbols in systems[1:]:
        if Counter(symbols) != ref:
            raise _err(
                f"{field}: {label} holds {len(symbols)} atoms ({_formula(symbols)}) but "
                f"{ref_label} holds {len(ref_symbols)} ({_formula(ref_symbols)}); one "
                "Arrhenius fit needs trajectories of one system at different temperatures",
                field,
            )


def _formula(symbols: Sequence[str]) -> str:
    counts = Counter(symbols)
    return "".join(f"{el}{n if n > 1 else ''}" for el, n in sorted(counts.items()))
