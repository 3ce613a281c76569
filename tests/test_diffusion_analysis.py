"""Diffusion analysis on synthetic random walks with a known D(T) and Ea."""

from __future__ import annotations

import numpy as np
import pytest

from ssbflow.analysis.arrhenius import (
    KB_EV_PER_K,
    analyze_arrhenius,
    attempt_frequency_THz,
    curvature_test,
    fit_arrhenius,
    nernst_einstein_conductivity_S_per_cm,
)
from ssbflow.analysis.diffusion import (
    A2_PER_PS_TO_CM2_PER_S,
    nearest_neighbour_distance_A,
    tracer_diffusivity,
    unwrap_positions_A,
)
from ssbflow.errors import InputError

BOX_A = 10.0
EA_TRUE_EV = 0.2
D0_TRUE_CM2_PER_S = 1.4e-4
TEMPS_K = (600.0, 800.0, 1000.0, 1200.0)


def d_true_cm2_per_s(temperature_K: float) -> float:
    return D0_TRUE_CM2_PER_S * np.exp(-EA_TRUE_EV / (KB_EV_PER_K * temperature_K))


def random_walk(
    d_cm2_per_s: float,
    seed: int,
    n_frames: int = 2001,
    dt_ps: float = 0.05,
    n_mobile: int = 32,
    n_framework: int = 16,
    drift_A_per_ps: tuple[float, float, float] = (0.0, 0.0, 0.0),
    wrap: bool = True,
):
    """Gaussian random walk of 'Li' (exact D) among vibrating 'S' framework atoms."""
    rng = np.random.default_rng(seed)
    d_a2_ps = d_cm2_per_s / A2_PER_PS_TO_CM2_PER_S
    steps = rng.normal(0.0, np.sqrt(2 * d_a2_ps * dt_ps), (n_frames - 1, n_mobile, 3))
    walkers = rng.uniform(0, BOX_A, (1, n_mobile, 3)) + np.concatenate(
        [np.zeros((1, n_mobile, 3)), np.cumsum(steps, axis=0)]
    )
    sites = rng.uniform(0, BOX_A, (1, n_framework, 3))
    framework = sites + rng.normal(0.0, 0.05, (n_frames, n_framework, 3))
    positions = np.concatenate([walkers, framework], axis=1)
    positions += np.arange(n_frames)[:, None, None] * dt_ps * np.asarray(drift_A_per_ps)
    if wrap:
        positions = positions % BOX_A
    symbols = ["Li"] * n_mobile + ["S"] * n_framework
    return positions, np.eye(3) * BOX_A, symbols, dt_ps


def test_recovers_d_and_ea_with_honest_errors():
    results = []
    for i, temp in enumerate(TEMPS_K):
        pos, cell, symbols, dt = random_walk(d_true_cm2_per_s(temp), seed=100 + i)
        res = tracer_diffusivity(pos, cell, symbols, "Li", dt, temp, n_samples=500)
        truth = d_true_cm2_per_s(temp)
        assert abs(res.diffusivity_cm2_per_s - truth) < 4 * res.diffusivity_stderr_cm2_per_s
        assert 0.02 < res.diffusivity_stderr_cm2_per_s / truth < 0.5
        assert not res.too_small
        assert res.n_mobile == 32 and res.n_frames == 2001
        assert res.framework_msd_A2 is not None and res.framework_msd_A2 < 0.1
        results.append(res)
    summary = analyze_arrhenius(
        [r.temperature_K for r in results],
        [r.diffusivity_cm2_per_s for r in results],
        [r.diffusivity_stderr_cm2_per_s for r in results],
        n_carriers=32,
        volume_A3=BOX_A**3,
        jump_distance_A=2.5,
    )
    fit = summary.diffusivity_fit
    assert abs(fit.activation_energy_eV - EA_TRUE_EV) < 3 * fit.activation_energy_stderr_eV
    assert abs(fit.activation_energy_eV - EA_TRUE_EV) < 0.05
    assert fit.activation_energy_stderr_eV < 0.05
    # sigma*T has the same Ea when n and H_R are constant
    assert summary.conductivity_fit.activation_energy_eV == pytest.approx(
        fit.activation_energy_eV, abs=1e-9
    )
    assert summary.excluded_temperatures == {}
    assert summary.curvature.non_arrhenius is False
    # nu0 = 6 D0 / a^2 with the fitted D0
    assert summary.attempt_frequency_THz == pytest.approx(
        6 * fit.prefactor / (2.5e-8) ** 2 / 1e12, rel=1e-12
    )
    # sigma(300 K) = n e^2 D(300) / (kB 300) from the fit
    n_cm3 = 32 / (BOX_A**3 * 1e-24)
    expected = nernst_einstein_conductivity_S_per_cm(summary.diffusivity_300K_cm2_per_s, 300, n_cm3)
    assert summary.conductivity_300K_S_per_cm == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_reported_uncertainty_covers_truth_at_a_sensible_rate():
    truth = 2e-5
    z = []
    for seed in range(12):
        pos, cell, symbols, dt = random_walk(truth, seed=seed, n_frames=1001, n_mobile=16)
        res = tracer_diffusivity(pos, cell, symbols, "Li", dt, 1000.0, n_samples=300)
        z.append((res.diffusivity_cm2_per_s - truth) / res.diffusivity_stderr_cm2_per_s)
    z = np.abs(np.array(z))
    # ~68 % within 1 sigma and ~95 % within 2 sigma for an honest error bar
    assert 0.4 <= np.mean(z < 1) <= 0.95, z
    assert np.mean(z < 2) >= 0.75, z


