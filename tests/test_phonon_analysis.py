"""Phonon analysis on synthetic data with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from ssbflow.analysis.phonons import (
    H_OVER_KB_K_PER_THZ,
    band_center_from_modes_THz,
    band_center_THz,
    debye_dos,
    debye_frequency_acoustic_THz,
    debye_frequency_moment_THz,
    debye_summary,
    debye_temperature_K,
    imaginary_modes,
    per_formula_unit,
    projected_dos_by_species,
    smeared_dos,
    species_projections,
)

NU_D = 6.3  # THz


def debye_grid(n: int = 200_001, n_atoms: int = 2, beyond: float = 1.5):
    """g = 9 N nu^2 / nu_D^3 on [0, nu_D], zero up to beyond * nu_D; nu_D on the grid.

    The zero part starts 1e-9 THz above nu_D, so the cutoff is sharp on the grid.
    """
    inside = np.linspace(0.0, NU_D, n)
    outside = np.linspace(NU_D + 1e-9, beyond * NU_D, 1000)
    nu = np.concatenate([inside, outside])
    g = np.where(nu <= NU_D, 9 * n_atoms * nu**2 / NU_D**3, 0.0)
    return nu, g


def test_debye_temperature_conversion():
    # h / k_B = 47.992 K/THz (CODATA)
    assert H_OVER_KB_K_PER_THZ == pytest.approx(47.99243, rel=1e-6)
    assert debye_temperature_K(7.0) == pytest.approx(7.0 * 47.99243, rel=1e-6)


def test_debye_dos_returns_nu_d_under_both_definitions():
    nu, g = debye_grid()
    assert np.trapezoid(g, nu) == pytest.approx(3 * 2, rel=1e-8)  # 3N modes
    assert debye_frequency_moment_THz(nu, g) == pytest.approx(NU_D, rel=1e-8)
    for window in (0.5, 2.0, NU_D):
        assert debye_frequency_acoustic_THz(nu, g, window) == pytest.approx(NU_D, rel=1e-8)


def test_debye_definitions_ignore_normalisation_and_imaginary_side():
    nu, g = debye_grid(n=50_001)
    # a negative-frequency (imaginary) tail must not change the answer: it is excluded
    nu_neg = np.concatenate([np.linspace(-1.0, -1e-3, 50), nu])
    g_neg = np.concatenate([np.full(50, 0.3), 17.0 * g])
    assert debye_frequency_moment_THz(nu_neg, g_neg) == pytest.approx(NU_D, rel=1e-7)
    assert debye_frequency_acoustic_THz(nu_neg, g_neg, 1.0) == pytest.approx(NU_D, rel=1e-7)


def test_definitions_differ_for_acoustic_plus_optical_dos():
    """Debye acoustic part (3 modes, nu_A) plus an optical delta (3 modes at nu_O).

    Hand-computed: the low-frequency fit sees half the modes in the nu^2 part, so
    c = (1/2) 3/nu_A^3 and nu_D = 2^(1/3) nu_A; the moment definition gives
    nu_D = sqrt(5/3 * (3/5 nu_A^2 + nu_O^2) / 2).
    """
    nu_a, nu_o, width = 4.0, 12.0, 0.05
    nu = np.linspace(0.0, 15.0, 300_001)
    acoustic = np.where(nu <= nu_a, 9 * nu**2 / nu_a**3, 0.0)
    optical = 3 * np.exp(-0.5 * ((nu - nu_o) / width) ** 2) / (width * np.sqrt(2 * np.pi))
    g = acoustic + optical
    expected_moment = np.sqrt(5 / 3 * (3 / 5 * nu_a**2 + nu_o**2 + width**2) / 2)
    assert debye_frequency_moment_THz(nu, g) == pytest.approx(expected_moment, rel=1e-4)
    assert debye_frequency_acoustic_THz(nu, g, 2.0) == pytest.approx(2 ** (1 / 3) * nu_a, rel=1e-5)


def test_debye_model_curve_integrates_to_modes():
    nu = np.linspace(0, 10, 100_001)
    curve = debye_dos(nu, NU_D, 9.0)
    assert np.trapezoid(curve, nu) == pytest.approx(9.0, rel=1e-4)
    assert curve[nu > NU_D].max() == 0.0


def test_band_center_of_debye_dos_is_three_quarters_nu_d():
    nu, g = debye_grid(n=100_001)
    # int nu^3 / int nu^2 over [0, nu_D] = 3/4 nu_D
    assert band_center_THz(nu, g) == pytest.approx(0.75 * NU_D, rel=1e-7)


def test_band_center_from_modes_weights_projection_and_q_weights():
    freqs = np.array([[1.0, 2.0, 10.0], [3.0, 4.0, 11.0]])
    weights = np.array([1, 3])
    proj = np.array([[0.0, 1.0, 0.5], [0.5, 0.0, 0.0]])
    # (1*1*2 + 1*0.5*10 + 3*0.5*3) / (1 + 0.5 + 1.5)
    expected = (2.0 + 5.0 + 4.5) / 3.0
    assert band_center_from_modes_THz(freqs, weights, proj) == pytest.approx(expected)
    with pytest.raises(ValueError):
        band_center_from_modes_THz(freqs, weights[:1], proj)


def test_species_projections_sum_to_one_and_pick_atoms():
    rng = np.random.default_rng(0)
    n_q = 4
    vecs = []
    for _ in range(n_q):
        a = rng.normal(size=(9, 9)) + 1j * rng.normal(size=(9, 9))
        q, _ = np.linalg.qr(a)  # unitary: columns are normalised eigenvectors
        vecs.append(q)
    proj = species_projections(np.array(vecs), ["Li", "O", "Li"])
    assert set(proj) == {"Li", "O"}
    np.testing.assert_allclose(proj["Li"] + proj["O"], 1.0, atol=1e-12)
    # a mode that moves only atom 1 (O) along x
    single = np.zeros((1, 9, 9), dtype=complex)
    single[0, 3, 0] = 1.0
    single[0, 0, 1] = single[0, 7, 1] = np.sqrt(0.5)
    p = species_projections(single, ["Li", "O", "Li"])
    assert p["O"][0, 0] == 1.0 and p["Li"][0, 0] == 0.0
    assert p["Li"][0, 1] == pytest.approx(1.0)


def test_smeared_dos_integrates_to_number_of_bands():
    freqs = np.array([[1.0, 2.0, 5.0], [1.5, 2.5, 5.5]])
    weights = np.array([2, 1])
    grid = np.linspace(-2, 9, 20_001)
    g = smeared_dos(freqs, weights, grid, 0.1)
    assert np.trapezoid(g, grid) == pytest.approx(3.0, rel=1e-6)
    half = smeared_dos(freqs, weights, grid, 0.1, projection=np.full_like(freqs, 0.5))
    np.testing.assert_allclose(half, g / 2)


def test_imaginary_modes_detected_and_located():
    qpoints = np.array([[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0], [0.25, 0, 0]])
    freqs = np.array(
        [
            [-0.01, 0.0, 0.01, 8.0],  # acoustic noise at Γ: not imaginary
            [-1.2, 2.0, 3.0, 8.0],  # the deepest soft mode, at X
            [-0.3, -0.2, 3.0, 8.0],
            [1.0, 2.0, 3.0, 8.0],
        ]
    )
    result = imaginary_modes(freqs, qpoints, tolerance_THz=0.05)
    assert result.n_imaginary_modes == 3
    assert result.n_qpoints_with_imaginary == 2
    assert result.n_modes_total == 16
    assert result.min_frequency_THz == -1.2
    assert result.min_qpoint == (0.5, 0.0, 0.0)
    assert not result.at_gamma
    assert result.unstable and "-1.200 THz" in result.describe()
    weighted = imaginary_modes(freqs, qpoints, 0.05, weights=np.array([1, 6, 12, 6]))
    assert weighted.n_imaginary_modes == 6 + 2 * 12
    assert weighted.n_modes_total == 4 * 25


def test_imaginary_modes_stable_and_gamma_instability():
    qpoints = np.array([[0, 0, 0], [0.5, 0, 0]])
    stable = imaginary_modes(np.array([[-0.01, 0.0, 0.0], [1.0, 1.0, 2.0]]), qpoints)
    assert not stable.unstable and stable.n_imaginary_modes == 0
    at_gamma = imaginary_modes(np.array([[-2.0, 0.0, 0.0], [1.0, 1.0, 2.0]]), qpoints)
    assert at_gamma.at_gamma and "at Γ" in at_gamma.describe()
    with pytest.raises(ValueError):
        imaginary_modes(np.zeros((2, 3)), np.zeros((3, 3)))


def test_bad_dos_input_raises():
    with pytest.raises(ValueError):
        debye_frequency_moment_THz([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        debye_frequency_moment_THz([0.0, 2.0, 1.0], [0.0, 1.0, 1.0])
    nu, g = debye_grid(n=1001)
    with pytest.raises(ValueError, match="fit window"):
        debye_frequency_acoustic_THz(nu, g, 1e-6)


def random_modes(n_q: int = 5, atoms: tuple[str, ...] = ("Li", "O", "Li"), seed: int = 1):
    """Unitary eigenvectors and positive frequencies of a 3-atom cell on ``n_q`` q-points."""
    rng = np.random.default_rng(seed)
    n = 3 * len(atoms)
    vecs = np.array(
        [
            np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))[0]
            for _ in range(n_q)
        ]
    )
    freqs = rng.uniform(0.5, 12.0, size=(n_q, n))
    weights = rng.integers(1, 7, size=n_q)
    return freqs, weights, vecs, list(atoms)


def test_projected_dos_by_species_adds_up_to_the_smeared_total():
    freqs, weights, vecs, atoms = random_modes()
    grid = np.linspace(-1.0, 14.0, 3001)
    projections, projected, sigma = projected_dos_by_species(freqs, weights, vecs, atoms, grid)
    assert sigma == pytest.approx(3 * (grid[1] - grid[0]))
    assert set(projected) == {"Li", "O"}
    np.testing.assert_allclose(
        projected["Li"] + projected["O"], smeared_dos(freqs, weights, grid, sigma), atol=1e-12
    )
    # 9 modes per cell: 6 on the two Li atoms and 3 on O on average over the modes
    total = sum(np.trapezoid(g, grid) for g in projected.values())
    assert total == pytest.approx(9.0, rel=1e-4)
    np.testing.assert_allclose(projections["Li"] + projections["O"], 1.0, atol=1e-12)


def test_debye_summary_of_a_debye_dos_and_a_band_centre():
    nu, g = debye_grid(n=50_001)
    freqs, weights, vecs, atoms = random_modes()
    projections = species_projections(vecs, atoms)
    summary = debye_summary(nu, g, freqs, weights, projections, ["Li"], 0.2)
    assert summary.debye_frequency_THz == pytest.approx(NU_D, rel=1e-7)
    assert summary.debye_frequency_acoustic_THz == pytest.approx(NU_D, rel=1e-7)
    assert summary.acoustic_fit_max_THz == pytest.approx(0.2 * freqs.max())
    assert summary.debye_temperature_K == pytest.approx(debye_temperature_K(NU_D))
    assert summary.mobile_ion_band_center_THz == pytest.approx(
        band_center_from_modes_THz(freqs, weights, projections["Li"])
    )
    assert (
        debye_summary(nu, g, freqs, weights, projections, [], 0.2).mobile_ion_band_center_THz
        is None
    )
    with pytest.raises(ValueError):
        debye_summary(nu, np.zeros_like(g), freqs, weights, projections, [], 0.2)


def test_per_formula_unit():
    # Li2O primitive cell (3 atoms) = one formula unit; a 12-atom cell holds four
    assert per_formula_unit(60.0, 3, 3.0) == pytest.approx(60.0)
    assert per_formula_unit(240.0, 12, 3.0) == pytest.approx(60.0)
