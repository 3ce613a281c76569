"""Trajectory files: what the diffusion flow writes, the reader of diffusion-analyze reads."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import write
from test_diffusion_flow import hot_copper

from ssbflow.errors import InputError
from ssbflow.workflows.diffusion import DiffusionMDMaker
from ssbflow.workflows.trajectory import load_trajectory, read_trajectory, write_trajectory


def test_the_reader_reads_what_the_flow_writes(tmp_path):
    """A production run of the flow's MD maker (EMT), written with `write_trajectory`,
    reads back with the same atoms, cell, positions (unwrapped, as integrated) and frame
    interval; the analysis of either gives the same D* within a tenth of its error."""
    from ssbflow.analysis.diffusion import tracer_diffusivity

    run = DiffusionMDMaker(
        calculator_name="emt",
        temperature_K=3000.0,
        time_step_fs=2.0,
        sample_interval_fs=10.0,
        equilibration_ps=0.0,
        duration_ps=0.4,
        species="Cu",
        progress=False,
    ).run(hot_copper())
    stored = np.asarray(run.trajectory.positions_A)
    path = write_trajectory(run.trajectory, tmp_path / "md_3000K.extxyz")
    arrays, interval_ps = read_trajectory(path, None)
    assert arrays["symbols"] == run.trajectory.symbols == ["Cu"] * 32
    assert arrays["positions_A"].shape == stored.shape == (41, 32, 3)
    # extxyz keeps 8 decimals; the atoms moved out of the cell (unwrapped) and stay so
    np.testing.assert_allclose(arrays["positions_A"], stored, rtol=0, atol=1e-7)
    assert np.abs(stored - stored[0]).max() > 0.1
    np.testing.assert_allclose(arrays["cells_A"][5], run.trajectory.cell_A, atol=1e-7)
    assert interval_ps == pytest.approx(run.sample_interval_fs / 1000.0, rel=1e-12)
    # a dict (as the store hands it back) writes the same file
    again = write_trajectory(run.trajectory.model_dump(), tmp_path / "again.extxyz")
    assert again.read_text() == path.read_text()

    loaded = load_trajectory(path, 3000.0)
    assert loaded.temperature_K == 3000.0 and loaded.duration_ps == pytest.approx(0.4)
    options = {"frame_interval_ps": 0.01, "temperature_K": 3000.0, "seed": 0}
    from_file = tracer_diffusivity(
        loaded.positions_A, loaded.cells_A, loaded.symbols, "Cu", **options
    )
    from_run = tracer_diffusivity(
        stored, run.trajectory.cell_A, run.trajectory.symbols, "Cu", **options
    )
    # 1e-8 Å of rounding moves the MCMC estimate by far less than its own error
    gap = abs(from_file.diffusivity_cm2_per_s - from_run.diffusivity_cm2_per_s)
    assert gap < 0.1 * from_run.diffusivity_stderr_cm2_per_s


def test_frames_without_time_need_the_interval(tmp_path):
    frames = [
        Atoms(
            ["Li", "S"], positions=[[0, 0, 0], [1.0 + 0.1 * k, 1, 1]], cell=np.eye(3) * 5, pbc=True
        )
        for k in range(5)
    ]
    path = tmp_path / "plain.traj"
    write(str(path), frames)
    with pytest.raises(InputError, match="give the time between frames") as info:
        read_trajectory(path, None)
    assert info.value.field == "timestep_fs" and "--" not in str(info.value)
    arrays, interval_ps = read_trajectory(path, 20.0)
    assert interval_ps == pytest.approx(0.02)
    np.testing.assert_allclose(arrays["positions_A"][4, 1], [1.4, 1, 1])
    with pytest.raises(InputError, match="does not exist"):
        read_trajectory(tmp_path / "missing.xyz", 1.0)


def test_old_reader_name_still_works(tmp_path):
    from ssbflow.commands.diffusion import read_trajectory as old

    frames = [
        Atoms(["Li"], positions=[[0.1 * k, 0, 0]], cell=np.eye(3) * 5, pbc=True) for k in range(3)
    ]
    write(str(tmp_path / "a.traj"), frames)
    with pytest.warns(DeprecationWarning, match="ssbflow.workflows.trajectory.read_trajectory"):
        arrays, interval_ps = old(tmp_path / "a.traj", 10.0)
    assert interval_ps == pytest.approx(0.01) and arrays["positions_A"].shape == (3, 1, 3)
