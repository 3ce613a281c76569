"""The one place ssbflow calls phonopy: displacements, then force constants and their spectra.

Two entry points, one per stage of a finite-displacement phonon study:

`generate_displacements`
    The symmetry-distinct displaced supercells of a cell, exactly as
    ``Phonopy.generate_displacements`` makes them (same atoms, directions, order), without
    phonopy's full symmetry set-up of the supercell.
`harmonic_phonons`
    From the displaced supercells that were computed and their forces: compact force
    constants, the q-mesh (frequencies, eigenvectors, weights), the total DOS
    (tetrahedron method), thermal properties and the band structure, as plain arrays in
    a `HarmonicPhonons`. It builds the study's only ``Phonopy`` object with symmetry.

Why the displacement stage avoids ``Phonopy(..., is_symmetry=True)``: building it runs
`phonopy.structure.symmetry.Symmetry` on the supercell, whose cost is the atomic
permutation of every space-group operation of the supercell (``n_operations x n_atoms``,
5184 x 324 for a 10 Å Li2O supercell, about 1 s). phonopy offers no public way to carry
that analysis from one process to another (``phonopy.load``, ``PhonopyYaml`` and
``Phonopy.copy`` all rebuild it), and a flow's displacement and force-constant stages are
separate jobs. Choosing the displacements needs only the symmetry-independent atoms and
their site symmetries, which spglib's dataset of the supercell gives directly; the
permutations are needed only to distribute the force constants, in `harmonic_phonons`.

Why `harmonic_phonons` builds its ``Phonopy`` inside `fast_phonopy_symmetry`: phonopy
computes those ``n_operations`` permutations one operation at a time
(`phonopy.structure.cells.compute_all_sg_permutations`), although a supercell's space
group is a few coset representatives ``(R, t0)`` (one per point operation, 48 for Li2O)
times the pure lattice translations ``T`` of the primitive cell inside it (108 for the
Li2O supercell): the permutation of ``(R, t0 + T)`` is that of ``T`` applied after that of
``(R, t0)``. `fast_phonopy_symmetry` has phonopy compute only those ``48 + 108`` and
composes the rest by indexing, checks a sample of the composed ones against phonopy's own
per-operation routine, and falls back to phonopy's full routine otherwise: the
``Symmetry`` phonopy builds, and everything computed from it, is the same array for array.
Likewise `fast_force_constants` around phonopy's force-constant solver: phonopy's
per-operation Python loops (Cartesian rotations of 48 distinct matrices 5184 times, site
symmetries, the atom-to-operation map) replaced by bit-identical array operations.
Both stand-ins are phonopy functions replaced for the duration of one call (see
`phonopy_symmetry_contract` for which; the tests fail when phonopy changes them).
The pure translations' permutations are composed too, from the identity and at most
three generators (`_translation_permutations`). `total_dos` is phonopy's tetrahedron DOS
without the integrated DOS phonopy computes alongside and drops; `generate_displacements`
builds the supercell with phonopy's ``get_supercell``, without a ``Phonopy`` object.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Structure

from ssbflow.analysis.phonons import displacement_dataset

#: The flow starts from the standard primitive cell: primitive matrix = identity.
PRIMITIVE_MATRIX = np.eye(3)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhononBands:
    """Band structure along phonopy's seekpath path, one entry per segment.

    Attributes
    ----------
    distances
        Per segment: shape ``(n_points,)``, path length, 1/Å.
    frequencies_THz
        Per segment: shape ``(n_points, n_bands)``, THz.
    qpoints
        Per segment: shape ``(n_points, 3)``, reduced coordinates.
    labels
        High-symmetry point labels.
    path_connections
        Segment ``i`` connects to segment ``i + 1``.
    """

    distances: list[NDArray]
    frequencies_THz: list[NDArray]
    qpoints: list[NDArray]
    labels: list[str]
    path_connections: list[bool]


@dataclass(frozen=True)
class HarmonicPhonons:
    """Everything ssbflow reads from phonopy after the force constants, as arrays.

    Attributes
    ----------
    supercell_matrix
        Shape ``(3, 3)``, integers.
    n_atoms_supercell
        Atoms in the supercell.
    primitive_symbols
        Species of the ``N`` atoms of the primitive cell (``3N`` bands).
    force_constants_eV_per_A2
        Compact force constants, shape ``(N, n_atoms_supercell, 3, 3)``, eV/Å².
    mesh
        q-mesh subdivisions actually used, three integers.
    qpoints
        Shape ``(n_q, 3)``: irreducible q-points of the Γ-centred mesh, reduced coordinates.
    weights
        Shape ``(n_q,)``: their multiplicities.
    frequencies_THz
        Shape ``(n_q, 3N)``, THz (imaginary modes negative).
    eigenvectors
        Shape ``(n_q, 3N, 3N)``, complex; column ``j`` is band ``j``.
    dos_frequencies_THz
        Shape ``(n_points,)``: frequency grid of the total DOS, THz.
    total_dos
        Shape ``(n_points,)``: total DOS (tetrahedron method), modes/THz per primitive cell.
    temperature_K
        Temperature of the thermal properties, K.
    heat_capacity_J_per_K_mol
        C_v per mole of primitive cells at ``temperature_K`` (Γ acoustic modes excluded).
    entropy_J_per_K_mol
        Vibrational entropy per mole of primitive cells at ``temperature_K``.
    bands
        Band structure, or ``None`` when not asked for.
    """

    supercell_matrix: NDArray
    n_atoms_supercell: int
    primitive_symbols: list[str]
    force_constants_eV_per_A2: NDArray
    mesh: list[int]
    qpoints: NDArray
    weights: NDArray
    frequencies_THz: NDArray
    eigenvectors: NDArray
    dos_frequencies_THz: NDArray
    total_dos: NDArray
    temperature_K: float
    heat_capacity_J_per_K_mol: float
    entropy_J_per_K_mol: float
    bands: PhononBands | None


class _SiteSymmetry:
    """What phonopy's displacement chooser reads from a supercell `Symmetry`, from spglib.

    `phonopy.harmonic.displacement.get_least_displacements` calls
    ``get_independent_atoms()`` and ``get_site_symmetry(atom)`` only. Both are computed
    here the way `phonopy.structure.symmetry.Symmetry` computes them (spglib's
    ``equivalent_atoms``; operations fixing the site modulo lattice translations, in
    spglib's order), without the atomic permutations a full `Symmetry` also builds.
    """

    def __init__(self, cell: Any, symprec: float) -> None:
        import spglib

        dataset = spglib.get_symmetry_dataset(cell.totuple(), symprec)
        if dataset is None:
            raise ValueError(f"spglib found no symmetry for the supercell (symprec {symprec})")
        self._rotations = np.asarray(dataset.rotations, dtype="int64")
        self._translations = np.asarray(dataset.translations, dtype="double")
        self._map_atoms = np.asarray(dataset.equivalent_atoms, dtype="int64")
        self._positions = np.asarray(cell.scaled_positions)
        self._lattice = np.asarray(cell.cell)
        self._symprec = symprec

    def get_independent_atoms(self) -> NDArray:
        return np.array([i for i, m in enumerate(self._map_atoms) if i == m], dtype="int64")

    def get_site_symmetry(self, atom_number: int) -> NDArray:
        return site_symmetry(
            self._positions,
            self._lattice,
            self._rotations,
            self._translations,
            self._symprec,
            atom_number,
        )


def site_symmetry(
    positions: NDArray,
    lattice_A: NDArray,
    rotations: NDArray,
    translations: NDArray,
    symprec: float,
    atom_number: int,
) -> NDArray:
    """Rotations of the operations that fix one site modulo the lattice, in their order.

    Same result as phonopy's ``Symmetry.get_site_symmetry(atom_number)`` (same
    arithmetic, ``|(x - (R x + t)) mod 1| < symprec`` in Å), for all operations at once
    instead of one at a time.

    Parameters
    ----------
    positions
        Shape ``(n_atoms, 3)``, fractional coordinates.
    lattice_A
        Shape ``(3, 3)``, lattice vectors as rows, Å.
    rotations
        Shape ``(n_ops, 3, 3)``, integer rotations in fractional coordinates.
    translations
        Shape ``(n_ops, 3)``, fractional translations.
    symprec
        Symmetry tolerance, Å.
    atom_number
        The site.

    Returns
    -------
    ndarray
        Shape ``(n_site_ops, 3, 3)``, int64.
    """
    rotations = np.asarray(rotations)
    pos = np.asarray(positions)[atom_number]
    diff = pos - (pos @ rotations.transpose(0, 2, 1) + np.asarray(translations))
    diff -= np.rint(diff)
    fixed = np.linalg.norm(diff @ np.asarray(lattice_A), axis=1) < symprec
    return np.array(rotations[fixed], dtype="int64")


#: The phonopy functions `fast_phonopy_symmetry` stands in for while a ``Symmetry`` is
#: built, with the parameters ``phonopy.structure.symmetry`` calls them with (phonopy 4.10):
#: ``Symmetry._set_atomic_permutations`` and ``get_pointgroup_operations`` look them up as
#: module globals of ``phonopy.structure.symmetry`` at call time.
PHONOPY_SYMMETRY_HOOKS: dict[str, tuple[str, ...]] = {
    "compute_all_sg_permutations": (
        "positions", "rotations", "translations", "lattice", "symprec", "types", "lang",
    ),
    "collect_unique_rotations": ("rotations",),
}  # fmt: skip

#: `fast_force_constants`: a module global of ``phonopy.harmonic.force_constants`` (looked
#: up at call time) and the ``Symmetry`` method it replaces on one object, with parameters.
PHONOPY_FORCE_CONSTANT_HOOKS: dict[str, tuple[str, ...]] = {
    "phonopy.harmonic.force_constants.similarity_transformation": ("rot", "mat"),
    "phonopy.harmonic.force_constants._get_sym_mappings_from_permutations": (
        "permutations",
        "atom_list_done",
    ),
    "phonopy.structure.symmetry.Symmetry.get_site_symmetry": ("self", "atom_number"),
}

#: Composed permutations compared with phonopy's own routine, per set of operations.
N_CHECKED_PERMUTATIONS = 16

_PATCH_LOCK = threading.RLock()


def phonopy_symmetry_contract() -> list[str]:
    """What `fast_phonopy_symmetry` and `fast_force_constants` need from phonopy and miss.

    Empty when all is there. Each entry names the phonopy function of
    `PHONOPY_SYMMETRY_HOOKS` (module globals of ``phonopy.structure.symmetry``) or
    `PHONOPY_FORCE_CONSTANT_HOOKS` that is gone, takes other parameters, or is no longer
    phonopy's own (someone else replaced it).
    """
    import importlib

    hooks = {
        **{f"phonopy.structure.symmetry.{n}": p for n, p in PHONOPY_SYMMETRY_HOOKS.items()},
        **PHONOPY_FORCE_CONSTANT_HOOKS,
    }
    problems = []
    for where, parameters in hooks.items():
        module_name, _, attribute = where.rpartition(".")
        owner: Any = None
        with contextlib.suppress(ImportError):
            owner = importlib.import_module(module_name)
        if owner is None:  # a method: module.Class.method
            module_name, _, class_name = module_name.rpartition(".")
            owner = getattr(importlib.import_module(module_name), class_name, None)
        function = getattr(owner, attribute, None)
        if function is None:
            problems.append(f"{where} is gone")
        elif not getattr(function, "_ssbflow_stand_in", False):  # ours: already in place
            found = tuple(inspect.signature(function).parameters)
            if found != parameters:
                problems.append(f"{where} takes {found}, not {parameters}")
            if not function.__module__.startswith("phonopy."):
                problems.append(f"{where} is {function.__module__}'s, not phonopy's")
    return problems


def composed_permutations(
    compute_all_sg_permutations: Callable[..., NDArray],
    positions: NDArray,
    rotations: NDArray,
    translations: NDArray,
    lattice: NDArray,
    symprec: float,
    types: Any,
    lang: str = "Rust",
) -> NDArray | None:
    """Atomic permutations of space-group operations, composed from cosets × translations.

    Same result as ``compute_all_sg_permutations(positions, rotations, translations,
    lattice, symprec, types, lang=lang)`` (phonopy's routine, passed in): row ``k`` is
    the permutation ``p`` with ``positions[p[i]] == positions[i] @ R_k.T + t_k`` modulo
    the lattice. The operations must be ``n_rot`` coset representatives ``(R, t0)`` (the
    first operation with each rotation) times ``n_T`` pure translations ``(1, T)``; then
    ``perm(R, t0 + T) = perm(1, T)[perm(R, t0)]``, and phonopy computes only the
    ``n_rot + n_T`` permutations of the representatives and the pure translations.

    Parameters
    ----------
    compute_all_sg_permutations
        phonopy's ``phonopy.structure.cells.compute_all_sg_permutations``.
    positions
        Shape ``(n_atoms, 3)``, fractional coordinates.
    rotations
        Shape ``(n_ops, 3, 3)``, integer rotations in fractional coordinates.
    translations
        Shape ``(n_ops, 3)``, fractional translations.
    lattice
        Shape ``(3, 3)``, lattice vectors as columns, Å.
    symprec
        Symmetry tolerance, Å.
    types
        Per-atom integer types (matched within a type), or ``None``.
    lang
        phonopy's back end of the matcher.

    Returns
    -------
    ndarray or None
        Shape ``(n_ops, n_atoms)``, int64; ``None`` when the operations do not factor as
        above (including: no pure translations besides the identity, which leaves
        nothing to save) or when a composed permutation differs from phonopy's on
        `N_CHECKED_PERMUTATIONS` operations drawn at random: then use phonopy's routine.
    """
    rotations = np.asarray(rotations, dtype="int64")
    translations = np.asarray(translations, dtype="double")
    lattice = np.asarray(lattice, dtype="double")
    n_ops = len(rotations)
    flat = rotations.reshape(n_ops, 9)
    pure = np.flatnonzero((flat == np.eye(3, dtype="int64").ravel()).all(axis=1))
    n_pure = len(pure)
    if n_pure < 2 or n_pure == n_ops:
        return None
    _, first, coset = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    coset = coset.reshape(-1)
    if len(first) * n_pure != n_ops:
        return None

    def grid_code(fractions: NDArray) -> tuple[NDArray, float]:
        # a translation group of order n_pure: n_pure * T is a lattice vector
        scaled = fractions * n_pure
        steps = np.rint(scaled)
        error_A = np.linalg.norm(((scaled - steps) / n_pure) @ lattice.T, axis=1)
        steps = steps.astype("int64") % n_pure
        code = (steps[:, 0] * n_pure + steps[:, 1]) * n_pure + steps[:, 2]
        return code, float(error_A.max())

    pure_code, pure_error_A = grid_code(translations[pure])
    shift_code, shift_error_A = grid_code(translations - translations[first][coset])
    order = np.argsort(pure_code, kind="stable")
    sorted_code = pure_code[order]
    if max(pure_error_A, shift_error_A) > symprec or np.any(np.diff(sorted_code) == 0):
        return None
    at = np.minimum(np.searchsorted(sorted_code, shift_code), n_pure - 1)
    if not np.array_equal(sorted_code[at], shift_code):
        return None
    translation = order[at]
    if len(np.unique(coset * n_pure + translation)) != n_ops:
        return None

    def phonopys(ops: NDArray) -> NDArray:
        return compute_all_sg_permutations(
            positions, rotations[ops], translations[ops], lattice, symprec, types, lang=lang
        )

    translation_perms = _translation_permutations(pure_code, n_pure, phonopys, pure)
    if translation_perms is None:
        return None
    perms = translation_perms[translation[:, None], phonopys(first)[coset]]
    sample = np.random.default_rng(n_ops).choice(
        n_ops, size=min(N_CHECKED_PERMUTATIONS, n_ops), replace=False
    )
    if not np.array_equal(phonopys(np.sort(sample)), perms[np.sort(sample)]):
        return None
    return np.ascontiguousarray(perms, dtype="int64")


def _translation_permutations(
    codes: NDArray, n_pure: int, phonopys: Callable[[NDArray], NDArray], ops: NDArray
) -> NDArray | None:
    """Permutations of the pure translations ``ops`` from those of a few generators.

    ``codes`` are the translations' grid codes (``n_pure * T`` modulo ``n_pure``, per
    axis, as in `composed_permutations`). phonopy (``phonopys``) computes the identity and
    the generators (taken greedily in the given order, at most three for a lattice); every
    other translation ``e + g`` is ``perm(g)[perm(e)]``. ``None`` when the sums leave the
    given set (then the caller uses phonopy's routine).
    """
    steps = np.stack([codes // n_pure**2, codes // n_pure % n_pure, codes % n_pure], axis=1)
    where = {int(c): j for j, c in enumerate(codes)}
    if 0 not in where:
        return None
    reached: dict[int, tuple[int, int] | None] = {0: None}  # code: (from code, generator)
    generators: list[int] = []
    for j, code in enumerate(codes.tolist()):
        if code in reached:
            continue
        generators.append(j)
        queue = list(reached)
        while queue:
            e = queue.pop(0)
            for g, k in enumerate(generators):
                step = (steps[where[e]] + steps[k]) % n_pure
                n = int((step[0] * n_pure + step[1]) * n_pure + step[2])
                if n not in where:
                    return None
                if n not in reached:
                    reached[n] = (e, g)
                    queue.append(n)
    computed = phonopys(ops[[where[0], *generators]])
    perms = np.empty((len(codes), computed.shape[1]), dtype=computed.dtype)
    perms[where[0]] = computed[0]
    for code, parent in reached.items():  # insertion order: parents first
        if parent is not None:
            perms[where[code]] = computed[1 + parent[1]][perms[where[parent[0]]]]
    return perms


def unique_rotations(rotations: ArrayLike) -> NDArray:
    """The distinct rotations, in order of first appearance.

    Same result as phonopy's ``phonopy.structure.symmetry.collect_unique_rotations``
    (a pairwise Python loop), by one `numpy.unique`.

    Parameters
    ----------
    rotations
        Shape ``(n, 3, 3)``, integers.

    Returns
    -------
    ndarray
        Shape ``(n_unique, 3, 3)``, int64, C order.
    """
    rotations = np.asarray(rotations, dtype="int64")
    if len(rotations) == 0:
        return np.array([], dtype="int64", order="C")
    _, first = np.unique(rotations.reshape(len(rotations), -1), axis=0, return_index=True)
    return np.array(rotations[np.sort(first)], dtype="int64", order="C")


@contextlib.contextmanager
def fast_phonopy_symmetry() -> Iterator[None]:
    """Build phonopy ``Symmetry`` objects with composed permutations (same arrays, faster).

    While open, ``phonopy.structure.symmetry.compute_all_sg_permutations`` composes the
    permutations (`composed_permutations`, phonopy's routine where they do not factor or a
    check fails) and ``phonopy.structure.symmetry.collect_unique_rotations`` is
    `unique_rotations`; both are restored on exit. Meant around ``Phonopy(...)`` only.

    The stand-ins replace module globals of phonopy, so they are process-wide: another
    thread building a phonopy ``Symmetry`` at the same time gets them too (with the same
    results). Entries are serialised by a lock and nesting is a no-op, so restoring is
    safe; not safe against other code patching the same names concurrently. If phonopy
    no longer matches `phonopy_symmetry_contract`, nothing is replaced (phonopy's speed).
    """
    from phonopy.structure import symmetry

    problems = phonopy_symmetry_contract()
    if problems:
        logger.warning("phonopy's own symmetry set-up is used: %s", "; ".join(problems))
        yield
        return
    with _PATCH_LOCK:
        saved = {name: getattr(symmetry, name) for name in PHONOPY_SYMMETRY_HOOKS}
        if any(getattr(f, "_ssbflow_stand_in", False) for f in saved.values()):
            yield  # nested: already in place
            return
        phonopys_permutations = saved["compute_all_sg_permutations"]

        def compute_all_sg_permutations(
            positions, rotations, translations, lattice, symprec, types, lang="Rust"
        ):
            perms = composed_permutations(
                phonopys_permutations,
                positions, rotations, translations, lattice, symprec, types, lang,
            )  # fmt: skip
            if perms is not None:
                return perms
            logger.debug("permutations of %d operations: phonopy's routine", len(rotations))
            return phonopys_permutations(
                positions, rotations, translations, lattice, symprec, types, lang=lang
            )

        compute_all_sg_permutations._ssbflow_stand_in = True  # type: ignore[attr-defined]
        collect = functools.partial(unique_rotations)
        collect._ssbflow_stand_in = True  # type: ignore[attr-defined]
        symmetry.compute_all_sg_permutations = compute_all_sg_permutations
        symmetry.collect_unique_rotations = collect
        try:
            yield
        finally:
            for name, function in saved.items():
                setattr(symmetry, name, function)


def sym_mappings_from_permutations(
    permutations: NDArray, atom_list_done: ArrayLike
) -> tuple[NDArray, NDArray]:
    """For each atom, the first operation sending it onto a done atom, and that atom.

    Same result as phonopy's
    ``phonopy.harmonic.force_constants._get_sym_mappings_from_permutations`` (a loop over
    atoms and operations), by one `numpy.isin` over the permutation table.

    Parameters
    ----------
    permutations
        Shape ``(n_ops, n_atoms)``: operation ``k`` sends atom ``i`` onto
        ``permutations[k, i]``.
    atom_list_done
        Atoms whose force constants are known.

    Returns
    -------
    map_atoms, map_syms
        Shape ``(n_atoms,)`` each: the done atom each atom is sent onto, and the first
        operation that does it.

    Raises
    ------
    ValueError
        An atom no operation sends onto a done atom (phonopy's message).
    """
    permutations = np.asarray(permutations)
    assert permutations.ndim == 2
    onto_done = np.isin(permutations, np.asarray(atom_list_done, dtype="int64"))
    if not onto_done.any(axis=0).all():
        raise ValueError(
            "Input forces are not enough to calculate force constants,"
            "or something wrong (e.g. crystal structure does not match)."
        )
    map_syms = np.argmax(onto_done, axis=0).astype("int64")
    map_atoms = np.array(permutations[map_syms, np.arange(permutations.shape[1])], dtype="int64")
    return map_atoms, map_syms


def _memoized(function: Callable[[Any, Any], NDArray]) -> Callable[[Any, Any], NDArray]:
    """``function(rot, mat)`` of two arrays, once per distinct pair (copies out)."""
    cache: dict[tuple, NDArray] = {}

    def memoized(rot: Any, mat: Any) -> NDArray:
        rot, mat = np.asarray(rot), np.asarray(mat)
        key = (rot.dtype.str, rot.shape, rot.tobytes(), mat.dtype.str, mat.shape, mat.tobytes())
        if key not in cache:
            cache[key] = function(rot, mat)
        return cache[key].copy()

    memoized._ssbflow_stand_in = True  # type: ignore[attr-defined]
    return memoized


@contextlib.contextmanager
def fast_force_constants(phonon: Any) -> Iterator[None]:
    """Around ``phonon.produce_force_constants``: the same numbers, without repeated work.

    While open, ``phonopy.harmonic.force_constants.similarity_transformation`` (called once
    per space-group operation, 5184 times for the Li2O supercell, on 48 distinct
    rotations) is computed once per distinct argument and then copied, phonopy's
    ``_get_sym_mappings_from_permutations`` there is `sym_mappings_from_permutations`
    and ``phonon.symmetry.get_site_symmetry`` is `site_symmetry` (all operations at
    once): bit-identical values. Both are restored on exit; the module global is process-wide,
    like `fast_phonopy_symmetry` (same lock). Nothing is replaced where phonopy no longer
    matches `phonopy_symmetry_contract`.
    """
    from phonopy.harmonic import force_constants

    symmetry = phonon.symmetry
    if phonopy_symmetry_contract():
        yield
        return
    supercell = phonon.supercell
    operations = symmetry.symmetry_operations

    def get_site_symmetry(atom_number: int) -> NDArray:
        return site_symmetry(
            supercell.scaled_positions,
            supercell.cell,
            operations["rotations"],
            operations["translations"],
            symmetry.tolerance,
            atom_number,
        )

    def mappings(permutations: NDArray, atom_list_done: ArrayLike) -> tuple[NDArray, NDArray]:
        return sym_mappings_from_permutations(permutations, atom_list_done)

    mappings._ssbflow_stand_in = True  # type: ignore[attr-defined]
    with _PATCH_LOCK:
        saved = {
            "similarity_transformation": force_constants.similarity_transformation,
            "_get_sym_mappings_from_permutations": (
                force_constants._get_sym_mappings_from_permutations
            ),
        }
        nested = any(getattr(f, "_ssbflow_stand_in", False) for f in saved.values())
        if not nested:
            force_constants.similarity_transformation = _memoized(
                saved["similarity_transformation"]
            )
            force_constants._get_sym_mappings_from_permutations = mappings
        symmetry.get_site_symmetry = get_site_symmetry
        try:
            yield
        finally:
            del symmetry.get_site_symmetry
            if not nested:
                for name, function in saved.items():
                    setattr(force_constants, name, function)


def _phonopy_cell(structure: Structure) -> Any:
    """``PhonopyAtoms`` of ``structure``, magnetic moments dropped (as atomate2 does)."""
    from pymatgen.io.phonopy import get_phonopy_structure

    if "magmom" in structure.site_properties:
        structure = structure.copy()
        structure.remove_site_property("magmom")
    return get_phonopy_structure(structure)


def _phonopy(structure: Structure, supercell_matrix: ArrayLike, symprec: float, symmetry: bool):
    from phonopy import Phonopy

    return Phonopy(
        _phonopy_cell(structure),
        supercell_matrix=np.rint(np.asarray(supercell_matrix, dtype=float)).astype(int),
        primitive_matrix=PRIMITIVE_MATRIX,
        symprec=symprec,
        is_symmetry=symmetry,
    )


def generate_displacements(
    structure: Structure, supercell_matrix: ArrayLike, displacement_A: float, symprec: float
) -> list[Structure]:
    """The symmetry-distinct displaced supercells phonopy would compute.

    Same result as ``Phonopy(cell, supercell_matrix, symprec=symprec)
    .generate_displacements(distance=displacement_A)`` (one atom moved per supercell,
    plus/minus only where symmetry requires it, diagonal directions allowed), converted
    with `pymatgen.io.phonopy.get_pmg_structure`; see the module docstring for why the
    supercell's full phonopy symmetry is not built here.

    Parameters
    ----------
    structure
        Unit cell (the flow's relaxed standard primitive cell).
    supercell_matrix
        Shape ``(3, 3)``, integers.
    displacement_A
        Displacement amplitude, Å.
    symprec
        Symmetry tolerance, Å.

    Returns
    -------
    list of Structure
        Displaced supercells, phonopy's order.
    """
    from phonopy.harmonic.displacement import generate_systematic_displacements
    from phonopy.structure.atoms import PhonopyAtoms
    from phonopy.structure.cells import get_supercell, shape_supercell_matrix
    from pymatgen.io.phonopy import get_pmg_structure

    cell = _phonopy_cell(structure)
    matrix = np.rint(np.asarray(supercell_matrix, dtype=float)).astype(int)
    if cell.has_weighted_species or cell.has_mixtures:  # phonopy merges sites: its own way
        phonon = _phonopy(structure, matrix, symprec, symmetry=False)
        phonon.dataset = generate_systematic_displacements(
            phonon.supercell,
            _SiteSymmetry(phonon.supercell, symprec),
            distance=displacement_A,  # type: ignore[arg-type]
        )
        return [get_pmg_structure(c) for c in phonon.supercells_with_displacements]
    # the supercell as ``Phonopy.__init__`` builds it, without its primitive cell and
    # identity-only symmetry; the displaced cells as ``Phonopy.supercells_with_displacements``
    supercell = get_supercell(cell, shape_supercell_matrix(matrix), is_old_style=True,
                              symprec=symprec)  # fmt: skip
    first_atoms = generate_systematic_displacements(
        supercell,
        _SiteSymmetry(supercell, symprec),
        distance=displacement_A,  # type: ignore[arg-type]
    )["first_atoms"]
    displacements = np.zeros((len(first_atoms), len(supercell), 3), dtype="double")
    for i, displaced in enumerate(first_atoms):
        displacements[i, displaced["number"]] = displaced["displacement"]
    return [
        get_pmg_structure(
            PhonopyAtoms(
                species_table=supercell.species_table,
                species_ids=supercell.species_ids,
                masses=supercell.masses,
                magnetic_moments=supercell.magnetic_moments,
                positions=supercell.positions + u,
                cell=supercell.cell,
            )
        )
        for u in displacements
    ]


#: Parameters of ``phonopy.phonon.spectrum.TetrahedronDOSAccumulator._accumulate_shared``,
#: which `total_dos` overrides (phonopy's own DOS where they differ).
PHONOPY_DOS_HOOK: tuple[str, ...] = (
    "self", "bin_values_2d", "mode_property_arr", "ir_grid_weights", "bz_grid",
    "grid_points", "bzgp2irgp_map", "lang",
)  # fmt: skip


@functools.cache
def _density_only_accumulator() -> type | None:
    """phonopy's tetrahedron DOS accumulator without the integrated DOS (``None``: unusable).

    phonopy's ``TetrahedronDOSAccumulator`` computes the tetrahedron weights twice, for
    the DOS (``"I"``) and for its integral (``"J"``), and ``TotalDos`` keeps only the DOS.
    The subclass runs phonopy's own loop for ``"I"`` only (same operations, same order:
    the same DOS bit for bit); its ``cumulative`` is NaN (not computed).
    """
    from phonopy.phonon import spectrum

    base = getattr(spectrum, "TetrahedronDOSAccumulator", None)
    method = getattr(base, "_accumulate_shared", None)
    if method is None or not callable(getattr(spectrum, "get_integration_weights", None)):
        logger.warning("phonopy's own total DOS is used: its tetrahedron accumulator changed")
        return None
    if tuple(inspect.signature(method).parameters) != PHONOPY_DOS_HOOK:
        logger.warning("phonopy's own total DOS is used: _accumulate_shared changed")
        return None

    class DensityOnly(base):  # type: ignore[misc, valid-type]
        def _accumulate_shared(
            self, bin_values_2d, mode_property_arr, ir_grid_weights, bz_grid,
            grid_points, bzgp2irgp_map, lang,
        ):  # fmt: skip
            n_batch, _, _, n_elem = mode_property_arr.shape
            n_sampling = self._sampling_points.shape[0]
            density = np.zeros((n_batch, n_sampling, n_elem), dtype="double")
            iweights = spectrum.get_integration_weights(
                self._sampling_points,
                bin_values_2d,
                bz_grid,
                grid_points=grid_points,
                bzgp2irgp_map=bzgp2irgp_map,
                function="I",
                lang=lang,
                symmetrize_tetrahedra=self._symmetrize_tetrahedra,
            )
            for i, iw in enumerate(iweights):
                density += np.transpose(
                    np.dot(iw, mode_property_arr[:, i] * ir_grid_weights[i]), axes=(1, 0, 2)
                )
            return np.full_like(density, np.nan), density

    return DensityOnly


def total_dos(phonon: Any) -> tuple[NDArray, NDArray]:
    """Frequency points (THz) and total DOS of ``phonon``'s mesh, tetrahedron method.

    The same arrays as ``phonon.run_total_dos()`` then ``phonon.total_dos.frequency_points``
    and ``.dos`` (phonopy's default frequency grid and backend), without the integrated
    DOS phonopy computes alongside and drops (`_density_only_accumulator`); falls back to
    ``run_total_dos`` where phonopy's accumulator changed. Needs ``phonon.run_mesh`` first.
    """
    from phonopy.phonon.dos import TotalDos

    accumulator = _density_only_accumulator()
    if accumulator is None:
        phonon.run_total_dos()
        return (
            np.asarray(phonon.total_dos.frequency_points),
            np.asarray(phonon.total_dos.dos),
        )
    mesh = phonon.mesh
    grid = TotalDos(mesh, use_tetrahedron_method=True)  # phonopy's frequency points
    grid.set_draw_area(None, None, None)
    result = accumulator(
        mesh.frequencies,
        mesh.bz_grid,
        ir_grid_points=mesh.ir_grid_points,
        ir_grid_weights=mesh.weights,
        ir_grid_map=mesh.grid_mapping_table,
        sampling_points=grid.frequency_points,
    ).result
    return np.asarray(grid.frequency_points), np.asarray(result.density[0, :, 0])


def _bands(phonon: Any, points_per_segment: int) -> PhononBands:
    phonon.auto_band_structure(npoints=points_per_segment)
    bands = phonon.band_structure
    return PhononBands(
        distances=[np.asarray(d) for d in bands.distances],
        frequencies_THz=[np.asarray(f) for f in bands.frequencies],
        qpoints=[np.asarray(q) for q in bands.qpoints],
        labels=[str(label) for label in (bands.labels or [])],
        path_connections=[bool(c) for c in bands.path_connections],
    )


def harmonic_phonons(
    structure: Structure,
    supercell_matrix: ArrayLike,
    displaced_frac: Sequence[ArrayLike],
    forces_eV_per_A: Sequence[ArrayLike],
    displacement_A: float,
    symprec: float,
    mesh: Sequence[int] | float,
    symmetrize_force_constants: bool = True,
    band_points_per_segment: int = 0,
    temperature_K: float = 300.0,
) -> HarmonicPhonons:
    """Force constants and everything ssbflow derives from them, from one phonopy object.

    The q-mesh is run once with eigenvectors (symmetry-reduced, Γ-centred) and reused
    for the total DOS (tetrahedron method) and the thermal properties.

    Parameters
    ----------
    structure
        Unit cell, also the primitive cell (primitive matrix = identity).
    supercell_matrix
        Shape ``(3, 3)``, integers (rounded).
    displaced_frac
        ``n_disp`` arrays of shape ``(n_atoms_supercell, 3)``: fractional coordinates of
        the displaced supercells that were computed (see `generate_displacements`).
    forces_eV_per_A
        ``n_disp`` arrays of shape ``(n_atoms_supercell, 3)``: their forces, eV/Å.
    displacement_A
        Displacement amplitude, Å.
    symprec
        Symmetry tolerance, Å.
    mesh
        Three q-mesh subdivisions, or a length (Å) for phonopy's automatic mesh.
    symmetrize_force_constants
        Impose the acoustic sum rule and index symmetry (phonopy's
        ``symmetrize_force_constants``).
    band_points_per_segment
        q-points per band-structure segment; ``0`` skips the band structure.
    temperature_K
        Temperature of the heat capacity and entropy, K.

    Raises
    ------
    ValueError
        The displaced supercells are not single-atom displacements of the supercell
        (`ssbflow.analysis.phonons.displacement_dataset`), or phonopy refuses the data.
    """
    with fast_phonopy_symmetry():
        phonon = _phonopy(structure, supercell_matrix, symprec, symmetry=True)
    phonon.dataset = displacement_dataset(
        np.asarray(phonon.supercell.scaled_positions),
        np.asarray(phonon.supercell.cell),
        [np.asarray(f, dtype=float) for f in displaced_frac],
        list(forces_eV_per_A),
        displacement_A,
    )
    with fast_force_constants(phonon):
        phonon.produce_force_constants(calculate_full_force_constants=False, show_drift=False)
    if symmetrize_force_constants:
        phonon.symmetrize_force_constants()
    # symmetry-reduced Γ-centred mesh: per-species projections are symmetry invariant
    phonon.run_mesh(
        list(mesh) if isinstance(mesh, Sequence) else mesh,
        is_gamma_center=True,
        is_mesh_symmetry=True,
        with_eigenvectors=True,
    )
    q_mesh = {
        "mesh": [int(v) for v in phonon.mesh.mesh_numbers],
        "qpoints": np.asarray(phonon.mesh.qpoints),
        "weights": np.asarray(phonon.mesh.weights),
        "frequencies_THz": np.asarray(phonon.mesh.frequencies),
        "eigenvectors": np.asarray(phonon.mesh.eigenvectors),
    }
    dos_frequencies_THz, dos = total_dos(phonon)  # tetrahedron method
    phonon.run_thermal_properties(temperatures=[temperature_K], exclude_gamma_acoustic=True)
    thermal = phonon.thermal_properties
    return HarmonicPhonons(
        supercell_matrix=np.asarray(phonon.supercell_matrix).astype(int),
        n_atoms_supercell=len(phonon.supercell),
        primitive_symbols=list(phonon.primitive.symbols),
        force_constants_eV_per_A2=np.asarray(phonon.force_constants),
        **q_mesh,
        dos_frequencies_THz=dos_frequencies_THz,
        total_dos=dos,
        temperature_K=float(temperature_K),
        heat_capacity_J_per_K_mol=float(thermal.heat_capacity[0]),
        entropy_J_per_K_mol=float(thermal.entropy[0]),
        bands=_bands(phonon, band_points_per_segment) if band_points_per_segment else None,
    )


__all__ = [
    "HarmonicPhonons",
    "PhononBands",
    "composed_permutations",
    "fast_force_constants",
    "fast_phonopy_symmetry",
    "generate_displacements",
    "harmonic_phonons",
    "phonopy_symmetry_contract",
    "site_symmetry",
    "sym_mappings_from_permutations",
    "total_dos",
    "unique_rotations",
]