def test_unwrapping_across_periodic_boundaries():
    truth = 1e-4  # 1 A^2/ps: walkers cross the 10 A box many times in 50 ps
    pos, cell, symbols, dt = random_walk(truth, seed=7, n_frames=1001, wrap=False)
    wrapped = pos % BOX_A
    assert np.allclose(unwrap_positions_A(wrapped, cell), unwrap_positions_A(pos, cell))
    assert np.allclose(unwrap_positions_A(wrapped, cell) - wrapped[0], pos - pos[0])
    spread = np.ptp(pos[:, :32, 0], axis=0).max()
    assert spread > 2 * BOX_A  # really crossed boundaries
    res = tracer_diffusivity(wrapped, cell, symbols, "Li", dt, 1000.0, n_samples=300)
    assert abs(res.diffusivity_cm2_per_s - truth) < 4 * res.diffusivity_stderr_cm2_per_s
    assert res.msd_A2[-1] > BOX_A**2  # MSD larger than the box: unwrapped


def test_framework_drift_is_removed():
    truth = 2e-5
    drift = (0.3, -0.2, 0.1)  # A/ps, whole system: 19 A^2 of spurious MSD per 10 ps
    pos, cell, symbols, dt = random_walk(truth, seed=3, n_frames=1001, drift_A_per_ps=drift)
    res = tracer_diffusivity(pos, cell, symbols, "Li", dt, 1000.0, n_samples=300)
    assert abs(res.diffusivity_cm2_per_s - truth) < 4 * res.diffusivity_stderr_cm2_per_s
    # without a framework to reference, the drift would dominate: D_apparent ~ v^2 t / 6
    naive = np.mean(np.sum((unwrap_positions_A(pos, cell)[-1, :32] - pos[0, :32]) ** 2, -1))
    assert naive > 5 * res.msd_A2[-1]


def test_too_small_msd_is_flagged_and_excluded_with_reason():
    pos, cell, symbols, dt = random_walk(1e-7, seed=1, n_frames=1001)
    small = tracer_diffusivity(pos, cell, symbols, "Li", dt, 400.0, n_samples=300)
    assert small.too_small
    assert small.msd_increase_over_fit_A2 < 3.0
    assert "MSD rises only" in small.flag_reason
    temps = [400.0, 800.0, 1000.0]
    d = [small.diffusivity_cm2_per_s, d_true_cm2_per_s(800), d_true_cm2_per_s(1000)]
    err = [small.diffusivity_stderr_cm2_per_s, 0.05 * d[1], 0.05 * d[2]]
    summary = analyze_arrhenius(
        temps, d, err, n_carriers=32, volume_A3=1000.0, jump_distance_A=2.5,
        flags={400.0: small.flag_reason},
    )  # fmt: skip
    assert summary.fitted_temperatures_K == [800.0, 1000.0]
    assert summary.excluded_temperatures[400.0] == small.flag_reason
    assert summary.diffusivity_fit.activation_energy_eV == pytest.approx(EA_TRUE_EV, rel=1e-9)
    assert summary.curvature.non_arrhenius is None  # two points: not tested, and says so
    assert "not tested" in summary.curvature.message
    with pytest.raises(InputError, match="fewer than two usable temperatures"):
        analyze_arrhenius(
            temps[:2], d[:2], err[:2], n_carriers=32, volume_A3=1000.0, jump_distance_A=2.5,
            flags={400.0: small.flag_reason},
        )  # fmt: skip


