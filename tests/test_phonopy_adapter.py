"""The phonopy adapter: displacements as phonopy makes them, exact harmonic frequencies,
and one phonopy symmetry set-up per flow."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from scipy import constants

from ssbflow.analysis.phonopy_adapter import generate_displacements, harmonic_phonons

#: sqrt(eV / (Å² amu)) / 2π in THz: frequency of a spring constant k (eV/Å²) on mass M (amu)
THZ_PER_SQRT_EV_PER_A2_AMU = (
    np.sqrt(constants.eV / constants.angstrom**2 / constants.atomic_mass) / (2 * np.pi) / 1e12
)

FCC_TO_CONVENTIONAL = [[-1, 1, 1], [1, -1, 1], [1, 1, -1]]


def fcc_primitive(element: str, a: float) -> Structure:
    return Structure(Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]]),
                     [element], [[0, 0, 0]])  # fmt: skip


def antifluorite_primitive(a: float = 4.6) -> Structure:
    """Li2O in the standard fcc primitive cell (Fm-3m)."""
    lattice = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
    return Structure(lattice, ["O", "Li", "Li"], [[0, 0, 0], [0.25] * 3, [0.75] * 3])


def wurtzite() -> Structure:
    """ZnO (P6_3mc): low site symmetry, displacements off the axes and plus/minus pairs."""
    return Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(3.25, 5.2),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.38]],
    )


def phonopy_reference(structure: Structure, matrix, distance: float) -> list[Structure]:
    """What phonopy itself generates, with its full symmetry set-up (atomate2's way)."""
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

    phonon = Phonopy(get_phonopy_structure(structure), matrix, primitive_matrix="auto",
                     symprec=0.1)  # fmt: skip
    phonon.generate_displacements(distance=distance)
    return [get_pmg_structure(c) for c in phonon.supercells_with_displacements]


@pytest.mark.parametrize(
    ("structure", "matrix"),
    [
        (antifluorite_primitive(), [[-1, 1, 1], [1, -1, 1], [1, 1, -1]]),
        (fcc_primitive("Cu", 3.6), np.multiply(2, FCC_TO_CONVENTIONAL).tolist()),
        (wurtzite(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]]),
    ],
    ids=["Li2O", "Cu", "ZnO"],
)
def test_displacements_are_exactly_phonopys(structure, matrix):
    ours = generate_displacements(structure, matrix, 0.01, 0.1)
    reference = phonopy_reference(structure, matrix, 0.01)
    assert len(ours) == len(reference) > 0
    for a, b in zip(ours, reference, strict=True):
        assert [s.symbol for s in a.species] == [s.symbol for s in b.species]
        np.testing.assert_array_equal(a.lattice.matrix, b.lattice.matrix)
        np.testing.assert_array_equal(a.frac_coords, b.frac_coords)
        assert a.site_properties.keys() == b.site_properties.keys()


def test_wurtzite_needs_plus_minus_and_more_than_fcc():
    # polar c axis: no inversion, so phonopy adds the opposite displacement along c
    assert len(generate_displacements(wurtzite(), np.eye(3, dtype=int) * 2, 0.01, 0.1)) > 2
    fcc = generate_displacements(fcc_primitive("Cu", 3.6), FCC_TO_CONVENTIONAL, 0.01, 0.1)
    assert len(fcc) == 1


def nearest_neighbour_springs(structure: Structure, k_eV_per_A2: float):
    """Forces of linearised central springs between nearest neighbours of ``structure``."""
    ideal = structure.cart_coords

    def forces(displaced: Structure) -> np.ndarray:
        u = displaced.cart_coords - ideal
        # minimum image: displacements are tiny
        u -= displaced.lattice.get_cartesian_coords(
            np.rint(displaced.lattice.get_fractional_coords(u))
        )
        f = np.zeros_like(u)
        for i, neighbours in enumerate(structure.get_all_neighbors(2.6)):
            for n in neighbours:
                e = (n.coords - ideal[i]) / np.linalg.norm(n.coords - ideal[i])
                f[i] -= k_eV_per_A2 * np.dot(u[i] - u[n.index], e) * e
        return f

    return forces


