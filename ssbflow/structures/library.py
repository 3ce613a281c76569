"""Named bulk phases (metals, solid electrolytes, phase-diagram phases) and structure loading.

Every library phase is rebuilt from crystallographic data (space group, lattice parameters
and Wyckoff positions) kept with its literature source in ``ssbflow/data/phases.yaml``.
Phases whose experimental structure has partially occupied sites are stored as documented
*ordered approximants*, so every structure handed out is ordered and can be used directly
for slabs, interfaces, molecular dynamics and phonons.

The YAML file is parsed on first use and each phase is built once; callers always get a
copy.

Examples
--------
>>> from ssbflow.structures.library import get_phase, phase_info
>>> get_phase("li").composition.reduced_formula
'Li'
>>> phase_info("beta-Li3PS4").name
'Li3PS4'
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssbflow.errors import InputError

if TYPE_CHECKING:
    from pymatgen.core import Lattice, Structure

__all__ = [
    "PhaseInfo",
    "get_phase",
    "is_metal",
    "list_phases",
    "load_structure",
    "phase_info",
]

_KINDS = ("metal", "electrolyte", "element", "molecule", "compound")
# File suffixes handed to ASE first; everything else goes to pymatgen first.
_ASE_FIRST_SUFFIXES = frozenset({".xyz", ".extxyz", ".traj"})
# Tolerance (fractional coordinates) for matching the points of an ordering rule.
_FRAC_TOL = 1e-3
_HINT = "give a CIF/POSCAR/extxyz file or a library name (see `ssbflow phases`)"


@dataclass(frozen=True)
class PhaseInfo:
    """Metadata of one library phase.

    Attributes
    ----------
    name : str
        Canonical library name (e.g. ``"LLZO"``).
    formula : str
        Reduced formula (e.g. ``"Li7La3Zr2O12"``).
    kind : str
        ``"metal"`` or ``"electrolyte"``; phase-diagram phases used by
        ``ssbflow stability`` are ``"element"`` (non-metal elemental solid),
        ``"molecule"`` (diatomic gas in a box, no density) or ``"compound"``.
    spacegroup_symbol, spacegroup_number : str, int
        Space group reported in the literature source.
    density_g_cm3_reference : float or None
        Published density (g/cm^3) the built cell is checked against; the YAML records
        whether it is measured or an X-ray (cell-derived) value.
    source : str
        Literature source: authors (year), journal, and ICSD/COD id where known.
    doi : str or None
        DOI of the source, if known.
    notes : str
        Free-text notes: ordering choices for approximants, caveats.
    aliases : tuple of str
        Alternative names accepted by the lookup functions.
    model_spacegroup_symbol, model_spacegroup_number : str, int
        Space group of the structure :func:`get_phase` returns, as found by
        ``SpacegroupAnalyzer(symprec=0.1)``. Equal to the published one except for ordered
        approximants of disordered phases (a subgroup then).
    natoms_conventional : int
        Number of atoms in the conventional cell returned by :func:`get_phase`.
    """

    name: str
    formula: str
    kind: str
    spacegroup_symbol: str
    spacegroup_number: int
    density_g_cm3_reference: float | None
    source: str
    doi: str | None
    notes: str
    aliases: tuple[str, ...]
    model_spacegroup_symbol: str = ""
    model_spacegroup_number: int = 0
    natoms_conventional: int = 0


# -- catalogue ----------------------------------------------------------------------------


@functools.cache
def _catalog() -> dict[str, dict[str, Any]]:
    """Parse ``phases.yaml`` once: canonical name -> raw entry (file order kept)."""
    import yaml

    text = resources.files("ssbflow").joinpath("data", "phases.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    phases = data.get("phases") if isinstance(data, dict) else None
    if not isinstance(phases, dict) or not phases:
        raise RuntimeError("ssbflow/data/phases.yaml has no 'phases' mapping")
    return phases


@functools.cache
def _index() -> dict[str, str]:
    """Lower-cased names and aliases -> canonical name."""
    index: dict[str, str] = {}
    for name, entry in _catalog().items():
        for key in (name, *entry.get("aliases", ())):
            low = str(key).strip().lower()
            if index.setdefault(low, name) != name:
                raise RuntimeError(f"phases.yaml: '{key}' names both {index[low]} and {name}")
    return index


def _lookup(name: str) -> str | None:
    """Canonical name for ``name`` (case-insensitive, aliases allowed), else None."""
    return _index().get(str(name).strip().lower())


def _close_matches(name: str) -> list[str]:
    """Canonical names of phases whose name or alias resembles ``name``."""
    keys = difflib.get_close_matches(str(name).strip().lower(), list(_index()), n=5, cutoff=0.5)
    return list(dict.fromkeys(_index()[k] for k in keys))


def _resolve(name: str) -> str:
    """Canonical name for ``name``; InputError naming close matches if unknown."""
    key = _lookup(name)
    if key is None:
        close = _close_matches(name)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(
            f"unknown phase '{name}': {hint}run `ssbflow phases` to list the library phases"
        )
    return key


def _source_text(src: dict[str, Any]) -> str:
    text = f"{src.get('authors', '?')} ({src.get('year', '?')}), {src.get('journal', '?')}"
    ids = [f"{db.upper()} {src[db]}" for db in ("icsd", "cod") if src.get(db)]
    return "; ".join([text, *ids])


def _info(name: str) -> PhaseInfo:
    entry = _catalog()[name]
    sg, model = entry["spacegroup"], entry["model"]
    density = entry.get("density", {}).get("reference")
    src = entry.get("source", {})
    kind = entry["kind"]
    if kind not in _KINDS:
        raise RuntimeError(f"phases.yaml: {name} has kind '{kind}', expected one of {_KINDS}")
    return PhaseInfo(
        name=name,
        formula=str(entry["formula"]),
        kind=kind,
        spacegroup_symbol=str(sg["symbol"]),
        spacegroup_number=int(sg["number"]),
        density_g_cm3_reference=None if density is None else float(density),
        source=_source_text(src),
        doi=None if not src.get("doi") else str(src["doi"]),
        notes=" ".join(str(entry.get("notes", "")).split()),
        aliases=tuple(str(a) for a in entry.get("aliases", ())),
        model_spacegroup_symbol=str(model.get("spacegroup_symbol", sg["symbol"])),
        model_spacegroup_number=int(model["spacegroup_number"]),
        natoms_conventional=int(model["natoms"]),
    )


def list_phases() -> list[PhaseInfo]:
    """All library phases, in the order of the data file.

    Returns
    -------
    list of PhaseInfo
    """
    return [_info(name) for name in _catalog()]


def phase_info(name: str) -> PhaseInfo:
    """Metadata of a library phase.

    Parameters
    ----------
    name : str
        Phase name or alias, case-insensitive (``"li6ps5cl"``, ``"gamma-Li3PO4"``).

    Returns
    -------
    PhaseInfo

    Raises
    ------
    InputError
        Unknown name; the message lists close matches and points to ``ssbflow phases``.
    """
    return _info(_resolve(name))


# -- building ------------------------------------------------------------------------------


def _num(value: Any) -> float:
    """YAML number or exact fraction string ("1/3") -> float."""
    return float(Fraction(value)) if isinstance(value, str) else float(value)


def _lattice(entry: dict[str, Any]) -> Lattice:
    """Lattice from the parameters the crystal system leaves free."""
    from pymatgen.core import Lattice

    number = int(entry["spacegroup"]["number"])
    par = {k: _num(v) for k, v in entry["lattice"].items()}
    a = par["a"]
    if number >= 195:  # cubic
        b = c = a
    elif number >= 75:  # tetragonal, trigonal, hexagonal
        b, c = a, par["c"]
    else:
        b, c = par["b"], par["c"]
    gamma = 120.0 if 143 <= number <= 194 else par.get("gamma", 90.0)
    return Lattice.from_parameters(a, b, c, par.get("alpha", 90.0), par.get("beta", 90.0), gamma)


def _xyz(site: dict[str, Any]) -> list[float]:
    return [_num(v) for v in site["xyz"]]


def _kept_sites(
    name: str, entry: dict[str, Any], lattice: Lattice, site: dict[str, Any], rule: dict[str, Any]
) -> list[tuple[str, Any]]:
    """Sites of a partially occupied orbit that an ordering rule keeps."""
    import numpy as np
    from pymatgen.core import Structure
    from pymatgen.symmetry.groups import SpaceGroup

    setting = entry["spacegroup"]["setting"]
    orbit = Structure.from_spacegroup(setting, lattice, [site["species"]], [_xyz(site)])
    frac = orbit.frac_coords
    ops = SpaceGroup(rule["subgroup"]).symmetry_ops
    points = np.array([op.operate([_num(v) for v in p]) for p in rule["keep"] for op in ops])

    def near(a: Any, b: Any) -> Any:
        d = (a[:, None, :] - b[None, :, :] + 0.5) % 1.0 - 0.5
        return np.all(np.abs(d) < _FRAC_TOL, axis=2)

    if not near(points, frac).any(axis=1).all():
        raise RuntimeError(
            f"phases.yaml: {name}: an ordering 'keep' point is not on {site['label']}"
        )
    kept = near(frac, points).any(axis=1)
    occupancy = site.get("reported_occupancy")
    if occupancy is not None and int(kept.sum()) != round(len(orbit) * float(occupancy)):
        raise RuntimeError(
            f"phases.yaml: {name}: ordering keeps {int(kept.sum())} of {len(orbit)} "
            f"{site['label']} sites, occupancy {occupancy} needs {round(len(orbit) * occupancy)}"
        )
    return [(site["species"], frac[i]) for i in np.flatnonzero(kept)]


@functools.cache
def _built(name: str) -> Structure:
    """Build the conventional cell of a library phase (cached; do not mutate)."""
    from pymatgen.core import Structure

    entry = _catalog()[name]
    lattice = _lattice(entry)
    rules = {rule["site"]: rule for rule in entry.get("ordering", ())}
    sites = [s for s in entry["sites"] if not s.get("omit", False)]
    plain = [s for s in sites if s["label"] not in rules]
    structure = Structure.from_spacegroup(
        entry["spacegroup"]["setting"],
        lattice,
        [s["species"] for s in plain],
        [_xyz(s) for s in plain],
    )
    by_label = {s["label"]: s for s in sites}
    for label, rule in rules.items():
        for species, frac in _kept_sites(name, entry, lattice, by_label[label], rule):
            structure.append(species, frac)
    structure.sort()
    expected = int(entry["model"]["natoms"])
    if len(structure) != expected or not structure.is_ordered:
        raise RuntimeError(f"phases.yaml: {name} built {len(structure)} atoms, expected {expected}")
    return structure


def get_phase(name: str, primitive: bool = False) -> Structure:
    """Structure of a library phase.

    Parameters
    ----------
    name : str
        Phase name or alias, case-insensitive.
    primitive : bool, optional
        Return a primitive cell instead of the conventional cell (default).

    Returns
    -------
    pymatgen.core.Structure
        A new, ordered structure (safe to modify).

    Raises
    ------
    InputError
        Unknown name.
    """
    structure = _built(_resolve(name)).copy()
    if primitive:
        structure = structure.get_primitive_structure()
    return structure


# -- loading from a name or a file ---------------------------------------------------------


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_pymatgen(path: Path) -> Structure:
    import warnings

    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CIF parser chatter; failures still raise
        return Structure.from_file(str(path))


def _read_ase(path: Path) -> Structure:
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = ase.io.read(str(path))  # the last image of a trajectory
    if len(atoms) == 0:
        raise ValueError("file contains no atoms")
    if atoms.cell.rank < 3 or not all(atoms.pbc):
        raise ValueError("no 3-D periodic cell (a bulk structure needs a lattice and pbc=T T T)")
    occupancy = atoms.info.get("occupancy") or {}
    if any(float(x) < 1.0 - 1e-6 for occ in occupancy.values() for x in dict(occ).values()):
        raise _DisorderedError
    return AseAtomsAdaptor.get_structure(atoms)


class _DisorderedError(Exception):
    """Internal signal: the file describes partially occupied sites."""


def _read_file(path: Path, shown: str) -> Structure:
    readers = [("pymatgen", _read_pymatgen), ("ASE", _read_ase)]
    if path.suffix.lower() in _ASE_FIRST_SUFFIXES:
        readers.reverse()
    errors: list[str] = []
    structure = None
    disordered = False
    for label, reader in readers:
        try:
            structure = reader(path)
        except _DisorderedError:
            disordered = True
        except Exception as exc:  # any parser failure means "cannot read"
            errors.append(f"{label}: {_one_line(exc)}")
            continue
        break
    if disordered or (structure is not None and not structure.is_ordered):
        raise InputError(
            f"structure file {shown} is disordered (partially occupied sites); ssbflow needs "
            "an ordered cell: order it first (e.g. pymatgen OrderDisorderedStructureTransformation) "
            "or use a library phase (see `ssbflow phases`)"
        )
    if structure is None:
        raise InputError(f"cannot read structure file {shown}: {'; '.join(errors)}; {_HINT}")
    if len(structure) == 0:
        raise InputError(f"cannot read structure file {shown}: it contains no atoms; {_HINT}")
    return structure


def load_structure(name_or_path: str | Path) -> Structure:
    """A library phase by name, or a structure read from a file.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        Library name or alias (case-insensitive), or the path of any file pymatgen reads
        (CIF, POSCAR/CONTCAR/``*.vasp``, vasprun.xml, ...) or ASE reads (extxyz, ``.traj``,
        ...). An existing file wins over a library name; a ``Path`` is always a file.

    Returns
    -------
    pymatgen.core.Structure
        An ordered structure (a new object).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown name, no periodic cell, or a disordered
        (partial occupancy) structure.
    """
    shown = str(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return _read_file(path, shown)
    if not isinstance(name_or_path, Path):
        key = _lookup(shown)
        if key is not None:
            return get_phase(key)
    if path.exists():
        reason = "it is not a regular file"
    elif isinstance(name_or_path, Path) or path.suffix or len(path.parts) > 1:
        reason = "no such file"
    else:
        close = _close_matches(shown)
        reason = "no such file and no library phase of that name" + (
            f" (close matches: {', '.join(close)})" if close else ""
        )
    raise InputError(f"cannot read structure file {shown}: {reason}; {_HINT}")


def is_metal(structure: Structure) -> bool:
    """Whether a structure is an elemental metal or an alloy of metals.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        Any structure (a Composition also works).

    Returns
    -------
    bool
        True when every element is metallic (``Element.is_metal``): a single metal or an
        alloy of metals. False for compounds with any non-metal (Li2O, LiF, ...) and for an
        empty structure.
    """
    from pymatgen.core import Element

    composition = getattr(structure, "composition", structure)
    elements = composition.elements
    symbols = {getattr(el, "symbol", str(el)) for el in elements}
    try:
        return bool(symbols) and all(Element(s).is_metal for s in symbols)
    except ValueError:  # dummy species such as X0+
        return False