def test_arrhenius_fit_hand_values():
    temps = np.array([500.0, 700.0, 900.0])
    d = 1e-3 * np.exp(-0.35 / (KB_EV_PER_K * temps))
    fit = fit_arrhenius(temps, d, 0.1 * d)
    assert fit.activation_energy_eV == pytest.approx(0.35, abs=1e-10)
    assert fit.prefactor == pytest.approx(1e-3, rel=1e-9)
    # two points, 10 % errors each: sigma_Ea = sqrt(2) * 0.1 / |x1 - x2|
    two = fit_arrhenius(temps[:2], d[:2], 0.1 * d[:2])
    dx = abs(1 / (KB_EV_PER_K * 500) - 1 / (KB_EV_PER_K * 700))
    assert two.activation_energy_stderr_eV == pytest.approx(np.sqrt(2) * 0.1 / dx, rel=1e-9)
    assert two.reduced_chi2 is None


def test_nernst_einstein_and_attempt_frequency_hand_values():
    # n = 1e22 cm^-3, D = 1e-6 cm^2/s, 300 K, z = 1: 1e22 e^2 1e-6 / (kB 300) = 0.06197 S/cm
    sigma = nernst_einstein_conductivity_S_per_cm(1e-6, 300.0, 1e22)
    assert sigma == pytest.approx(0.061970, rel=1e-4)
    assert nernst_einstein_conductivity_S_per_cm(1e-6, 300.0, 1e22, haven_ratio=0.5) == (
        pytest.approx(2 * sigma)
    )
    assert nernst_einstein_conductivity_S_per_cm(1e-6, 300.0, 1e22, charge_number=2) == (
        pytest.approx(4 * sigma)
    )
    # D0 = 1e-3 cm^2/s, a = 2.5 A: 6e-3 / 6.25e-16 s^-1 = 9.6 THz
    assert attempt_frequency_THz(1e-3, 2.5) == pytest.approx(9.6, rel=1e-12)
    with pytest.raises(InputError):
        attempt_frequency_THz(1e-3, 0.0)


def test_curvature_detected():
    temps = np.array([500.0, 700.0, 900.0, 1100.0, 1300.0])
    x = 1 / (KB_EV_PER_K * temps)
    # two mechanisms: Ea 0.6 eV at high T, 0.1 eV at low T
    d = 1e-2 * np.exp(-0.6 * x) + 1e-6 * np.exp(-0.1 * x)
    result = curvature_test(temps, d, 0.03 * d)
    assert result.non_arrhenius is True
    assert result.p_value_curvature < 1e-6
    assert "NOT Arrhenius" in result.message
    rng = np.random.default_rng(0)
    straight = 1e-3 * np.exp(-0.3 * x) * np.exp(rng.normal(0, 0.03, len(x)))
    assert curvature_test(temps, straight, 0.03 * straight).non_arrhenius is False


def test_nearest_neighbour_distance_periodic():
    cell = np.eye(3) * 4.0
    pos = np.array([[0.1, 0.0, 0.0], [3.9, 0.0, 0.0], [2.0, 2.0, 2.0]])
    assert nearest_neighbour_distance_A(pos, cell, [0, 1]) == pytest.approx(0.2)
    assert nearest_neighbour_distance_A(pos, cell, [2]) == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("single_frame", "single frame"),
        ("no_species", "no Na atoms"),
        ("cells", "cell of frame"),
        ("temperature", "temperature must be positive"),
        ("timestep", "time between frames must be positive"),
    ],
)
def test_bad_inputs(case, match):
    pos, cell, symbols, dt = random_walk(1e-5, seed=0, n_frames=50)
    cells = np.repeat(cell[None], 50, axis=0)
    species, temp = "Li", 1000.0
    if case == "single_frame":
        pos = pos[:1]
        cells = cells[:1]
    elif case == "no_species":
        species = "Na"
    elif case == "cells":
        cells[20] *= 1.05
    elif case == "temperature":
        temp = -5.0
    elif case == "timestep":
        dt = 0.0
    with pytest.raises(InputError, match=match):
        tracer_diffusivity(pos, cells, symbols, species, dt, temp)


def test_fewer_than_two_temperatures_and_bad_temperatures():
    with pytest.raises(InputError, match="at least two different temperatures"):
        fit_arrhenius([800.0], [1e-5], [1e-6])
    with pytest.raises(InputError, match="positive"):
        analyze_arrhenius(
            [0.0, 800.0], [1e-5, 2e-5], [1e-6, 1e-6], n_carriers=1, volume_A3=100.0,
            jump_distance_A=2.0,
        )  # fmt: skip