def test_fcc_nearest_neighbour_springs_give_the_analytic_frequencies():
    """fcc, central NN springs k: at X, nu_L = sqrt(8k/M)/2π and nu_T = sqrt(4k/M)/2π."""
    unit = fcc_primitive("Cu", 3.6)
    matrix = np.multiply(2, FCC_TO_CONVENTIONAL).tolist()
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

    displaced = generate_displacements(unit, matrix, 0.01, 0.1)
    # the ideal supercell in phonopy's atom order, which the displaced ones share
    ideal = get_pmg_structure(
        Phonopy(get_phonopy_structure(unit), matrix, is_symmetry=False).supercell
    )
    assert len(ideal) == 32
    forces = nearest_neighbour_springs(ideal, 1.5)
    phonons = harmonic_phonons(
        unit,
        matrix,
        [s.frac_coords for s in displaced],
        [forces(s) for s in displaced],
        0.01,
        0.1,
        [8, 8, 8],
        band_points_per_segment=11,
    )
    mass = unit[0].specie.atomic_mass
    nu_l = THZ_PER_SQRT_EV_PER_A2_AMU * np.sqrt(8 * 1.5 / mass)
    nu_t = THZ_PER_SQRT_EV_PER_A2_AMU * np.sqrt(4 * 1.5 / mass)
    # X of the fcc primitive reciprocal lattice: two reduced coordinates ±1/2, one 0
    at_x = np.where(np.all(np.isclose(np.sort(np.abs(phonons.qpoints)), [0, 0.5, 0.5]), axis=1))[0]
    assert at_x.size == 1
    np.testing.assert_allclose(np.sort(phonons.frequencies_THz[at_x[0]]), [nu_t, nu_t, nu_l],
                               rtol=1e-6)  # fmt: skip
    gamma = np.where(np.all(np.isclose(phonons.qpoints, 0.0), axis=1))[0][0]
    np.testing.assert_allclose(phonons.frequencies_THz[gamma], 0.0, atol=1e-6)
    # the DOS counts 3N = 3 modes per primitive cell
    assert np.trapezoid(phonons.total_dos, phonons.dos_frequencies_THz) == pytest.approx(
        3, rel=1e-2
    )
    assert phonons.force_constants_eV_per_A2.shape == (1, 32, 3, 3)
    assert phonons.mesh == [8, 8, 8] and phonons.weights.sum() == 512
    # the band structure ends its first segment (Γ-X) at X, with the same frequencies
    np.testing.assert_allclose(np.sort(phonons.bands.frequencies_THz[0][-1]), [nu_t, nu_t, nu_l],
                               rtol=1e-6)  # fmt: skip
    # 300 K is above the Debye temperature of these springs: C_v close to 3R per mole of cells
    assert 0.9 * 3 * constants.R < phonons.heat_capacity_J_per_K_mol < 3 * constants.R


def test_bad_forces_are_refused():
    unit = fcc_primitive("Cu", 3.6)
    displaced = generate_displacements(unit, FCC_TO_CONVENTIONAL, 0.01, 0.1)
    with pytest.raises(ValueError, match="force sets"):
        harmonic_phonons(unit, FCC_TO_CONVENTIONAL, [s.frac_coords for s in displaced], [],
                         0.01, 0.1, [4, 4, 4])  # fmt: skip


def test_one_phonopy_symmetry_setup_per_flow(settings, jobstore, monkeypatch):
    """The supercell's atomic permutations (phonopy's symmetry set-up) are built once."""
    from phonopy.structure import symmetry as phonopy_symmetry

    from ssbflow.execution.runner import run_flow
    from ssbflow.execution.store import load_output
    from ssbflow.workflows.phonons import PhononFlowMaker

    setups: list[tuple[int, int]] = []  # (atoms, operations) of each permutation set-up
    original = phonopy_symmetry.Symmetry._set_atomic_permutations

    def counted(self):
        setups.append((len(self._cell), len(self.symmetry_operations["rotations"])))
        return original(self)

    monkeypatch.setattr(phonopy_symmetry.Symmetry, "_set_atomic_permutations", counted)
    maker = PhononFlowMaker.from_calculator("emt", relax=False)
    maker = dataclasses.replace(
        maker, supercell_min_length_A=7.0, mesh=(6, 6, 6), band_structure=False
    )
    flow = maker.make(fcc_primitive("Cu", 3.6))
    run_flow(flow, settings, progress=False)
    doc = load_output(settings, flow.output.uuid)
    assert doc["status"] == "successful"
    n_super = doc["n_atoms_supercell"]
    # the space group of the supercell: 48 point operations x n_super pure translations
    assert [ops for atoms, ops in setups if atoms == n_super and ops > n_super] == [48 * n_super]
    # besides it none: the displacement job builds no phonopy Symmetry of the supercell
    assert [ops for atoms, ops in setups if atoms == n_super and ops <= n_super] == []


