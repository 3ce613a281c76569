"""Stability figures: the phase diagram and the metal + electrolyte reaction-energy curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ssbflow.plots import save_figure


def plot_reaction_curve(
    curve: Sequence[Sequence[float]],
    path: Path,
    metal: str,
    electrolyte: str,
    products: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """Reaction energy of metal + electrolyte mixtures vs the electrolyte fraction.

    Parameters
    ----------
    curve
        Shape ``(n_kinks, 2)``: (x, E) with x the atom fraction of the electrolyte in the
        mixture (0: pure metal, 1: pure electrolyte) and E the reaction energy, eV/atom of
        mixture (piecewise linear between the kinks).
    path
        Output PNG.
    metal, electrolyte
        Labels of the two ends.
    products
        Phases in equilibrium with the metal, written on the figure.
    title
        Figure title.

    Returns
    -------
    Path
    """
    data = np.asarray(sorted((float(x), float(e)) for x, e in curve))
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    ax.plot(data[:, 0], data[:, 1], "o-", color="tab:red")
    ax.axhline(0.0, color="grey", lw=0.8)
    i = int(np.argmin(data[:, 1]))
    if data[i, 1] < 0:
        ax.annotate(
            f"{data[i, 1]:.3f} eV/atom at x = {data[i, 0]:.3f}",
            (data[i, 0], data[i, 1]),
            textcoords="offset points",
            xytext=(5, -12),
            fontsize=8,
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"x (atom fraction of {electrolyte}; 0 = {metal}, 1 = {electrolyte})")
    ax.set_ylabel("reaction energy (eV/atom of mixture)")
    if products:
        ax.text(
            0.02,
            0.04,
            f"in equilibrium with {metal}: {' + '.join(products)}",
            transform=ax.transAxes,
            fontsize=8,
        )
    ax.set_title(title or f"{metal} + {electrolyte}")
    return save_figure(fig, path)


def plot_phase_diagram(
    phase_energies_eV_per_atom: Mapping[str, float],
    phase_formulas: Mapping[str, str],
    path: Path,
    metal: str,
    highlight: str | None = None,
    title: str | None = None,
) -> Path:
    """Phase diagram of the computed phases.

    Binary and ternary systems are drawn with pymatgen's `PDPlotter` (matplotlib);
    larger systems as formation energy vs the metal's atom fraction (every phase, hull
    phases filled), which is the projection that matters against the metal.

    Parameters
    ----------
    phase_energies_eV_per_atom
        Library name -> total energy per atom, eV.
    phase_formulas
        Library name -> formula.
    path
        Output PNG.
    metal
        Element symbol of the metal (x axis of the projection).
    highlight
        Name of the electrolyte (marked).
    title
        Figure title.

    Returns
    -------
    Path
    """
    import warnings

    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    entries = []
    for name, e in phase_energies_eV_per_atom.items():
        comp = Composition(phase_formulas[name])
        entries.append(PDEntry(comp, e * comp.num_atoms, name=comp.reduced_formula))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd = PhaseDiagram(entries)
    if len(pd.elements) <= 3:
        return _pdplotter(pd, path, title)
    return _projection(pd, path, metal, highlight, phase_formulas, title)


def _pdplotter(pd: Any, path: Path, title: str | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pymatgen.analysis.phase_diagram import PDPlotter

    ax = PDPlotter(pd, backend="matplotlib", show_unstable=0.2).get_plot()
    fig = ax.figure
    if title:
        ax.set_title(title)
    path = save_figure(fig, path)
    plt.close(fig)
    return path


def _projection(
    pd: Any,
    path: Path,
    metal: str,
    highlight: str | None,
    phase_formulas: Mapping[str, str],
    title: str | None,
) -> Path:
    from pymatgen.core import Composition

    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    stable = {e.composition.reduced_formula for e in pd.stable_entries}
    target = Composition(phase_formulas[highlight]).reduced_formula if highlight else None
    for entry in pd.all_entries:
        x = entry.composition.get_atomic_fraction(metal)
        y = pd.get_form_energy_per_atom(entry)
        formula = entry.composition.reduced_formula
        on_hull = formula in stable and pd.get_e_above_hull(entry) < 1e-6
        ax.plot(
            x,
            y,
            "o",
            color="tab:red" if formula == target else "tab:blue",
            mfc=None if on_hull else "white",
        )
        ax.annotate(formula, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlabel(f"atom fraction of {metal}")
    ax.set_ylabel("formation energy (eV/atom)")
    ax.set_title(
        title or f"{'-'.join(sorted(el.symbol for el in pd.elements))} (filled: on the hull)"
    )
    return save_figure(fig, path)
