"""Adhesion analysis against hand-computed numbers and edge cases."""

import math

import numpy as np
import pytest

from ssbflow.analysis.adhesion import (
    EV_PER_A2_TO_J_PER_M2,
    contact_angle_deg,
    fit_uber,
    grand_surface_energy_J_per_m2,
    interface_energy_J_per_m2,
    surface_energy_from_series_J_per_m2,
    surface_energy_J_per_m2,
    uber_energy_J_per_m2,
    work_of_adhesion_J_per_m2,
)


def test_unit_conversion_constant():
    # 1 eV = 1.602176634e-19 J, 1 Å^2 = 1e-20 m^2
    assert EV_PER_A2_TO_J_PER_M2 == pytest.approx(1.602176634e-19 / 1e-20, rel=1e-9)


def test_work_of_adhesion_by_hand():
    # slabs -100 and -200 eV, interface -301 eV over 20 Å^2: 1 eV / 20 Å^2 = 0.05 eV/Å^2
    w = work_of_adhesion_J_per_m2(-301.0, -100.0, -200.0, 20.0)
    assert w == pytest.approx(0.05 * 16.0217663, rel=1e-6)
    # repulsive interface: negative W_ad
    assert work_of_adhesion_J_per_m2(-299.0, -100.0, -200.0, 20.0) < 0


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_work_of_adhesion_rejects_bad_area(bad):
    with pytest.raises(ValueError):
        work_of_adhesion_J_per_m2(-1.0, -1.0, -1.0, bad)


def test_work_of_adhesion_rejects_nan():
    with pytest.raises(ValueError):
        work_of_adhesion_J_per_m2(float("nan"), -1.0, -1.0, 1.0)


def test_interface_energy_dupre():
    assert interface_energy_J_per_m2(0.45, 0.9, 0.6) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("w", "gamma", "theta", "cls"),
    [
        (0.5, 0.5, 90.0, "non-wetting"),  # cos = 0
        (0.75, 0.5, 60.0, "wetting"),  # cos = 0.5
        (0.25, 0.5, 120.0, "non-wetting"),  # cos = -0.5
        (1.0, 0.5, 0.0, "perfect wetting"),  # W = 2γ exactly
        (3.0, 0.5, 0.0, "perfect wetting"),  # W > 2γ: clipped, never NaN
        (0.0, 0.5, 180.0, "non-wetting"),  # no adhesion
        (-0.2, 0.5, 180.0, "non-wetting"),  # repulsive: clipped, never NaN
    ],
)
def test_contact_angle_cases(w, gamma, theta, cls):
    t, c = contact_angle_deg(w, gamma)
    assert not math.isnan(t)
    assert t == pytest.approx(theta, abs=1e-9)
    assert c == cls


def test_contact_angle_young_dupre_identity():
    for w in np.linspace(0.01, 0.99, 7):
        t, _ = contact_angle_deg(w, 0.5)
        assert 0.5 * (1 + math.cos(math.radians(t))) == pytest.approx(w)


def test_contact_angle_rejects_nonpositive_gamma():
    with pytest.raises(ValueError):
        contact_angle_deg(0.5, 0.0)


def test_surface_energy_single_slab():
    # 10 atoms at -2 eV/atom in bulk; slab -18 eV; 2 faces of 10 Å^2 -> 0.1 eV/Å^2
    g = surface_energy_J_per_m2(-18.0, 10, -2.0, 10.0)
    assert g == pytest.approx(0.1 * EV_PER_A2_TO_J_PER_M2)


def test_grand_surface_energy_matches_stoichiometric():
    # Li2O slab of 4 f.u. with μ from bulk: same as the stoichiometric formula
    mu_li, e_fu = -1.9, -14.0
    mu_o = e_fu - 2 * mu_li
    g1 = grand_surface_energy_J_per_m2(-54.0, {"Li": 8, "O": 4}, {"Li": mu_li, "O": mu_o}, 12.0)
    g2 = surface_energy_J_per_m2(-54.0, 4, e_fu, 12.0)
    assert g1 == pytest.approx(g2)
    with pytest.raises(ValueError):
        grand_surface_energy_J_per_m2(-1.0, {"Li": 1, "S": 1}, {"Li": -1.0}, 1.0)


def test_slab_series_recovers_gamma_despite_bulk_drift():
    area, gamma_true, eps = 12.0, 0.5, -3.7
    n = np.array([6, 8, 10, 12])
    e = n * eps + 2 * area * gamma_true / EV_PER_A2_TO_J_PER_M2
    fit = surface_energy_from_series_J_per_m2(n, e, area)
    assert fit.surface_energy_J_per_m2 == pytest.approx(gamma_true, rel=1e-9)
    assert fit.bulk_energy_per_unit_eV == pytest.approx(eps)
    assert fit.surface_energy_stderr_J_per_m2 == pytest.approx(0, abs=1e-9)
    # a bulk reference off by 1 meV/atom would give a thickness-dependent error;
    # the slope method does not see it
    naive = [surface_energy_J_per_m2(ei, ni, eps + 1e-3, area) for ei, ni in zip(e, n, strict=True)]
    drift_spread = 1e-3 * (n.max() - n.min()) / (2 * area) * EV_PER_A2_TO_J_PER_M2
    assert max(naive) - min(naive) == pytest.approx(drift_spread)
    with pytest.raises(ValueError):
        surface_energy_from_series_J_per_m2([4, 4], [-1.0, -1.0], area)


def test_uber_fit_recovers_parameters():
    d = np.linspace(1.4, 5.0, 10)
    e = uber_energy_J_per_m2(d, 0.8, 2.1, 0.45)
    fit = fit_uber(d, e)
    assert fit.work_of_separation_J_per_m2 == pytest.approx(0.8, rel=1e-4)
    assert fit.equilibrium_gap_A == pytest.approx(2.1, abs=1e-4)
    assert fit.length_scale_A == pytest.approx(0.45, rel=1e-3)
    # minimum of the curve is -W at d0
    assert uber_energy_J_per_m2([2.1], 0.8, 2.1, 0.45)[0] == pytest.approx(-0.8)


def test_uber_fit_rejects_unbound_scan():
    with pytest.raises(ValueError):
        fit_uber([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError):
        fit_uber([1, 2, 3], [-0.1, -0.2, -0.1])
