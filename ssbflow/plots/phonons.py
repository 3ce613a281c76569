"""Phonon DOS plot: total and species-projected DOS with the Debye-model curves overlaid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ssbflow.analysis.phonons import debye_dos
from ssbflow.plots import save_figure


def plot_phonon_dos(
    frequencies_THz: Sequence[float],
    total_dos: Sequence[float],
    projected_dos: Mapping[str, Sequence[float]],
    n_atoms_primitive: int,
    debye_frequencies_THz: Mapping[str, float | None],
    path: Path,
    title: str | None = None,
    mobile_species: Sequence[str] = (),
    band_center_THz: float | None = None,
) -> Path:
    """Write a PNG of the phonon DOS with Debye-model curves ``9 N nu^2 / nu_D^3``.

    Parameters
    ----------
    frequencies_THz, total_dos
        Shape ``(n_freq,)``: grid (THz) and total DOS (modes/THz per primitive cell).
    projected_dos
        ``{species: (n_freq,) array}``, modes/THz per cell.
    n_atoms_primitive
        ``N``; the Debye curves integrate to ``3N`` modes.
    debye_frequencies_THz
        ``{label: nu_D}``; one dashed Debye curve per entry (``None`` entries skipped).
    path
        Output PNG file.
    title
        Figure title.
    mobile_species
        Species drawn with a thicker line.
    band_center_THz
        Mobile-ion band centre, drawn as a vertical line.

    Returns
    -------
    Path
        ``path``.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    ax.plot(nu, np.asarray(total_dos), color="black", lw=1.5, label="total")
    for species, values in projected_dos.items():
        lw = 1.8 if species in mobile_species else 1.0
        ax.plot(nu, np.asarray(values), lw=lw, label=f"{species} projected")
    styles = iter(["--", ":", "-."])
    for label, nu_d in debye_frequencies_THz.items():
        if nu_d is None:
            continue
        grid = np.linspace(0.0, nu_d, 200)
        ax.plot(
            grid,
            debye_dos(grid, nu_d, 3 * n_atoms_primitive),
            ls=next(styles, "--"),
            color="grey",
            label=f"Debye, {label} ($\\nu_D$ = {nu_d:.2f} THz)",
        )
    if band_center_THz is not None:
        ax.axvline(band_center_THz, color="tab:red", lw=0.8, label="mobile-ion band centre")
    ax.axvline(0.0, color="black", lw=0.5)
    ax.set_xlabel("frequency (THz)")
    ax.set_ylabel("DOS (modes / THz / cell)")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_phonon_document(doc: Mapping, path: Path) -> Path:
    """Plot the DOS of a stored ``PhononDocument`` (dict with ``dos_data`` loaded)."""
    dos = doc.get("dos_data")
    if not dos:
        raise ValueError("the phonon document has no DOS data (was it loaded with load=True?)")
    return plot_phonon_dos(
        dos["frequencies_THz"],
        dos["total_dos"],
        dos.get("projected_dos", {}),
        dos["n_atoms_primitive"],
        {
            "moment": doc.get("debye_frequency_THz"),
            "acoustic fit": doc.get("debye_frequency_acoustic_THz"),
        },
        path,
        title=f"{doc.get('formula')} phonon DOS ({doc.get('calculator')})",
        mobile_species=doc.get("mobile_species") or (),
        band_center_THz=doc.get("mobile_ion_band_center_THz"),
    )


def plot_phonon_bands(band_data: Mapping, path: Path, title: str | None = None) -> Path:
    """Write a PNG of the phonon band structure stored in a document's ``band_data``.

    Parameters
    ----------
    band_data
        ``PhononBandData`` as a dict: per segment ``distances`` (n_points,),
        ``frequencies_THz`` (n_points, n_bands), plus ``labels`` and ``path_connections``.
    path
        Output PNG file.
    title
        Figure title.

    Returns
    -------
    Path
        ``path``.
    """
    distances = [np.asarray(d, dtype=float) for d in band_data["distances"]]
    frequencies = [np.asarray(f, dtype=float) for f in band_data["frequencies_THz"]]
    labels = list(band_data.get("labels") or [])
    connections = list(band_data.get("path_connections") or [True] * len(distances))
    # phonopy's labels: the start of every segment, plus the end of a disconnected one
    ticks = []
    for d, connected in zip(distances, connections, strict=True):
        ticks.append(float(d[0]))
        if not connected:
            ticks.append(float(d[-1]))
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for d, f in zip(distances, frequencies, strict=True):
        ax.plot(d, f, color="tab:blue", lw=1.0)
    ax.axhline(0.0, color="black", lw=0.5)
    unique_ticks = sorted(set(ticks))
    for x in unique_ticks:
        ax.axvline(x, color="grey", lw=0.5)
    if len(labels) == len(ticks):
        # a disconnected jump puts two labels on one position: join them as "A|B"
        merged: dict[float, str] = {}
        for x, label in zip(ticks, labels, strict=True):
            merged[x] = f"{merged[x]}|{label}" if x in merged else label
        ax.set_xticks(list(merged), list(merged.values()))
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylabel("frequency (THz)")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
