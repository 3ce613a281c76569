"""Figures (matplotlib, non-interactive): parity plots and other report graphics.

Every figure is a `matplotlib.figure.Figure` (object API, no pyplot state to close).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def save_figure(fig: Figure, path: Path | str) -> Path:
    """Lay out ``fig`` and write it to ``path`` (PNG, 120 dpi), creating the folder."""
    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
