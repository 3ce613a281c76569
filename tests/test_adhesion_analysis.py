"""Adhesion analysis against hand-computed numbers and edge cases."""

import math

import numpy as np
import pytest

from ssbflow.analysis.adhesion import (
    EV_PER_A2_TO_J_PER_M2,
    contact_angle_deg,
    contact_figures,
    fit_uber,
    gap_scan_binding_J_per_m2,
    grand_surface_energy_J_per_m2,
    headline_choice,
    interface_energy_J_per_m2,
    metal_rich_surface_energy_J_per_m2,
    relaxation_start_gap,
    screening_order,
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


def test_gap_scan_binding_by_hand():
    # interface 1 eV below the two slabs over 20 Å²: bound by 0.05 eV/Å² (negative)
    b = gap_scan_binding_J_per_m2([-301.0, None, -299.0], -100.0, -200.0, 20.0)
    assert b[0] == pytest.approx(-0.05 * 16.021766, rel=1e-6)
    assert b[1] is None
    assert b[2] == pytest.approx(+0.05 * 16.021766, rel=1e-6)
    # the opposite of the rigid W_ad at that gap
    assert b[0] == pytest.approx(-work_of_adhesion_J_per_m2(-301.0, -100.0, -200.0, 20.0))
    # a missing slab energy: no binding energy anywhere
    assert gap_scan_binding_J_per_m2([-301.0, -300.5], None, -200.0, 20.0) == [None, None]


def test_relaxation_start_gap_at_the_fitted_minimum():
    gaps = [1.5, 1.8, 2.1, 2.4, 2.7, 3.1, 3.7, 4.6]
    binding = list(uber_energy_J_per_m2(gaps, 0.8, 2.25, 0.45))
    start = relaxation_start_gap(gaps, binding, initial_gap_A=2.1)
    assert start.note is None
    assert start.start_gap_A == pytest.approx(2.25, abs=1e-4)
    assert start.fit.work_of_separation_J_per_m2 == pytest.approx(0.8, rel=1e-4)
    # the same fit as fit_uber on the points with energies (one missing point dropped)
    with_gap = [*binding[:3], None, *binding[4:]]
    start = relaxation_start_gap(gaps, with_gap, initial_gap_A=2.1)
    direct = fit_uber([g for g, b in zip(gaps, with_gap, strict=True) if b is not None],
                      [b for b in with_gap if b is not None])  # fmt: skip
    assert start.fit == direct and start.start_gap_A == direct.equilibrium_gap_A


def test_relaxation_start_gap_fit_outside_the_scan_keeps_the_initial_gap_and_says_so():
    gaps = [2.6, 2.8, 3.0, 3.2]  # minimum at 3.5 Å, beyond the scan
    binding = list(uber_energy_J_per_m2(gaps, 0.8, 3.5, 1.0))
    start = relaxation_start_gap(gaps, binding, initial_gap_A=2.8)
    assert start.start_gap_A == 2.8
    assert start.fit.equilibrium_gap_A == pytest.approx(3.5, abs=1e-3)
    assert "outside the scanned gaps [2.60, 3.20]" in start.note


def test_relaxation_start_gap_failed_fit_starts_at_the_lowest_point_and_says_so():
    # no binding anywhere: the fit fails; the lowest-energy point is at 2 Å
    start = relaxation_start_gap([1.0, 2.0, 3.0, 4.0], [0.4, 0.1, 0.2, 0.3], initial_gap_A=3.0)
    assert start.fit is None and start.start_gap_A == 2.0
    assert start.note.startswith("UBER fit failed (the gap scan shows no binding")
    assert "lowest energy, 2.00 Å" in start.note


def test_relaxation_start_gap_too_few_points():
    start = relaxation_start_gap([1.0, 2.0, 3.0, 4.0], [-0.1, None, -0.3, -0.2], 2.5)
    assert start.fit is None and start.start_gap_A == 2.5
    assert "only 3 of 4 scanned gaps" in start.note
    # no scan asked for: nothing to say
    none = relaxation_start_gap([], [], 2.5)
    assert none.start_gap_A == 2.5 and none.fit is None and none.note is None


def test_metal_rich_surface_energy():
    assert metal_rich_surface_energy_J_per_m2(0.3, 0.0) == 0.3
    assert metal_rich_surface_energy_J_per_m2(0.3, -0.5) is None


def test_contact_figures_by_hand():
    # W = 0.2, γ_metal = 0.5, γ_face = 0.3: cos θ = 0.4 − 1 = −0.6, γ_int = 0.6
    f = contact_figures(0.2, 0.5, 0.3)
    assert f.contact_angle_deg == pytest.approx(math.degrees(math.acos(-0.6)))
    assert f.contact_angle_deg == pytest.approx(126.8699, abs=1e-4)
    assert f.wetting == "non-wetting"
    assert f.interface_energy_J_per_m2 == pytest.approx(0.6)
    assert not f.reactive
    # W = 2.0 ≥ 2γ_metal: perfect wetting; γ_int = 0.5 + 1.0 − 2.0 < 0: reactive
    f = contact_figures(2.0, 0.5, 1.0)
    assert (f.contact_angle_deg, f.wetting) == (0.0, "perfect wetting")
    assert f.interface_energy_J_per_m2 == pytest.approx(-0.5) and f.reactive
    # no face energy: θ only; no metal energy: nothing
    f = contact_figures(0.75, 0.5, None)
    assert f.contact_angle_deg == pytest.approx(60.0) and f.interface_energy_J_per_m2 is None
    assert not f.reactive
    f = contact_figures(0.75, None, 0.3)
    assert (f.contact_angle_deg, f.wetting, f.interface_energy_J_per_m2) == (None, None, None)


def test_headline_choice_lowest_clean_interface_energy():
    # contact 0 is reactive (γ_int < 0), 1 migrated, 2 and 3 clean: lowest γ_int of those
    choice = headline_choice([-0.5, 0.1, 0.6, 0.4], [2.0, 1.0, 0.2, 0.3],
                             [True, False, False, False], [False, True, False, False])  # fmt: skip
    assert (choice.index, choice.criterion) == (3, "lowest interface energy")
    # a tie goes to the first
    assert headline_choice([0.4, 0.4], [0.1, 0.2], [False] * 2, [False] * 2).index == 0


def test_headline_choice_without_interface_energies():
    # no γ_int anywhere: the largest W_ad among clean contacts
    choice = headline_choice([None, None, None], [0.9, 0.5, 0.7], [False] * 3,
                             [True, False, False])  # fmt: skip
    assert (choice.index, choice.criterion) == (2, "largest work of adhesion")
    # every contact with a γ_int is reactive and no clean one lacks it: the face is unstable
    choice = headline_choice([-0.5, -0.1], [2.0, 1.5], [True, True], [False, False])
    assert (choice.index, choice.criterion) == (None, "all reactive")
    # a clean contact without γ_int besides reactive ones: it is the headline, by W_ad
    choice = headline_choice([-0.5, None], [2.0, 0.3], [True, False], [False, False])
    assert (choice.index, choice.criterion) == (1, "largest work of adhesion")
    # every contact migrated: none
    choice = headline_choice([0.2, None], [0.5, 0.3], [False, False], [True, True])
    assert (choice.index, choice.criterion) == (None, "none")
    with pytest.raises(ValueError):
        headline_choice([0.1], [0.2, 0.3], [False], [False])


def test_screening_order_best_registry_of_each_group_first():
    # groups A (r0 0.5, r1 0.9) and B (r0 0.7, r1 0.6); c failed (None)
    w = [0.5, 0.9, 0.7, 0.6, None]
    groups = ["A", "A", "B", "B", "C"]
    labels = ["A-r0", "A-r1", "B-r0", "B-r1", "C-r0"]
    # best of each group (A-r1, then B-r0), then the rest by W_ad; no failed candidate
    assert screening_order(w, groups, labels) == ["A-r1", "B-r0", "B-r1", "A-r0"]
    # equal W_ad: the first of a group is its best; across groups, by label descending
    assert screening_order([0.4, 0.4, 0.4], ["A", "A", "B"], ["a0", "a1", "b0"]) == [
        "b0",
        "a0",
        "a1",
    ]
    assert screening_order([None], ["A"], ["a0"]) == []
