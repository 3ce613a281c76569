"""Equilibrium crystal shape (Wulff construction) drawn by pymatgen's `WulffShape`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def plot_wulff_shape(
    lattice_A: Sequence[Sequence[float]],
    millers: Sequence[Sequence[int]],
    surface_energies_J_per_m2: Sequence[float],
    path: Path,
    title: str | None = None,
) -> Path:
    """Write a PNG of the Wulff shape.

    Parameters
    ----------
    lattice_A
        Lattice matrix, shape (3, 3), Å (the cell the Miller indices refer to).
    millers
        Planes, shape (n, 3).
    surface_energies_J_per_m2
        γ of each plane, shape (n,), J/m².
    path
        Output PNG file.
    title
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    from pymatgen.analysis.wulff import WulffShape
    from pymatgen.core import Lattice

    shape = WulffShape(
        Lattice(np.asarray(lattice_A, dtype=float)),
        [tuple(int(v) for v in m) for m in millers],
        [float(e) for e in surface_energies_J_per_m2],
    )
    ax = shape.get_plot(bar_on=True, legend_on=True, aspect_ratio=(6, 6))
    fig = ax.get_figure()
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
