"""MD trajectories as the diffusion analysis takes them: read from files, written to files.

`read_trajectory` reads extxyz, ASE ``.traj`` or VASP XDATCAR files (what
``ssbflow diffusion-analyze`` is given); `write_trajectory` writes a trajectory of the
diffusion flow (`ssbflow.workflows.diffusion.MDTrajectory`, in the ``data`` store) as
extxyz with each frame's ``time_fs``, which `read_trajectory` reads back unchanged.
`SampledTrajectory` is one temperature's trajectory in the arrays the analysis uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssbflow.errors import InputError


@dataclass(frozen=True)
class SampledTrajectory:
    """One temperature's trajectory, sampled at a constant interval.

    Parameters
    ----------
    positions_A
        Cartesian positions (Å), unwrapped or wrapped, shape (n_frames, n_atoms, 3).
    cells_A
        Cell vectors as rows (Å), shape (3, 3) or (n_frames, 3, 3).
    symbols
        Element of each atom, length n_atoms.
    frame_interval_ps
        Time between frames (ps).
    temperature_K
        Temperature of the run (K).
    run_duration_ps
        Length of the run (ps) as its MD recorded it; ``None``: from the frames.
    """

    positions_A: np.ndarray
    cells_A: np.ndarray
    symbols: list[str]
    frame_interval_ps: float
    temperature_K: float
    run_duration_ps: float | None = None

    @property
    def duration_ps(self) -> float:
        """Time from the first to the last frame (ps)."""
        if self.run_duration_ps is not None:
            return self.run_duration_ps
        return (len(self.positions_A) - 1) * self.frame_interval_ps


def read_trajectory(path: Path, timestep_fs: float | None) -> tuple[dict[str, Any], float]:
    """Read extxyz, ASE .traj or VASP XDATCAR; returns (arrays, frame interval in ps).

    For extxyz with a ``time_fs`` value in each frame's info, the interval comes from it;
    otherwise ``timestep_fs`` is the time between frames.

    Returns
    -------
    arrays
        ``positions_A`` (n_frames, n_atoms, 3), ``cells_A`` (n_frames, 3, 3) and
        ``symbols`` (n_atoms).
    interval_ps
        Time between frames (ps).
    """
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise InputError(f"trajectory file {path} does not exist")
    name = path.name.lower()
    fmt = None
    if "xdatcar" in name:
        fmt = "vasp-xdatcar"
    elif name.endswith((".xyz", ".extxyz")):
        fmt = "extxyz"
    try:
        frames = read(str(path), index=":", format=fmt)
    except Exception as exc:
        raise InputError(
            f"cannot read {path} as a trajectory ({exc}); give extxyz, ASE .traj or XDATCAR"
        ) from exc
    if not isinstance(frames, list):
        frames = [frames]
    if len(frames) < 2:
        raise InputError(
            f"{path} has a single frame; an MSD needs an MD trajectory with many frames"
        )
    n_atoms = {len(f) for f in frames}
    if len(n_atoms) != 1:
        raise InputError(f"{path}: the number of atoms changes between frames")
    symbols = frames[0].get_chemical_symbols()
    if any(f.get_chemical_symbols() != symbols for f in frames):
        raise InputError(f"{path}: the atom order or species change between frames")
    times = [f.info.get("time_fs") for f in frames]
    if all(t is not None for t in times):
        steps = np.diff(np.asarray(times, dtype=float))
        if np.any(steps <= 0) or np.ptp(steps) > 1e-6 * max(abs(steps.mean()), 1e-12):
            raise InputError(
                f"{path}: the time_fs values are not evenly spaced and increasing; "
                "resample the trajectory at a constant interval"
            )
        interval_ps = float(steps.mean()) / 1000.0
    elif timestep_fs is None:
        raise InputError(
            f"{path} has no per-frame time_fs; give the time between frames with timestep_fs",
            field="timestep_fs",
        )
    else:
        interval_ps = timestep_fs / 1000.0
    arrays = {
        "positions_A": np.array([f.get_positions() for f in frames]),
        "cells_A": np.array([f.cell[:] for f in frames]),
        "symbols": symbols,
    }
    return arrays, interval_ps


def load_trajectory(
    path: Path, temperature_K: float, timestep_fs: float | None = None
) -> SampledTrajectory:
    """`read_trajectory` of ``path`` as the `SampledTrajectory` at ``temperature_K``."""
    arrays, interval_ps = read_trajectory(Path(path), timestep_fs)
    return SampledTrajectory(
        positions_A=arrays["positions_A"],
        cells_A=arrays["cells_A"],
        symbols=list(arrays["symbols"]),
        frame_interval_ps=interval_ps,
        temperature_K=float(temperature_K),
    )


def write_trajectory(trajectory: Any, path: Path) -> Path:
    """Write a flow's trajectory (`MDTrajectory` or its dict) as extxyz with ``time_fs``.

    The positions are written as stored (unwrapped, as integrated), to 1e-8 Å (extxyz's
    format), so the file gives the MSD of the stored trajectory; `read_trajectory` reads
    it back.
    """
    from ase import Atoms
    from ase.io import write

    get = trajectory.get if isinstance(trajectory, dict) else trajectory.__getattribute__
    symbols = list(get("symbols"))
    cell = np.asarray(get("cell_A"), dtype=float)
    frames = []
    for positions, time_fs in zip(get("positions_A"), get("time_fs"), strict=True):
        atoms = Atoms(symbols, positions=np.asarray(positions, dtype=float), cell=cell, pbc=True)
        atoms.info["time_fs"] = float(time_fs)
        frames.append(atoms)
    path = Path(path)
    write(str(path), frames, format="extxyz")
    return path
