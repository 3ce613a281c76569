"""Slabs: every symmetrically distinct termination of a Miller plane.

Built on pymatgen's `SlabGenerator`. Thickness is given in Å or in unit planes (one
unit plane is one interplanar spacing d_hkl of the bulk cell, which may hold several
atomic planes). Symmetric *and* stoichiometric slabs are preferred; where a termination
cannot be both, the slab is kept stoichiometric and the asymmetry is recorded
(`SlabInfo.symmetric` False) so that a surface energy from it is the mean of its two
faces.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.surface import Slab, SlabGenerator

from ssbflow.errors import InputError


@dataclass(frozen=True)
class SlabInfo:
    """One slab and what was chosen to build it.

    Attributes
    ----------
    slab
        The slab (pymatgen `Slab`), vacuum along c, centred.
    miller
        Miller index of the surface, in the bulk cell given.
    termination
        Label of the termination (index and species of the top plane).
    shift
        SlabGenerator shift (fractional, along c of the oriented cell).
    symmetric
        True when the two faces are equivalent.
    stoichiometric
        True when the slab has the bulk composition.
    area_A2
        Surface area of one face, Å².
    """

    slab: Slab
    miller: tuple[int, int, int]
    termination: str
    shift: float
    symmetric: bool
    stoichiometric: bool
    area_A2: float


def check_miller(miller: Sequence[int], what: str = "Miller index") -> tuple[int, int, int]:
    """Validate a Miller index: three integers, not all zero."""
    values = tuple(int(v) for v in miller)
    if len(values) != 3:
        raise InputError(f"{what} {tuple(miller)} has {len(values)} components; give 3, e.g. 1,0,0")
    if not any(values):
        raise InputError(f"{what} cannot be (0, 0, 0); give a plane such as 1,0,0")
    return values  # type: ignore[return-value]


def termination_label(slab: Slab, index: int, tol_A: float = 0.3) -> str:
    """Label a slab by an index and the species of its top atomic plane, e.g. '1:O'."""
    z = np.array([site.coords[2] for site in slab])
    top = z.max()
    species = sorted(
        {site.species_string for site, zi in zip(slab, z, strict=True) if top - zi < tol_A}
    )
    return f"{index}:{'+'.join(species)}"


def is_stoichiometric(slab: Structure, bulk: Structure) -> bool:
    """True when ``slab`` has the reduced composition of ``bulk``."""
    return slab.composition.reduced_composition.almost_equals(bulk.composition.reduced_composition)


def generate_slabs(
    bulk: Structure,
    miller: Sequence[int],
    thickness: float = 10.0,
    thickness_unit: Literal["A", "layers"] = "A",
    vacuum_A: float = 15.0,
    prefer_symmetric: bool = True,
    ftol_A: float = 0.1,
) -> list[SlabInfo]:
    """Every symmetrically distinct termination of ``bulk`` on plane ``miller``.

    Parameters
    ----------
    bulk
        Bulk structure (conventional or primitive cell).
    miller
        Miller index in the cell of ``bulk``.
    thickness
        Minimum slab thickness, in Å or in unit planes (``thickness_unit``).
    thickness_unit
        "A" or "layers" (unit planes of spacing d_hkl).
    vacuum_A
        Minimum vacuum, Å.
    prefer_symmetric
        For terminations whose plain slab is asymmetric, try pymatgen's symmetrised slab
        and use it only if it is also stoichiometric.
    ftol_A
        Tolerance for grouping atoms into planes when finding terminations, Å.

    Returns
    -------
    list of SlabInfo
        One per distinct termination, in SlabGenerator's order.
    """
    miller = check_miller(miller)
    if thickness <= 0 or vacuum_A <= 0:
        raise InputError("slab thickness and vacuum must be positive")
    if thickness_unit not in ("A", "layers"):
        raise InputError(f"thickness_unit must be 'A' or 'layers', not {thickness_unit!r}")
    in_planes = thickness_unit == "layers"
    # with in_unit_planes, SlabGenerator reads the vacuum in unit planes too
    vacuum = float(np.ceil(vacuum_A / bulk.lattice.d_hkl(miller))) if in_planes else vacuum_A
    generator = SlabGenerator(
        bulk,
        miller,
        min_slab_size=thickness,
        min_vacuum_size=vacuum,
        in_unit_planes=in_planes,
        center_slab=True,
        primitive=True,
        reorient_lattice=True,
    )
    plain = generator.get_slabs(ftol=ftol_A, symmetrize=False)
    result = []
    for index, slab in enumerate(plain, start=1):
        chosen = slab
        symmetric = slab.is_symmetric()
        if prefer_symmetric and not symmetric:
            for sym in generator.get_slabs(ftol=ftol_A, symmetrize=True):
                if abs(sym.shift - slab.shift) < 1e-6 and is_stoichiometric(sym, bulk):
                    chosen, symmetric = sym, True
                    break
        result.append(
            SlabInfo(
                slab=chosen,
                miller=miller,
                termination=termination_label(chosen, index),
                shift=float(slab.shift),
                symmetric=bool(symmetric),
                stoichiometric=is_stoichiometric(chosen, bulk),
                area_A2=float(chosen.surface_area),
            )
        )
    if not result:
        raise InputError(f"no slab could be cut from {bulk.formula} along {miller}")
    return result


def slab_series(
    bulk: Structure,
    miller: Sequence[int],
    layers: Sequence[int],
    termination_index: int = 0,
    vacuum_A: float = 15.0,
) -> list[SlabInfo]:
    """Slabs of one termination with increasing thickness (in unit planes).

    Used for surface energies from the slope of slab energy against size, which does not
    depend on a separately computed bulk energy.

    Parameters
    ----------
    bulk
        Bulk structure.
    miller
        Miller index.
    layers
        Thicknesses in unit planes, strictly increasing, at least two.
    termination_index
        Which termination (0-based, in `generate_slabs` order).
    vacuum_A
        Vacuum, Å.

    Returns
    -------
    list of SlabInfo
        One slab per thickness, same termination and in-plane cell.
    """
    layers = [int(n) for n in layers]
    if len(layers) < 2 or any(b <= a for a, b in itertools.pairwise(layers)):
        raise InputError(f"layers {layers} must be at least two strictly increasing integers")
    if layers[0] < 1:
        raise InputError("a slab needs at least 1 layer")
    series = []
    for n in layers:
        slabs = generate_slabs(
            bulk, miller, thickness=n, thickness_unit="layers", vacuum_A=vacuum_A
        )
        if termination_index >= len(slabs):
            raise InputError(
                f"termination index {termination_index} out of range: {bulk.composition.reduced_formula}"
                f"{tuple(miller)} has {len(slabs)} terminations"
            )
        series.append(slabs[termination_index])
    areas = [s.area_A2 for s in series]
    if not np.allclose(areas, areas[0], rtol=1e-6):
        raise InputError("slab series changed its in-plane cell; use another termination")
    return series