# --- fast_phonopy_symmetry / fast_force_constants: phonopy's arrays, fewer computations ---


def triclinic_pair() -> Structure:
    """Low symmetry (P-1): only the identity and the inversion."""
    lattice = Lattice.from_parameters(3.1, 3.6, 4.2, 81.0, 97.0, 104.0)
    return Structure(lattice, ["Li", "Li"], [[0.11, 0.23, 0.37], [0.89, 0.77, 0.63]])


SYMMETRY_CASES = [
    (antifluorite_primitive(), np.multiply(2, FCC_TO_CONVENTIONAL).tolist()),
    (fcc_primitive("Cu", 3.6), np.multiply(2, FCC_TO_CONVENTIONAL).tolist()),
    (wurtzite(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]]),  # non-symmorphic: 6_3 screw, c glide
    (triclinic_pair(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]]),
]
SYMMETRY_IDS = ["Li2O", "Cu", "ZnO", "triclinic"]


def phonopy_pair(structure: Structure, matrix):
    """The same Phonopy built by phonopy alone and inside `fast_phonopy_symmetry`."""
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    from ssbflow.analysis.phonopy_adapter import fast_phonopy_symmetry

    cell = get_phonopy_structure(structure)
    plain = Phonopy(cell, matrix, primitive_matrix=np.eye(3), symprec=1e-3)
    with fast_phonopy_symmetry():
        fast = Phonopy(cell, matrix, primitive_matrix=np.eye(3), symprec=1e-3)
    return plain, fast


def test_phonopy_still_has_the_functions_the_adapter_stands_in_for():
    """Fails, naming the phonopy function, when phonopy renames one or changes its parameters
    (then ssbflow silently uses phonopy's slower routines: update the adapter)."""
    from ssbflow.analysis.phonopy_adapter import phonopy_symmetry_contract

    problems = phonopy_symmetry_contract()
    assert problems == [], "phonopy changed: " + "; ".join(problems)


def test_a_changed_phonopy_function_is_named_and_left_alone(monkeypatch):
    from phonopy.structure import symmetry

    from ssbflow.analysis.phonopy_adapter import fast_phonopy_symmetry, phonopy_symmetry_contract

    def compute_all_sg_permutations(positions, rotations, translations, lattice, symprec):
        raise AssertionError("not called")

    compute_all_sg_permutations.__module__ = "phonopy.structure.cells"
    monkeypatch.setattr(symmetry, "compute_all_sg_permutations", compute_all_sg_permutations)
    problems = phonopy_symmetry_contract()
    assert len(problems) == 1
    assert "phonopy.structure.symmetry.compute_all_sg_permutations takes" in problems[0]
    with fast_phonopy_symmetry():  # falls back: replaces nothing
        assert symmetry.compute_all_sg_permutations is compute_all_sg_permutations
    monkeypatch.delattr(symmetry, "collect_unique_rotations")
    assert (
        "phonopy.structure.symmetry.collect_unique_rotations is gone" in phonopy_symmetry_contract()
    )


@pytest.mark.parametrize(("structure", "matrix"), SYMMETRY_CASES, ids=SYMMETRY_IDS)
def test_fast_symmetry_gives_phonopys_arrays(structure, matrix):
    from phonopy.structure import symmetry

    originals = (symmetry.compute_all_sg_permutations, symmetry.collect_unique_rotations)
    plain, fast = phonopy_pair(structure, matrix)
    assert (symmetry.compute_all_sg_permutations, symmetry.collect_unique_rotations) == originals
    for a, b in (
        (plain.symmetry, fast.symmetry),
        (plain.primitive_symmetry, fast.primitive_symmetry),
    ):
        np.testing.assert_array_equal(a.atomic_permutations, b.atomic_permutations)
        np.testing.assert_array_equal(a.pointgroup_operations, b.pointgroup_operations)
        np.testing.assert_array_equal(a.reciprocal_operations, b.reciprocal_operations)
        np.testing.assert_array_equal(a.get_map_operations(), b.get_map_operations())
        np.testing.assert_array_equal(a.get_map_atoms(), b.get_map_atoms())


