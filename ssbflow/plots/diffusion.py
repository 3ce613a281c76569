"""Diffusion figures (PNG; matplotlib Figure, no pyplot state): Arrhenius plot and MSD curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ssbflow.plots import save_figure

KB_EV_PER_K = 8.617333262e-5


def plot_arrhenius(
    diffusivity_cm2_per_s: Mapping[str, float],
    diffusivity_stderr_cm2_per_s: Mapping[str, float],
    path: Path,
    activation_energy_eV: float | None = None,
    prefactor_D0_cm2_per_s: float | None = None,
    excluded: Sequence[str] = (),
    title: str = "",
) -> Path:
    """log10 D against 1000/T with 1σ error bars and the Arrhenius fit.

    Parameters
    ----------
    diffusivity_cm2_per_s, diffusivity_stderr_cm2_per_s
        Temperature key (K, as a string) -> D and its standard error (cm²/s).
    path
        PNG file to write.
    activation_energy_eV, prefactor_D0_cm2_per_s
        The fit to draw (omitted when ``None``).
    excluded
        Temperature keys left out of the fit (drawn as open symbols).
    title
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    keys = list(diffusivity_cm2_per_s)
    temps = np.array([float(k) for k in keys])
    d = np.array([diffusivity_cm2_per_s[k] for k in keys])
    err = np.array([diffusivity_stderr_cm2_per_s.get(k, np.nan) for k in keys])
    fig = Figure(figsize=(5, 4), dpi=120)
    ax = fig.add_subplot()
    used = np.array([k not in set(excluded) for k in keys])
    x = 1000.0 / temps
    if used.any():
        ax.errorbar(x[used], d[used], yerr=err[used], fmt="o", capsize=3, label="MD (fitted)")
    if (~used).any():
        ax.errorbar(
            x[~used], np.clip(d[~used], 1e-30, None), yerr=err[~used], fmt="o", mfc="none",
            capsize=3, color="grey", label="excluded",
        )  # fmt: skip
    if activation_energy_eV is not None and prefactor_D0_cm2_per_s is not None:
        t_line = np.linspace(temps.min() * 0.95, temps.max() * 1.05, 100)
        fit = prefactor_D0_cm2_per_s * np.exp(-activation_energy_eV / (KB_EV_PER_K * t_line))
        ax.plot(1000.0 / t_line, fit, "-", label=f"Ea = {activation_energy_eV:.3f} eV")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D (cm$^2$/s)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_msd(
    msd_curves: Mapping[str, Mapping[str, Sequence[float]]],
    path: Path,
    fit_windows_ps: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
) -> Path:
    """MSD against time interval per temperature, with the fit window marked.

    Parameters
    ----------
    msd_curves
        Temperature key -> {"time_ps", "msd_A2", "msd_stderr_A2"} (lists of equal length).
    path
        PNG file to write.
    fit_windows_ps
        Temperature key -> [start, end] of the fitted window (ps).
    title
        Figure title.
    """
    fig = Figure(figsize=(5, 4), dpi=120)
    ax = fig.add_subplot()
    for key in sorted(msd_curves, key=float):
        curve = msd_curves[key]
        t = np.asarray(curve["time_ps"])
        msd = np.asarray(curve["msd_A2"])
        err = np.asarray(curve.get("msd_stderr_A2", np.zeros_like(msd)))
        (line,) = ax.plot(t, msd, label=f"{key} K")
        ax.fill_between(t, msd - err, msd + err, color=line.get_color(), alpha=0.25)
        if fit_windows_ps and key in fit_windows_ps:
            start = fit_windows_ps[key][0]
            ax.axvline(start, color=line.get_color(), ls=":", lw=0.8)
    ax.set_xlabel("time interval (ps)")
    ax.set_ylabel("MSD (Å$^2$)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