def concerted_walk(d_single_cm2_per_s: float, seed: int, n_frames: int = 2001, n_mobile: int = 32):
    """All 'Li' take the same Gaussian steps (a perfectly correlated, concerted motion)."""
    rng = np.random.default_rng(seed)
    dt_ps = 0.05
    d_a2_ps = d_single_cm2_per_s / A2_PER_PS_TO_CM2_PER_S
    steps = rng.normal(0.0, np.sqrt(2 * d_a2_ps * dt_ps), (n_frames - 1, 1, 3))
    walk = np.concatenate([np.zeros((1, 1, 3)), np.cumsum(steps, axis=0)])
    li = rng.uniform(0, BOX_A, (1, n_mobile, 3)) + walk
    framework = rng.uniform(0, BOX_A, (1, 16, 3)) + rng.normal(0.0, 0.05, (n_frames, 16, 3))
    positions = np.concatenate([li, framework], axis=1) % BOX_A
    return positions, np.eye(3) * BOX_A, ["Li"] * n_mobile + ["S"] * 16, dt_ps


def test_collective_diffusivity_of_independent_walkers_is_the_tracer_one():
    """Uncorrelated hops: D_J = D* (Haven ratio 1); the error bar covers the truth at a
    sensible rate (D_J is ~sqrt(N) noisier than D*, one collective vector per origin)."""
    from ssbflow.analysis.diffusion import collective_diffusivity, haven_ratio

    truth = 1e-5
    z = []
    for seed in range(200, 208):
        pos, cell, symbols, dt = random_walk(truth, seed=seed)
        res = collective_diffusivity(pos, cell, symbols, "Li", dt, 800.0, n_samples=500)
        assert res.n_mobile == 32
        assert res.collective_diffusivity_ci95_cm2_per_s[0] < res.collective_diffusivity_cm2_per_s
        z.append(
            (res.collective_diffusivity_cm2_per_s - truth)
            / res.collective_diffusivity_stderr_cm2_per_s
        )
        if seed == 200:
            tracer = tracer_diffusivity(pos, cell, symbols, "Li", dt, 800.0, n_samples=500)
            # the collective estimate is much noisier than the tracer one from the same run
            assert (
                res.collective_diffusivity_stderr_cm2_per_s
                > 2 * tracer.diffusivity_stderr_cm2_per_s
            )
            h, h_err = haven_ratio(
                tracer.diffusivity_cm2_per_s,
                tracer.diffusivity_stderr_cm2_per_s,
                res.collective_diffusivity_cm2_per_s,
                res.collective_diffusivity_stderr_cm2_per_s,
            )
            assert abs(h - 1.0) < 3 * h_err
    z = np.array(z)
    assert np.all(np.abs(z) < 3.5), z
    assert np.mean(np.abs(z) < 2) >= 0.75, z


def test_concerted_motion_gives_n_times_the_tracer_diffusivity():
    """All N ions moving together: |Σ Δr|² = N² |Δr|², so D_J = N D* and H_R = 1/N."""
    from ssbflow.analysis.diffusion import collective_diffusivity, haven_ratio

    d_single = 1e-5
    pos, cell, symbols, dt = concerted_walk(d_single, seed=7)
    tracer = tracer_diffusivity(pos, cell, symbols, "Li", dt, 800.0, n_samples=500)
    coll = collective_diffusivity(pos, cell, symbols, "Li", dt, 800.0, n_samples=500)
    ratio = coll.collective_diffusivity_cm2_per_s / tracer.diffusivity_cm2_per_s
    # the tracer and collective MSDs come from the same single walk, so their ratio is N
    # up to the difference of the two Bayesian fits, not up to the walk's own noise
    assert ratio == pytest.approx(32, rel=0.15)
    h, h_err = haven_ratio(
        tracer.diffusivity_cm2_per_s,
        tracer.diffusivity_stderr_cm2_per_s,
        coll.collective_diffusivity_cm2_per_s,
        coll.collective_diffusivity_stderr_cm2_per_s,
    )
    assert h == pytest.approx(1 / 32, rel=0.15) and h_err > 0


def test_haven_ratio_by_hand_and_bad_input():
    from ssbflow.analysis.diffusion import haven_ratio

    h, err = haven_ratio(2e-6, 0.2e-6, 4e-6, 0.4e-6)
    assert h == pytest.approx(0.5)
    assert err == pytest.approx(0.5 * np.sqrt(0.1**2 + 0.1**2))
    with pytest.raises(InputError, match="positive D"):
        haven_ratio(1e-6, 1e-7, 0.0, 1e-7)
    with pytest.raises(InputError, match=">= 0"):
        haven_ratio(1e-6, -1e-7, 1e-6, 1e-7)
