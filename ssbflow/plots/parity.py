"""Parity plot of computed against published values (PNG; matplotlib Figure, no pyplot state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ssbflow.plots import save_figure


def plot_parity(
    labels: Sequence[str],
    published: Sequence[float],
    computed: Sequence[float],
    unit: str,
    path: Path,
    title: str,
    quantity_labels: Sequence[str] | None = None,
) -> Path:
    """Write a parity plot: computed (y) against published (x), with the y = x line.

    Parameters
    ----------
    labels
        Shape (n,): point labels (reference row ids).
    published, computed
        Shape (n,): values in ``unit``.
    unit
        Unit of both axes, e.g. "J/m^2".
    path
        PNG file to write (parent folders are created).
    title
        Figure title; should name both levels of theory.
    quantity_labels
        Shape (n,): quantity of each point, used for the marker legend.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    p = np.asarray(published, dtype=float)
    c = np.asarray(computed, dtype=float)
    if p.shape != c.shape or p.size == 0 or len(labels) != p.size:
        raise ValueError("plot_parity needs equally long, non-empty labels/published/computed")
    quantities = list(quantity_labels) if quantity_labels is not None else ["value"] * p.size
    fig = Figure(figsize=(5.2, 5.0), dpi=120)
    ax = fig.add_subplot()
    lo = float(min(p.min(), c.min()))
    hi = float(max(p.max(), c.max()))
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 0.1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--", label="y = x")
    markers = ["o", "s", "^", "D", "v"]
    for k, q in enumerate(dict.fromkeys(quantities)):
        mask = np.array([qq == q for qq in quantities])
        ax.scatter(p[mask], c[mask], marker=markers[k % len(markers)], s=36, label=q, zorder=3)
    for x, y, text in zip(p, c, labels, strict=True):
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"published ({unit})")
    ax.set_ylabel(f"computed ({unit})")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


def plot_calibration_parity(result: dict, path: Path) -> Path:
    """Parity plot of a calibration (`ssbflow.workflows.calibrate.calibrate` output).

    Predicted (y) against reference (x) for every potential (colour) and quantity
    (marker: γ metal, γ electrolyte, W_ad), with the y = x line; J/m².

    Parameters
    ----------
    result
        The calibration dict (``items``, ``potentials``, ``reference``).
    path
        PNG file to write.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    markers = {"gamma_metal": "o", "gamma_electrolyte": "s", "work_of_adhesion": "^"}
    names = {
        "gamma_metal": "γ metal",
        "gamma_electrolyte": "γ electrolyte",
        "work_of_adhesion": "W_ad",
    }
    fig = Figure(figsize=(6.0, 5.4), dpi=120)
    ax = fig.add_subplot()
    xs: list[float] = []
    ys: list[float] = []
    for k, label in enumerate(result["potentials"]):
        for q, marker in markers.items():
            pts = [
                (row["reference"]["value"], row["predicted"][label]["value"])
                for row in result["items"]
                if row["quantity"] == q
                and row["reference"]["value"] is not None
                and row["predicted"][label]["value"] is not None
            ]
            if not pts:
                continue
            x, y = np.array(pts, dtype=float).T
            xs += list(x)
            ys += list(y)
            ax.scatter(
                x,
                y,
                marker=marker,
                s=30,
                color=f"C{k}",
                alpha=0.8,
                zorder=3,
                label=f"{label}, {names[q]}",
            )
    if not xs:
        raise ValueError("no item has both a reference and a predicted value")
    lo, hi = min(xs + ys), max(xs + ys)
    pad = 0.08 * (hi - lo) if hi > lo else 0.1
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls="--")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ref = result["reference"]["label"]
    ax.set_xlabel(f"reference {ref} (J/m$^2$)")
    ax.set_ylabel("ML potential (J/m$^2$)")
    ax.set_title(f"Calibration against {ref}: rigid surfaces and interfaces", fontsize=9)
    ax.legend(fontsize=6, loc="upper left", ncol=2)
    return save_figure(fig, path)