@pytest.mark.parametrize(("structure", "matrix"), SYMMETRY_CASES, ids=SYMMETRY_IDS)
def test_composed_permutations_are_phonopys_from_cosets_and_translations(structure, matrix):
    """The supercell's operations factor into (R, t0) x pure translations; composing the
    permutations of those few gives phonopy's permutation of every operation."""
    from phonopy.structure.cells import compute_all_sg_permutations

    from ssbflow.analysis.phonopy_adapter import composed_permutations

    plain, _ = phonopy_pair(structure, matrix)
    ops = plain.symmetry.symmetry_operations
    cell = plain.supercell
    n_ops, n_cells = len(ops["rotations"]), round(abs(np.linalg.det(matrix)))
    calls: list[int] = []

    def phonopys(positions, rotations, *args, **kwargs):
        calls.append(len(rotations))
        return compute_all_sg_permutations(positions, rotations, *args, **kwargs)

    args = (cell.scaled_positions, ops["rotations"], ops["translations"],
            np.array(cell.cell.T, order="C"), 1e-3, cell.totuple()[2], "Rust")  # fmt: skip
    perms = composed_permutations(phonopys, *args)
    assert perms is not None, "the operations should factor"
    np.testing.assert_array_equal(perms, plain.symmetry.atomic_permutations)
    assert perms.dtype == np.int64 and perms.flags.c_contiguous
    # phonopy computed only the identity and at most 3 generating pure translations (the
    # other n_cells translations are their sums), one operation per rotation, the sample
    n_rotations = n_ops // n_cells
    assert 2 <= calls[0] <= 4 and calls[1:] == [n_rotations, min(16, n_ops)]
    assert sum(calls) < n_ops or n_ops <= 32


def test_composed_permutations_fall_back_when_a_check_fails():
    from phonopy.structure.cells import compute_all_sg_permutations

    from ssbflow.analysis.phonopy_adapter import composed_permutations

    plain, _ = phonopy_pair(antifluorite_primitive(), np.multiply(2, FCC_TO_CONVENTIONAL).tolist())
    ops, cell = plain.symmetry.symmetry_operations, plain.supercell
    args = (cell.scaled_positions, ops["rotations"], ops["translations"],
            np.array(cell.cell.T, order="C"), 1e-3, cell.totuple()[2])  # fmt: skip
    calls = []

    def wrong_translations(positions, rotations, *rest, **kwargs):
        calls.append(len(rotations))
        perms = compute_all_sg_permutations(positions, rotations, *rest, **kwargs)
        return perms[::-1].copy() if len(calls) == 1 else perms  # translations mixed up

    assert composed_permutations(wrong_translations, *args) is None
    # identity + generators of the 32 translations, 48 cosets, then caught by the sample
    # compared with phonopy's routine
    assert calls[0] <= 4 and calls[1:] == [48, 16]
    # one operation's translation off the lattice of pure translations: does not factor
    shifted = ops["translations"].copy()
    shifted[-1] += 0.3
    assert composed_permutations(compute_all_sg_permutations, args[0], args[1], shifted,
                                 *args[3:]) is None  # fmt: skip
    # the identity alone (the primitive cell): nothing to compose
    one = composed_permutations(compute_all_sg_permutations, args[0], args[1][:1], args[2][:1],
                                *args[3:])  # fmt: skip
    assert one is None


def test_unique_rotations_is_phonopys_collect_unique_rotations():
    from phonopy.structure.symmetry import collect_unique_rotations

    from ssbflow.analysis.phonopy_adapter import unique_rotations

    plain, _ = phonopy_pair(wurtzite(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]])
    rotations = plain.symmetry.symmetry_operations["rotations"]
    shuffled = rotations[np.random.default_rng(1).permutation(len(rotations))]
    for r in (rotations, shuffled, shuffled[:5]):
        np.testing.assert_array_equal(unique_rotations(r), collect_unique_rotations(r))
    assert len(unique_rotations(rotations)) == 12  # 6mm


