"""Arrhenius analysis of diffusivities: activation energy, conductivity, attempt frequency.

Formulas (k_B in eV/K; T in K):

- Diffusivity: ``D(T) = D0 exp(-Ea / (k_B T))``, fitted as a weighted straight line
  ``ln D = ln D0 - Ea x`` with ``x = 1 / (k_B T)`` and weights ``1 / (σ_D / D)²``.
- Conductivity, Nernst–Einstein: ``σ = n (z e)² D / (k_B T H_R)`` with the carrier
  concentration ``n`` (per cm³), the charge number ``z`` and the Haven ratio ``H_R``
  (1 = uncorrelated carriers, the tracer limit). ``σT`` is then fitted as
  ``σ T = σ0 exp(-Ea / (k_B T))``. With a constant ``n`` and ``H_R`` this gives the same Ea as
  the D fit; the two differ only when a collective diffusivity is supplied.
- Attempt frequency for uncorrelated hopping in 3-D (random walk, correlation factor 1,
  all jump directions lumped together, no separate coordination or entropy factor):
  ``D0 = ν0 a² / 6`` hence ``ν0 = 6 D0 / a²`` with the jump distance ``a``.

Standard errors come from the weighted least-squares covariance with the per-point errors
taken as absolute; when the fit has more points than parameters and the reduced χ² exceeds
1, the covariance is scaled by it (the scatter is then larger than the stated errors).
Pure numerics: no file I/O, no jobflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ssbflow.errors import InputError

#: Boltzmann constant, eV/K (CODATA 2018, exact).
KB_EV_PER_K = 8.617333262e-5
#: Boltzmann constant, J/K (exact).
KB_J_PER_K = 1.380649e-23
#: Elementary charge, C (exact).
ELEMENTARY_CHARGE_C = 1.602176634e-19

ATTEMPT_FREQUENCY_FORMULA = (
    "nu0 = 6 D0 / a^2 (3-D uncorrelated random-walk hopping: D = nu0 a^2 exp(-Ea/kT) / 6, "
    "correlation factor 1, all jump directions lumped in nu0, no migration-entropy or "
    "coordination factor; a = jump distance)"
)


@dataclass(frozen=True)
class ArrheniusFit:
    """A weighted fit of ``y(T) = A exp(-Ea / (k_B T))``.

    Attributes
    ----------
    activation_energy_eV, activation_energy_stderr_eV
        Ea and its standard error (eV).
    ln_prefactor, ln_prefactor_stderr
        ln A (A in the units of the fitted values) and its standard error.
    covariance
        Covariance of (ln A, Ea), shape (2, 2).
    temperatures_K
        Temperatures fitted, shape (n,), K.
    reduced_chi2
        χ² / (n - 2) with the stated errors; ``None`` for two points.
    covariance_scaled
        True when the covariance was scaled by ``reduced_chi2`` (> 1).
    """

    activation_energy_eV: float
    activation_energy_stderr_eV: float
    ln_prefactor: float
    ln_prefactor_stderr: float
    covariance: np.ndarray
    temperatures_K: np.ndarray
    reduced_chi2: float | None
    covariance_scaled: bool

    @property
    def prefactor(self) -> float:
        """A = exp(ln A), in the units of the fitted values."""
        return float(np.exp(self.ln_prefactor))

    def ln_value_at(self, temperature_K: float) -> tuple[float, float]:
        """ln y(T) and its standard error from the fit covariance."""
        x = 1.0 / (KB_EV_PER_K * temperature_K)
        grad = np.array([1.0, -x])
        return float(self.ln_prefactor - self.activation_energy_eV * x), float(
            np.sqrt(grad @ self.covariance @ grad)
        )


@dataclass(frozen=True)
class CurvatureTest:
    """Is ln y linear in 1/T? (quadratic-vs-linear and goodness-of-fit tests)

    Attributes
    ----------
    non_arrhenius
        True if either test rejects a straight line at ``significance``; ``None`` when
        there are too few points to test.
    p_value_curvature
        p-value of the Δχ² between the linear and quadratic fits in 1/T (χ²₁); ``None``
        for fewer than 4 points.
    p_value_goodness_of_fit
        p-value of the linear fit's χ² (n - 2 degrees of freedom); ``None`` for 2 points.
    message
        A sentence for the output document.
    """

    non_arrhenius: bool | None
    p_value_curvature: float | None
    p_value_goodness_of_fit: float | None
    message: str


@dataclass(frozen=True)
class ArrheniusSummary:
    """Everything derived from D(T) (see the module docstring for the formulas)."""

    diffusivity_fit: ArrheniusFit
    conductivity_fit: ArrheniusFit
    curvature: CurvatureTest
    fitted_temperatures_K: list[float]
    excluded_temperatures: dict[float, str]
    diffusivity_300K_cm2_per_s: float
    conductivity_300K_S_per_cm: float
    conductivity_300K_stderr_S_per_cm: float
    attempt_frequency_THz: float
    attempt_frequency_stderr_THz: float
    carrier_concentration_per_cm3: float
    room_temperature_K: float
    notes: list[str] = field(default_factory=list)


def _weighted_linear(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, degree: int = 1):
    """Weighted polynomial least squares; returns (coefficients low→high, covariance, χ²)."""
    design = np.vander(x, degree + 1, increasing=True)
    w = 1.0 / sigma
    a = design * w[:, None]
    b = y * w
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    cov = np.linalg.inv(a.T @ a)
    chi2 = float(np.sum(((design @ coef - y) * w) ** 2))
    return coef, cov, chi2


def _validate(temperatures_K, values, stderrs, what: str) -> tuple[np.ndarray, ...]:
    t = np.asarray(temperatures_K, dtype=float)
    v = np.asarray(values, dtype=float)
    s = np.asarray(stderrs, dtype=float)
    if not (t.shape == v.shape == s.shape) or t.ndim != 1:
        raise InputError(f"temperatures, {what} and their errors must be 1-D of equal length")
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise InputError(f"temperatures must be positive, got {t.tolist()}")
    if len(np.unique(t)) < 2:
        raise InputError(
            f"an Arrhenius fit needs at least two different temperatures, got {t.tolist()}"
        )
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise InputError(f"{what} must be positive for an Arrhenius fit, got {v.tolist()}")
    if np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise InputError(f"the errors of {what} must be positive, got {s.tolist()}")
    return t, v, s


def fit_arrhenius(
    temperatures_K: Sequence[float], values: Sequence[float], stderrs: Sequence[float]
) -> ArrheniusFit:
    """Fit ``values = A exp(-Ea / (k_B T))`` by weighted least squares in (1/k_BT, ln value).

    Parameters
    ----------
    temperatures_K
        Temperatures, shape (n,), K, n >= 2 distinct.
    values
        Positive values (e.g. D in cm²/s or σT in S K/cm), shape (n,).
    stderrs
        Their standard errors, shape (n,), same units; propagated as σ_ln = σ / value.

    Returns
    -------
    ArrheniusFit

    Raises
    ------
    InputError
        Fewer than two distinct temperatures, or non-positive values or errors.
    """
    t, v, s = _validate(temperatures_K, values, stderrs, "values")
    x = 1.0 / (KB_EV_PER_K * t)
    y = np.log(v)
    sy = s / v
    coef, cov, chi2 = _weighted_linear(x, y, sy)
    dof = len(t) - 2
    reduced = chi2 / dof if dof > 0 else None
    scaled = bool(reduced is not None and reduced > 1.0)
    if scaled:
        cov = cov * reduced
    # parameters: (ln A, slope = -Ea); covariance of (ln A, Ea) flips the cross term sign
    cov_lnA_Ea = np.array([[cov[0, 0], -cov[0, 1]], [-cov[1, 0], cov[1, 1]]])
    return ArrheniusFit(
        activation_energy_eV=float(-coef[1]),
        activation_energy_stderr_eV=float(np.sqrt(cov[1, 1])),
        ln_prefactor=float(coef[0]),
        ln_prefactor_stderr=float(np.sqrt(cov[0, 0])),
        covariance=cov_lnA_Ea,
        temperatures_K=t,
        reduced_chi2=reduced,
        covariance_scaled=scaled,
    )


def curvature_test(
    temperatures_K: Sequence[float],
    values: Sequence[float],
    stderrs: Sequence[float],
    significance: float = 0.01,
) -> CurvatureTest:
    """Test whether ln(values) is linear in 1/T.

    Two tests, either of which flags non-Arrhenius behaviour at ``significance``:
    the Δχ² between a quadratic and a linear fit in 1000/T (needs >= 4 points; χ² with
    one degree of freedom) and the linear fit's χ² (needs >= 3 points). A rejection can
    also mean that the stated errors are too small; the message says so.

    Parameters
    ----------
    temperatures_K, values, stderrs
        As for `fit_arrhenius`, shape (n,).
    significance
        Rejection level of the p-values.

    Returns
    -------
    CurvatureTest
    """
    t, v, s = _validate(temperatures_K, values, stderrs, "values")
    n = len(t)
    if n < 3:
        return CurvatureTest(
            None, None, None, "not tested for curvature: only two temperatures were fitted"
        )
    x = 1000.0 / t
    y = np.log(v)
    sy = s / v
    _, _, chi2_lin = _weighted_linear(x, y, sy, degree=1)
    p_gof = float(stats.chi2.sf(chi2_lin, n - 2))
    p_curv = None
    if n >= 4:
        _, _, chi2_quad = _weighted_linear(x, y, sy, degree=2)
        p_curv = float(stats.chi2.sf(max(chi2_lin - chi2_quad, 0.0), 1))
    rejected = p_gof < significance or (p_curv is not None and p_curv < significance)
    if rejected:
        parts = [f"goodness-of-fit p = {p_gof:.2g}"]
        if p_curv is not None:
            parts.append(f"curvature p = {p_curv:.2g}")
        message = (
            "NOT Arrhenius within the stated errors ("
            + ", ".join(parts)
            + "): ln D is curved in 1/T or scatters more than its errors — a change of "
            "mechanism or phase across the ladder, or underestimated errors; treat Ea and "
            "the 300 K extrapolation with caution"
        )
    else:
        parts = [f"goodness-of-fit p = {p_gof:.2g}"]
        if p_curv is not None:
            parts.append(f"curvature p = {p_curv:.2g}")
        else:
            parts.append("curvature not tested with 3 points")
        message = "consistent with Arrhenius behaviour (" + ", ".join(parts) + ")"
    return CurvatureTest(bool(rejected), p_curv, p_gof, message)


def nernst_einstein_conductivity_S_per_cm(
    diffusivity_cm2_per_s: float | np.ndarray,
    temperature_K: float | np.ndarray,
    carrier_concentration_per_cm3: float,
    charge_number: int = 1,
    haven_ratio: float = 1.0,
) -> float | np.ndarray:
    """σ = n (z e)² D / (k_B T H_R).

    Parameters
    ----------
    diffusivity_cm2_per_s
        Tracer diffusivity (cm²/s), scalar or shape (n,).
    temperature_K
        Temperature (K), scalar or shape (n,).
    carrier_concentration_per_cm3
        Mobile ions per cm³.
    charge_number
        z, charge of the mobile ion in units of e.
    haven_ratio
        H_R = D_tracer / D_sigma (1: uncorrelated).

    Returns
    -------
    float or numpy.ndarray
        Conductivity in S/cm.
    """
    if haven_ratio <= 0:
        raise InputError(f"the Haven ratio must be positive, got {haven_ratio}")
    if carrier_concentration_per_cm3 <= 0:
        raise InputError("the carrier concentration must be positive")
    q = charge_number * ELEMENTARY_CHARGE_C
    return (
        carrier_concentration_per_cm3
        * q**2
        * np.asarray(diffusivity_cm2_per_s)
        / (KB_J_PER_K * np.asarray(temperature_K) * haven_ratio)
    )


def attempt_frequency_THz(
    prefactor_D0_cm2_per_s: float, jump_distance_A: float, dimensionality: int = 3
) -> float:
    """ν0 = 2 d D0 / a² (d = 3: ν0 = 6 D0 / a²), in THz; see `ATTEMPT_FREQUENCY_FORMULA`.

    Parameters
    ----------
    prefactor_D0_cm2_per_s
        Arrhenius prefactor of D (cm²/s).
    jump_distance_A
        Jump distance a (Å), > 0.
    dimensionality
        Dimensionality d of the hopping network.
    """
    if not np.isfinite(jump_distance_A) or jump_distance_A <= 0:
        raise InputError(f"the jump distance must be positive, got {jump_distance_A} Å")
    a_cm = jump_distance_A * 1e-8
    return float(2 * dimensionality * prefactor_D0_cm2_per_s / a_cm**2 / 1e12)


def analyze_arrhenius(
    temperatures_K: Sequence[float],
    diffusivity_cm2_per_s: Sequence[float],
    diffusivity_stderr_cm2_per_s: Sequence[float],
    *,
    n_carriers: int,
    volume_A3: float,
    jump_distance_A: float,
    flags: Mapping[float, str] | None = None,
    charge_number: int = 1,
    haven_ratio: float = 1.0,
    room_temperature_K: float = 300.0,
    significance: float = 0.01,
) -> ArrheniusSummary:
    """Arrhenius fits of D and σT, σ(300 K), attempt frequency and a curvature check.

    Parameters
    ----------
    temperatures_K
        Temperatures of the runs, shape (n,), K.
    diffusivity_cm2_per_s, diffusivity_stderr_cm2_per_s
        Tracer diffusivities and their standard errors, shape (n,), cm²/s.
    n_carriers
        Number of mobile ions in the simulation cell.
    volume_A3
        Volume of the simulation cell (Å³).
    jump_distance_A
        Jump distance for the attempt frequency (Å).
    flags
        ``{temperature: reason}`` for temperatures that must not be fitted (e.g. an MSD
        too small); they are excluded and reported, never silently dropped.
    charge_number, haven_ratio
        For Nernst–Einstein.
    room_temperature_K
        Extrapolation temperature (K).
    significance
        Level of the non-Arrhenius tests.

    Returns
    -------
    ArrheniusSummary

    Raises
    ------
    InputError
        Fewer than two usable temperatures (the message lists why each was excluded), or
        a non-positive temperature.
    """
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(diffusivity_cm2_per_s, dtype=float)
    s = np.asarray(diffusivity_stderr_cm2_per_s, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise InputError(f"temperatures must be positive, got {t.tolist()}")
    if len(np.unique(t)) != len(t):
        raise InputError(f"temperatures must be distinct, got {t.tolist()}")
    excluded: dict[float, str] = {}
    for temp, reason in (flags or {}).items():
        excluded[float(temp)] = reason
    for temp, dv, sv in zip(t, d, s, strict=True):
        if float(temp) in excluded:
            continue
        if not np.isfinite(dv) or dv <= 0:
            excluded[float(temp)] = f"diffusivity {dv:.3g} cm²/s is not positive"
        elif not np.isfinite(sv) or sv <= 0:
            excluded[float(temp)] = "no finite uncertainty of D"
    keep = np.array([float(x) not in excluded for x in t])
    if keep.sum() < 2:
        why = "; ".join(f"{k:g} K: {v}" for k, v in sorted(excluded.items()))
        raise InputError(
            f"fewer than two usable temperatures for an Arrhenius fit ({int(keep.sum())} "
            f"usable of {len(t)}){'; excluded ' + why if why else ''}. "
            "Add temperatures or run longer"
        )
    tk, dk, sk = t[keep], d[keep], s[keep]
    d_fit = fit_arrhenius(tk, dk, sk)
    volume_cm3 = volume_A3 * 1e-24
    n_per_cm3 = n_carriers / volume_cm3
    sigma = nernst_einstein_conductivity_S_per_cm(dk, tk, n_per_cm3, charge_number, haven_ratio)
    sigma_err = sigma * sk / dk
    sigma_t_fit = fit_arrhenius(tk, sigma * tk, sigma_err * tk)
    curv = curvature_test(tk, dk, sk, significance=significance)

    ln_d_rt, _ = d_fit.ln_value_at(room_temperature_K)
    d_rt = float(np.exp(ln_d_rt))
    ln_st_rt, ln_st_rt_err = sigma_t_fit.ln_value_at(room_temperature_K)
    sigma_rt = float(np.exp(ln_st_rt) / room_temperature_K)
    nu = attempt_frequency_THz(d_fit.prefactor, jump_distance_A)
    notes = [f"attempt frequency: {ATTEMPT_FREQUENCY_FORMULA}; a = {jump_distance_A:.3g} Å"]
    notes.append(
        f"sigma(300 K) by Nernst–Einstein with n = {n_per_cm3:.4g} cm^-3, z = {charge_number}, "
        f"Haven ratio = {haven_ratio:g}, extrapolated along the sigma*T Arrhenius fit"
    )
    if d_fit.covariance_scaled:
        notes.append(
            f"Arrhenius errors scaled by the reduced chi2 = {d_fit.reduced_chi2:.3g} "
            "(scatter larger than the per-temperature errors)"
        )
    return ArrheniusSummary(
        diffusivity_fit=d_fit,
        conductivity_fit=sigma_t_fit,
        curvature=curv,
        fitted_temperatures_K=[float(x) for x in tk],
        excluded_temperatures=excluded,
        diffusivity_300K_cm2_per_s=d_rt,
        conductivity_300K_S_per_cm=sigma_rt,
        conductivity_300K_stderr_S_per_cm=float(sigma_rt * ln_st_rt_err),
        attempt_frequency_THz=nu,
        attempt_frequency_stderr_THz=float(nu * d_fit.ln_prefactor_stderr),
        carrier_concentration_per_cm3=float(n_per_cm3),
        room_temperature_K=float(room_temperature_K),
        notes=notes,
    )
