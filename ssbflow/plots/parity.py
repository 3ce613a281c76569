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