@pytest.mark.parametrize(("structure", "matrix"), SYMMETRY_CASES, ids=SYMMETRY_IDS)
def test_site_symmetry_is_phonopys(structure, matrix):
    from ssbflow.analysis.phonopy_adapter import site_symmetry

    plain, _ = phonopy_pair(structure, matrix)
    ops, cell = plain.symmetry.symmetry_operations, plain.supercell
    for atom in range(len(cell)):
        ours = site_symmetry(cell.scaled_positions, cell.cell, ops["rotations"],
                             ops["translations"], 1e-3, atom)  # fmt: skip
        np.testing.assert_array_equal(ours, plain.symmetry.get_site_symmetry(atom))


def test_harmonic_phonons_are_phonopys_to_the_bit(monkeypatch):
    """Fast symmetry and force-constant stand-ins change no number (wurtzite, springs)."""
    import contextlib

    from phonopy import Phonopy
    from phonopy.harmonic import force_constants
    from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

    from ssbflow.analysis import phonopy_adapter

    unit, matrix = wurtzite(), [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    displaced = generate_displacements(unit, matrix, 0.01, 0.1)
    ideal = get_pmg_structure(
        Phonopy(get_phonopy_structure(unit), matrix, is_symmetry=False).supercell
    )
    springs = nearest_neighbour_springs(ideal, 2.0)
    args = (unit, matrix, [s.frac_coords for s in displaced], [springs(s) for s in displaced],
            0.01, 0.1, [6, 6, 4])  # fmt: skip
    similarity = force_constants.similarity_transformation
    fast = harmonic_phonons(*args, band_points_per_segment=5)
    assert force_constants.similarity_transformation is similarity
    monkeypatch.setattr(phonopy_adapter, "fast_phonopy_symmetry", contextlib.nullcontext)
    monkeypatch.setattr(phonopy_adapter, "fast_force_constants",
                        lambda phonon: contextlib.nullcontext())  # fmt: skip
    monkeypatch.setattr(phonopy_adapter, "_density_only_accumulator", lambda: None)
    plain = harmonic_phonons(*args, band_points_per_segment=5)
    for field in dataclasses.fields(plain):
        a, b = getattr(plain, field.name), getattr(fast, field.name)
        if field.name == "bands":
            for part in dataclasses.fields(a):
                assert str(getattr(a, part.name)) == str(getattr(b, part.name))
                for x, y in zip(getattr(a, part.name), getattr(b, part.name), strict=True):
                    np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(a, b, err_msg=field.name)
    assert np.abs(plain.force_constants_eV_per_A2).max() > 0.1


@pytest.mark.parametrize(("structure", "matrix"), SYMMETRY_CASES, ids=SYMMETRY_IDS)
def test_sym_mappings_are_phonopys(structure, matrix):
    from phonopy.harmonic.force_constants import _get_sym_mappings_from_permutations

    from ssbflow.analysis.phonopy_adapter import sym_mappings_from_permutations

    plain, _ = phonopy_pair(structure, matrix)
    perms = plain.symmetry.atomic_permutations
    done = plain.symmetry.get_independent_atoms()
    for atoms in (done, np.unique(perms[-1][done])):
        ours = sym_mappings_from_permutations(perms, atoms)
        theirs = _get_sym_mappings_from_permutations(perms, atoms)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    if len(done) > 1:  # an independent atom left out: phonopy's error
        with pytest.raises(ValueError, match="not enough to calculate force constants"):
            sym_mappings_from_permutations(perms, done[:1])


def phonopy_with_springs(structure: Structure, matrix, mesh):
    """A Phonopy of ``structure`` with nearest-neighbour spring force constants, mesh run."""
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

    from ssbflow.analysis.phonons import displacement_dataset

    phonon = Phonopy(get_phonopy_structure(structure), matrix, primitive_matrix=np.eye(3),
                     symprec=1e-3)  # fmt: skip
    displaced = generate_displacements(structure, matrix, 0.01, 1e-3)
    springs = nearest_neighbour_springs(get_pmg_structure(phonon.supercell), 2.0)
    forces = [springs(s) for s in displaced]
    phonon.dataset = displacement_dataset(
        np.asarray(phonon.supercell.scaled_positions), np.asarray(phonon.supercell.cell),
        [s.frac_coords for s in displaced], forces, 0.01,
    )  # fmt: skip
    phonon.produce_force_constants()
    phonon.run_mesh(mesh, is_gamma_center=True, is_mesh_symmetry=True, with_eigenvectors=True)
    return phonon


@pytest.mark.parametrize(("structure", "matrix"), SYMMETRY_CASES[:3], ids=SYMMETRY_IDS[:3])
def test_total_dos_is_phonopys_without_the_integrated_dos(structure, matrix, monkeypatch):
    """Same frequency points and tetrahedron DOS as phonopy, bit for bit, computing only the
    DOS weights ("I"), not the integrated DOS ("J") phonopy computes and drops."""
    from phonopy.phonon import spectrum

    from ssbflow.analysis.phonopy_adapter import total_dos

    phonon = phonopy_with_springs(structure, matrix, [7, 7, 7])
    functions = []
    weights = spectrum.get_integration_weights

    def counted(*args, function="I", **kwargs):
        functions.append(function)
        return weights(*args, function=function, **kwargs)

    monkeypatch.setattr(spectrum, "get_integration_weights", counted)
    frequencies, dos = total_dos(phonon)
    assert functions == ["I"]
    phonon.run_total_dos()
    assert sorted(functions) == ["I", "I", "J"]
    np.testing.assert_array_equal(frequencies, phonon.total_dos.frequency_points)
    np.testing.assert_array_equal(dos, phonon.total_dos.dos)
    assert np.abs(phonon.force_constants).max() > 0.1
    if len(structure) == 1:  # fcc with NN springs is stable: 3 modes per cell
        assert np.trapezoid(dos, frequencies) == pytest.approx(3, rel=2e-2)


def test_total_dos_falls_back_to_phonopys_when_its_accumulator_changed(monkeypatch):
    from phonopy.phonon import spectrum

    from ssbflow.analysis import phonopy_adapter

    phonon = phonopy_with_springs(fcc_primitive("Cu", 3.6),
                                  np.multiply(2, FCC_TO_CONVENTIONAL).tolist(), [6, 6, 6])  # fmt: skip

    class Changed(spectrum.TetrahedronDOSAccumulator):
        def _accumulate_shared(self, bin_values_2d, mode_property_arr):
            raise AssertionError("not called")

    phonopy_adapter._density_only_accumulator.cache_clear()
    monkeypatch.setattr(spectrum, "TetrahedronDOSAccumulator", Changed)
    try:
        assert phonopy_adapter._density_only_accumulator() is None
        monkeypatch.undo()
        frequencies, dos = phonopy_adapter.total_dos(phonon)  # phonopy's run_total_dos
    finally:
        phonopy_adapter._density_only_accumulator.cache_clear()
    np.testing.assert_array_equal(dos, phonon.total_dos.dos)
    np.testing.assert_array_equal(frequencies, phonon.total_dos.frequency_points)


def test_translation_permutations_are_sums_of_few_generators():
    """A ring of 4 sites: translation k sends site i to i + k; phonopy is asked for the
    identity and one generator only, and a set of translations not closed under sums is
    refused (the caller then uses phonopy's routine)."""
    from ssbflow.analysis.phonopy_adapter import _translation_permutations

    n = 4
    codes = np.array([0, 3, 2, 1])  # grid steps (0, 0, k): code k
    asked = []

    def phonopys(ops):
        asked.append(list(ops))
        return np.array([(np.arange(n) + codes[j]) % n for j in ops])

    perms = _translation_permutations(codes, n, phonopys, np.arange(n))
    assert asked == [[0, 1]]  # the identity, then translation 3, which generates the rest
    np.testing.assert_array_equal(perms, [(np.arange(n) + k) % n for k in codes])
    assert _translation_permutations(np.array([0, 1]), n, phonopys, np.arange(2)) is None
