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
import re
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


_BRACKETS = "()[]{}"


def parse_miller(
    value: str | Sequence[int],
    field: str = "miller",
    *,
    label: str | None = None,
    bravais: bool = False,
) -> tuple[int, int, int]:
    """The one parser of Miller indices: text or a sequence -> (h, k, l).

    Parameters
    ----------
    value
        Text such as ``'1,0,0'``, ``'100'``, ``'-110'``, ``'(1 0 0)'``, ``'1 1 0'``, or a
        sequence of three integers.
    field
        The Maker field or parameter holding the index (``InputError.field``).
    label
        How the message names the value (default: ``field`` with spaces).
    bravais
        Accept four-index Miller-Bravais text/sequences (h, k, i, l) with
        ``i = -(h + k)`` and return (h, k, l).

    Returns
    -------
    tuple of int
        The Miller index (h, k, l), not all zero.

    Raises
    ------
    InputError
        When the value is not three integers (four with ``bravais``) or is 0,0,0; the
        message says how to write one.
    """
    name = label if label is not None else field.replace("_", " ")
    if isinstance(value, str):
        shown = f"'{value}'"
        raw = value.strip().strip(_BRACKETS).strip()
        if "," in raw or any(c.isspace() for c in raw):
            parts = [p for p in re.split(r"[,\s]+", raw) if p]
        else:
            parts = re.findall(r"-?\d", raw)
            if not raw or "".join(parts) != raw:
                parts = [raw]
        try:
            values = tuple(int(p) for p in parts)
        except ValueError as exc:
            raise InputError(
                f"{name} {shown} is not a Miller index; write e.g. 1,0,0", field=field
            ) from exc
        example = "a Miller index has 3, e.g. 1,0,0"
        zero = "0,0,0"
    else:
        shown = str(tuple(value))
        try:
            values = tuple(_integer(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{name} {shown} is not a Miller index; give 3 integers, e.g. 1,0,0", field=field
            ) from exc
        example = "give 3, e.g. 1,0,0"
        zero = "(0, 0, 0)"
    if bravais and len(values) == 4:
        h, k, i, ell = values
        if i != -(h + k):
            raise InputError(
                f"{name} {shown}: a Miller-Bravais index needs i = -(h+k)", field=field
            )
        values = (h, k, ell)
    if len(values) != 3:
        raise InputError(f"{name} {shown} has {len(values)} components; {example}", field=field)
    if not any(values):
        raise InputError(f"{name} cannot be {zero}; give a plane such as 1,0,0", field=field)
    return values  # type: ignore[return-value]


def _integer(value: object) -> int:
    """``value`` as an int; ValueError for a non-integral number (1.5 is not a Miller index)."""
    number = int(value)  # type: ignore[call-overload]
    if isinstance(value, float | np.floating) and number != value:
        raise ValueError(f"{value} is not an integer")
    return number


def check_miller(
    miller: Sequence[int], what: str = "Miller index", field: str = "miller"
) -> tuple[int, int, int]:
    """Validate a Miller index: three integers, not all zero (see `parse_miller`)."""
    return parse_miller(miller, field, label=what)


def in_plane_area_A2(structure: Structure) -> float:
    """Area of the cell's a-b face, Å² (one face of a slab with vacuum along c)."""
    m = structure.lattice.matrix
    return float(np.linalg.norm(np.cross(m[0], m[1])))


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
        raise InputError(
            f"thickness_unit must be 'A' or 'layers', not {thickness_unit!r}",
            field="thickness_unit",
        )
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
        raise InputError(
            f"layers {layers} must be at least two strictly increasing integers", field="layers"
        )
    if layers[0] < 1:
        raise InputError("a slab needs at least 1 layer", field="layers")
    series = []
    for n in layers:
        slabs = generate_slabs(
            bulk, miller, thickness=n, thickness_unit="layers", vacuum_A=vacuum_A
        )
        if termination_index >= len(slabs):
            raise InputError(
                f"termination index {termination_index} out of range: {bulk.composition.reduced_formula}"
                f"{tuple(miller)} has {len(slabs)} terminations",
                field="termination_index",
            )
        series.append(slabs[termination_index])
    areas = [s.area_A2 for s in series]
    if not np.allclose(areas, areas[0], rtol=1e-6):
        raise InputError("slab series changed its in-plane cell; use another termination")
    return series


# --------------------------------------------------------------------------------------
# faces, terminations and thickness series (thickness in Å)


def normal_coords_A(structure: Structure) -> np.ndarray:
    """Heights of the sites along the surface normal (a × b), Å, with periodic wrapping
    undone: the largest empty stretch along c (the vacuum) is put above the slab.

    Returns
    -------
    numpy.ndarray, shape (n_sites,)
        Height of each site above the lowest one, Å.
    """
    frac = np.mod(structure.frac_coords[:, 2], 1.0)
    order = np.sort(frac)
    gaps = np.diff(np.concatenate([order, [order[0] + 1.0]]))
    cut = order[(int(np.argmax(gaps)) + 1) % len(order)]  # lowest site above the vacuum
    unwrapped = np.mod(frac - cut, 1.0)
    matrix = structure.lattice.matrix
    normal = np.cross(matrix[0], matrix[1])
    normal /= np.linalg.norm(normal)
    heights = unwrapped * float(np.dot(matrix[2], normal))
    return heights - heights.min()


def atomic_planes(structure: Structure, tol_A: float = 0.3) -> list[list[int]]:
    """Site indices grouped into atomic planes along the normal, bottom to top."""
    z = normal_coords_A(structure)
    order = np.argsort(z)
    planes: list[list[int]] = [[int(order[0])]]
    for prev, cur in itertools.pairwise(order):
        if z[cur] - z[prev] > tol_A:
            planes.append([])
        planes[-1].append(int(cur))
    return planes


@dataclass(frozen=True)
class FaceSignature:
    """The outermost atomic planes of one face, comparable between cells of any size.

    Attributes
    ----------
    planes
        From the surface inwards: for each plane, sorted (element, atoms per 100 Å²).
    spacings_A
        Distance of each plane below the outermost one, Å.
    """

    planes: tuple[tuple[tuple[str, float], ...], ...]
    spacings_A: tuple[float, ...]

    @property
    def chemistry(self) -> str:
        """'Li-terminated', 'O-terminated', 'Li+O-terminated' (outermost plane)."""
        return "+".join(el for el, _ in self.planes[0]) + "-terminated"

    def matches(self, other: FaceSignature, rtol: float = 0.05, tol_A: float = 0.3) -> bool:
        """Same species, areal densities within ``rtol`` and spacings within ``tol_A``."""
        n = min(len(self.planes), len(other.planes))
        if n == 0:
            return False
        for a, b in zip(self.planes[:n], other.planes[:n], strict=True):
            if [el for el, _ in a] != [el for el, _ in b]:
                return False
            if any(abs(x - y) > rtol * max(x, y) for (_, x), (_, y) in zip(a, b, strict=True)):
                return False
        return all(
            abs(x - y) <= tol_A
            for x, y in zip(self.spacings_A[:n], other.spacings_A[:n], strict=True)
        )


def face_signature(
    structure: Structure,
    side: Literal["top", "bottom"],
    n_planes: int = 3,
    tol_A: float = 0.3,
    sites: Sequence[int] | None = None,
) -> FaceSignature:
    """Signature of the top or bottom face of a slab (or of a subset ``sites`` of it).

    Parameters
    ----------
    structure
        A slab (or an interface, with ``sites`` selecting one side), vacuum along c.
    side
        "top" (largest height) or "bottom".
    n_planes
        Planes described, from the surface inwards.
    tol_A
        Plane grouping tolerance, Å.
    sites
        Indices of the sites to consider (default: all).
    """
    sub = structure if sites is None else Structure.from_sites([structure[i] for i in sites])
    z = normal_coords_A(sub)
    planes = atomic_planes(sub, tol_A)
    if side == "top":
        planes = planes[::-1]
    area = in_plane_area_A2(sub)
    described, spacings = [], []
    z0 = float(np.mean(z[planes[0]]))
    for plane in planes[:n_planes]:
        counts: dict[str, int] = {}
        for i in plane:
            counts[sub[i].species_string] = counts.get(sub[i].species_string, 0) + 1
        described.append(tuple(sorted((el, round(100 * n / area, 3)) for el, n in counts.items())))
        spacings.append(round(abs(float(np.mean(z[plane])) - z0), 3))
    return FaceSignature(planes=tuple(described), spacings_A=tuple(spacings))


@dataclass(frozen=True)
class Termination:
    """One termination of a Miller plane: a face, and how to cut a slab with it on both sides.

    Attributes
    ----------
    index
        1-based, in enumeration order.
    label
        e.g. '2:Li-terminated'.
    chemistry
        e.g. 'Li-terminated' (species of the outermost plane).
    shift
        SlabGenerator shift of the cut that exposes this face.
    side
        Which face of the plain (stoichiometric) slab at ``shift`` this is: "both" for a
        symmetric plain slab, else "top" or "bottom".
    signature
        The face.
    symmetric
        True when a slab with this face on both sides exists (its own ``is_symmetric()``).
    stoichiometric
        True when that symmetric slab has the bulk composition.
    polar
        True when no symmetric slab with this face exists (only W_ad is defined).
    """

    index: int
    label: str
    chemistry: str
    shift: float
    side: Literal["both", "top", "bottom"]
    signature: FaceSignature
    symmetric: bool
    stoichiometric: bool
    polar: bool


def _generator(bulk: Structure, miller: tuple[int, int, int], thickness_A: float, vacuum_A: float):
    return SlabGenerator(
        bulk,
        miller,
        min_slab_size=thickness_A,
        min_vacuum_size=vacuum_A,
        in_unit_planes=False,
        center_slab=True,
        primitive=True,
        reorient_lattice=True,
    )


def _symmetric_with_face(generator: SlabGenerator, slab: Slab, face: FaceSignature) -> Slab | None:
    """A symmetric slab (pymatgen's symmetrisation) whose two faces are ``face``."""
    import warnings as _warnings

    if slab.is_symmetric():
        top, bottom = face_signature(slab, "top"), face_signature(slab, "bottom")
        return slab if top.matches(face) and bottom.matches(face) else None
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        variants = generator.nonstoichiometric_symmetrized_slab(slab)
    for v in variants:
        if not v.is_symmetric():
            continue
        if face_signature(v, "top").matches(face) and face_signature(v, "bottom").matches(face):
            return v
    return None


def enumerate_terminations(
    bulk: Structure,
    miller: Sequence[int],
    ftol_A: float = 0.1,
    probe_thickness_A: float = 14.0,
) -> list[Termination]:
    """Every distinct face of ``bulk`` on ``miller``, each with its symmetric reference status.

    Each cut (SlabGenerator shift) exposes a top and a bottom face; equal faces from
    different cuts are one termination. A face is ``symmetric`` when pymatgen can build a
    slab with that face on both sides (possibly off-stoichiometric), else ``polar``.
    """
    miller = check_miller(miller)
    generator = _generator(bulk, miller, probe_thickness_A, 10.0)
    terms: list[Termination] = []
    for slab in generator.get_slabs(ftol=ftol_A, symmetrize=False):
        plain_symmetric = slab.is_symmetric()
        faces = (
            [("both", face_signature(slab, "top"))]
            if plain_symmetric
            else [("top", face_signature(slab, "top")), ("bottom", face_signature(slab, "bottom"))]
        )
        for side, face in faces:
            if any(t.signature.matches(face) for t in terms):
                continue
            sym = slab if plain_symmetric else _symmetric_with_face(generator, slab, face)
            index = len(terms) + 1
            chem = face.chemistry
            terms.append(
                Termination(
                    index=index,
                    label=f"{index}:{chem}",
                    chemistry=chem,
                    shift=float(slab.shift),
                    side=side,  # type: ignore[arg-type]
                    signature=face,
                    symmetric=sym is not None,
                    stoichiometric=is_stoichiometric(sym if sym is not None else slab, bulk),
                    polar=sym is None,
                )
            )
    if not terms:
        raise InputError(f"no slab could be cut from {bulk.formula} along {miller}")
    return terms


@dataclass(frozen=True)
class SeriesSlab:
    """One slab of a thickness series: the structure and its measured thickness."""

    slab: Structure
    thickness_A: float
    n_planes: int
    symmetric: bool
    stoichiometric: bool
    area_A2: float


def termination_series(
    bulk: Structure,
    miller: Sequence[int],
    termination: Termination,
    min_thickness_A: float = 6.0,
    max_thickness_A: float = 25.0,
    vacuum_A: float = 15.0,
    ftol_A: float = 0.1,
) -> list[SeriesSlab]:
    """Slabs of one termination, thinnest first, each with that face on both sides.

    A slab thicker than ``max_thickness_A`` is cut once; planes are then removed from its
    bottom one at a time, and every slab whose two faces are the termination's face (and
    which is symmetric by its own ``is_symmetric()``) is kept. So the series grows plane
    by plane where the stacking allows (elemental metals) and by one repeat of the
    termination otherwise. Thickness is the distance between the outermost planes, Å.
    For a polar termination the plain (asymmetric, stoichiometric) slabs are returned.
    ``ftol_A`` is accepted for compatibility and no longer used: the slab is taken at the
    termination's own shift, so no shifts are clustered.

    Returns
    -------
    list of SeriesSlab
        Thickness between ``min_thickness_A`` (or the thinnest possible above it) and
        ``max_thickness_A``; all in the same in-plane cell.
    """
    miller = check_miller(miller)
    if not 0 < min_thickness_A < max_thickness_A:
        raise InputError(
            f"min thickness {min_thickness_A} Å must be positive and below the max thickness "
            f"{max_thickness_A} Å",
            field="min_thickness_A",
        )
    if vacuum_A <= 0:
        raise InputError("vacuum must be positive", field="vacuum_A")
    d = bulk.lattice.d_hkl(miller)
    generator = _generator(bulk, miller, max_thickness_A + 2 * d, vacuum_A)
    # the slab at the termination's shift directly: get_slabs() would build every shift and
    # group them with a StructureMatcher first (> 10 min per termination for LLZO(010))
    plain = generator.get_slab(shift=termination.shift)
    face = termination.signature
    if termination.polar:
        base, want_symmetric = plain, False
    else:
        base = _symmetric_with_face(generator, plain, face)
        if base is None:
            raise InputError(
                f"could not build a symmetric slab of termination {termination.label}; "
                "use a larger max thickness",
                field="max_thickness_A",
            )
        want_symmetric = True
    slabs: list[SeriesSlab] = []
    current = Structure.from_sites(base.sites, to_unit_cell=False)
    area = in_plane_area_A2(current)
    while len(current) > 0:
        planes = atomic_planes(current)
        z = normal_coords_A(current)
        thickness = float(z.max() - z.min())
        if thickness < min_thickness_A - 1e-6 or len(planes) < 2:
            break
        ok = face_signature(current, "bottom").matches(face)
        if want_symmetric:
            sym = Slab(
                current.lattice,
                current.species,
                current.frac_coords,
                miller,
                base.oriented_unit_cell,
                base.shift,
                base.scale_factor,
            )
            ok = ok and face_signature(current, "top").matches(face) and sym.is_symmetric()
        elif not is_stoichiometric(current, bulk):
            ok = False
        if ok and thickness <= max_thickness_A + 1e-6:
            slabs.append(
                SeriesSlab(
                    slab=current.copy(),
                    thickness_A=round(thickness, 4),
                    n_planes=len(planes),
                    symmetric=want_symmetric,
                    stoichiometric=is_stoichiometric(current, bulk),
                    area_A2=area,
                )
            )
        current = current.copy()
        current.remove_sites(planes[0])
    slabs.sort(key=lambda s: s.thickness_A)
    if len(slabs) < 2:
        raise InputError(
            f"fewer than two slabs of termination {termination.label} of "
            f"{bulk.composition.reduced_formula}{tuple(miller)} fit between "
            f"{min_thickness_A} and {max_thickness_A} Å; raise the max thickness",
            field="max_thickness_A",
        )
    return slabs
