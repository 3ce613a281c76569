"""End-to-end diffusion: real (EMT) MD through the flow, the CLI, and diffusion-analyze."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.io import write
from pymatgen.core import Lattice, Structure
from test_diffusion_analysis import BOX_A, d_true_cm2_per_s, random_walk

from ssbflow.commands.diffusion import JSON_KEYS
from ssbflow.workflows.diffusion import DiffusionMaker


def hot_copper() -> Structure:
    """32 Cu atoms (fcc 2x2x2) rattled and 4 % expanded, so it melts at once under EMT.

    The rattle is seeded: with velocities and thermostat noise seeded by the maker, the whole
    run is reproducible (an unseeded rattle once gave a 3-sigma Ea on CI).
    """
    s = Structure(
        Lattice.cubic(3.61 * 1.04),
        ["Cu"] * 4,
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    s.make_supercell([2, 2, 2])
    s.perturb(0.3, min_distance=0.1, seed=0)
    return s


def test_flow_end_to_end_emt(settings, jobstore, tmp_path):
    from ssbflow.execution.runner import run_flow
    from ssbflow.plots.diffusion import plot_arrhenius, plot_msd

    maker = DiffusionMaker(
        calculator_name="emt",
        temperatures_K=(3000.0, 4000.0, 5000.0),  # validation caps T at 5000 K
        duration_ps=0.6,
        equilibration_ps=0.4,
        time_step_fs=2.0,
        sample_interval_fs=10.0,
        supercell_min_length_A=5.0,
        relax_maker=None,
        min_msd_increase_A2=0.5,
        progress_percent=None,
    )
    flow = maker.make(hot_copper(), "Cu", system="liquid Cu")
    assert len(flow.jobs) == 2  # supercell + ladder: nothing computed, fan-out at run time
    run_flow(flow, settings, progress=False)

    docs = list(jobstore.query({"output.result_type": "diffusion"}))
    assert len(docs) == 1
    raw = docs[0]["output"]
    # trajectories and MSD curves are not inline in the summary
    assert "blob_uuid" in raw["msd_curves"]
    doc = jobstore.query_one({"output.result_type": "diffusion"}, load=True)["output"]
    assert doc["status"] == "successful", doc.get("failure_reason")
    assert doc["calculator"] == "emt" and doc["formula"] == "Cu" and doc["species"] == "Cu"
    assert doc["temperatures_K"] == [3000.0, 4000.0, 5000.0]
    assert "Bussi" in doc["thermostat"] and "Langevin" not in doc["thermostat"]
    d = doc["diffusivity_cm2_per_s"]
    assert set(d) == {"3000", "4000", "5000"}
    # liquid Cu (EMT) at 3000-5000 K: D ~ 1e-4 cm^2/s; a units or unwrapping error would be
    # off by orders of magnitude
    assert all(5e-5 < v < 5e-4 for v in d.values()), d
    assert all(0 < v < 0.5 * d[k] for k, v in doc["diffusivity_stderr_cm2_per_s"].items())
    assert doc["fitted_temperatures_K"] == [3000.0, 4000.0, 5000.0]
    # a liquid has a tiny Ea; only finiteness and a real error bar are meaningful here
    # (16 seeds of this run at 4000-6000 K: Ea = 0.45 +- 0.22 eV, all within 0.1-0.9 eV)
    assert abs(doc["activation_energy_eV"]) < 1.0
    assert doc["activation_energy_stderr_eV"] > 0
    # Ea and D0 are the weighted least-squares line through the document's own D(T):
    # ln D = ln D0 - Ea / (k_B T), weights 1 / (sigma_D / D), worked out here by hand
    temps = np.array([3000.0, 4000.0, 5000.0])
    d_val = np.array([d[f"{t:g}"] for t in temps])
    w = d_val / np.array([doc["diffusivity_stderr_cm2_per_s"][f"{t:g}"] for t in temps])
    x = 1.0 / (8.617333262e-5 * temps)
    slope, intercept = np.linalg.lstsq(np.vstack([x * w, w]).T, np.log(d_val) * w, rcond=None)[0]
    assert doc["activation_energy_eV"] == pytest.approx(-slope, rel=1e-6)
    assert doc["prefactor_D0_cm2_per_s"] == pytest.approx(np.exp(intercept), rel=1e-6)
    assert doc["attempt_frequency_THz"] > 0 and doc["conductivity_300K_S_per_cm"] > 0
    assert doc["arrhenius_check"]
    # the thermostat holds the target on average; 32 atoms fluctuate by ~14 % per frame and
    # 0.6 ps is a few correlation times, so allow 30 % (long runs agree to 1 %, see benchmark)
    for key, mean_t in doc["mean_temperature_K"].items():
        assert abs(mean_t - float(key)) < 0.3 * float(key)
    # jump distance defaults to the nearest Cu-Cu distance of the (rattled) input cell
    assert 1.5 < doc["jump_distance_A"] < 3.2
    assert doc["msd_curves"]["5000"]["msd_A2"][-1] > 1.0
    # one-component liquid: the total displacement is the centre of mass, pinned by
    # momentum conservation, so no collective D_J / Haven ratio, and the document says why
    assert doc["collective_diffusivity_cm2_per_s"] == {} and doc["haven_ratio_measured"] == {}
    assert sum("centre-of-mass" in w for w in doc["warnings"]) == 3

    # the production trajectory is in the data store, sampled every 10 fs
    uuid = doc["trajectory_job_uuids"]["5000"]
    md = jobstore.get_output(uuid, load=True)
    traj = md["trajectory"]
    assert len(traj["positions_A"]) == 61 and len(traj["positions_A"][0]) == 32
    assert np.allclose(np.diff(traj["time_fs"]), 10.0)
    md_raw = jobstore.query_one({"uuid": uuid}, properties=["output.trajectory"])
    assert "blob_uuid" in md_raw["output"]["trajectory"]  # a reference, not the positions

    arr = plot_arrhenius(
        d,
        doc["diffusivity_stderr_cm2_per_s"],
        tmp_path / "arrhenius.png",
        doc["activation_energy_eV"],
        doc["prefactor_D0_cm2_per_s"],
        excluded=list(doc["excluded_temperatures"]),
    )
    msd = plot_msd(doc["msd_curves"], tmp_path / "msd.png", doc["msd_fit_window_ps"])
    assert arr.stat().st_size > 5000 and msd.stat().st_size > 5000


def test_make_refuses_bad_settings():
    from ssbflow.errors import InputError

    s = hot_copper()
    with pytest.raises(InputError, match="Langevin"):
        DiffusionMaker(calculator_name="emt", thermostat="langevin").make(s, "Cu")
    with pytest.raises(InputError, match="no Li atoms"):
        DiffusionMaker(calculator_name="emt").make(s, "Li")
    with pytest.raises(InputError, match="two different temperatures"):
        DiffusionMaker(calculator_name="emt", temperatures_K=(800.0,)).make(s, "Cu")
    with pytest.raises(InputError, match="positive"):
        DiffusionMaker(calculator_name="emt", temperatures_K=(-1.0, 800.0)).make(s, "Cu")
    with pytest.raises(InputError, match="time step must be positive"):
        DiffusionMaker(calculator_name="emt", time_step_fs=0.0).make(s, "Cu")


@pytest.mark.slow
def test_cli_diffusion_json(run_cli, tmp_path, jobstore):
    cif = tmp_path / "cu.cif"
    hot_copper().to(filename=str(cif))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "diffusion", str(cif), "--species", "Cu", "--calculator", "emt", "--no-relax",
        "--duration-ps", "0.6", "--equilibration-ps", "0", "--timestep-fs", "2",
        "--supercell-min-length", "5", "--min-msd", "0.3", "--output", str(out), "--json",
        "--temperatures", "3000", "5000",
    )  # fmt: skip
    assert code == 0, stderr
    data = json.loads(stdout)
    for key in JSON_KEYS:
        assert key in data
    assert data["temperatures_K"] == [3000.0, 5000.0]
    assert set(data["diffusivity_cm2_per_s"]) == {"3000", "5000"}
    assert (out / "arrhenius.png").is_file() and (out / "msd.png").is_file()
    assert (out / "diffusion.json").is_file()
    assert jobstore.query_one({"output.result_type": "diffusion"}) is not None


def _write_walks(tmp_path, fmt: str = "extxyz"):
    from ase import Atoms

    files = []
    for i, temp in enumerate((800.0, 1000.0, 1200.0)):
        pos, cell, symbols, dt = random_walk(d_true_cm2_per_s(temp), seed=10 + i, n_frames=801)
        frames = []
        for k, p in enumerate(pos):
            atoms = Atoms(symbols, positions=p, cell=cell, pbc=True)
            atoms.info["time_fs"] = k * dt * 1000.0
            frames.append(atoms)
        path = tmp_path / f"walk_{temp:g}.{fmt}"
        write(str(path), frames, format=fmt)
        files.append(path)
    return files


def test_cli_analyze_subprocess_json(tmp_path):
    files = _write_walks(tmp_path)
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "ssbflow.cli", "diffusion-analyze", *map(str, files),
           "--species", "Li", "--temperatures", "800", "1000", "1200", "--json",
           "--output", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(JSON_KEYS) <= set(data)
    assert data["temperatures_K"] == [800.0, 1000.0, 1200.0]
    assert data["excluded_temperatures"] == {}
    assert abs(data["activation_energy_eV"] - 0.2) < 3 * data["activation_energy_stderr_eV"] + 0.02
    for key, value in data["diffusivity_cm2_per_s"].items():
        assert value == pytest.approx(d_true_cm2_per_s(float(key)), rel=0.35)
    # independent walkers: D_J = D* and a Haven ratio of 1, within their (large) errors
    assert set(data["collective_diffusivity_cm2_per_s"]) == {"800", "1000", "1200"}
    for key, h in data["haven_ratio_measured"].items():
        d_j = data["collective_diffusivity_cm2_per_s"][key]
        d_j_err = data["collective_diffusivity_stderr_cm2_per_s"][key]
        assert abs(d_j - d_true_cm2_per_s(float(key))) < 4 * d_j_err
        assert abs(h - 1.0) < 4 * data["haven_ratio_measured_stderr"][key]
    assert (out / "arrhenius.png").is_file() and (out / "msd.png").is_file()


def test_cli_analyze_ase_traj_with_timestep(run_cli, tmp_path):
    files = _write_walks(tmp_path, fmt="traj")
    code, stdout, stderr = run_cli(
        "diffusion-analyze", *files, "--species", "Li", "--temperatures", "800,1000,1200",
        "--timestep-fs", "50", "--json", "--output", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["diffusivity_cm2_per_s"]["1200"] == pytest.approx(
        d_true_cm2_per_s(1200.0), rel=0.35
    )


def _frames_file(tmp_path, name, n_frames=20, symbols=("Li", "Li", "S"), cells=None):
    from ase import Atoms

    rng = np.random.default_rng(0)
    frames = []
    for k in range(n_frames):
        cell = np.eye(3) * BOX_A if cells is None else cells[k]
        atoms = Atoms(list(symbols), positions=rng.uniform(0, 5, (len(symbols), 3)), cell=cell)
        atoms.pbc = True
        atoms.info["time_fs"] = 10.0 * k
        frames.append(atoms)
    path = tmp_path / name
    write(str(path), frames, format="extxyz")
    return str(path)


def test_cli_bad_inputs_exit_2(run_cli, tmp_path, jobstore):
    good = _frames_file(tmp_path, "good.xyz")
    good2 = _frames_file(tmp_path, "good2.xyz")
    single = _frames_file(tmp_path, "single.xyz", n_frames=1)
    cells = [np.eye(3) * BOX_A * (1.0 + 0.02 * (k == 5)) for k in range(20)]
    varying = _frames_file(tmp_path, "cells.xyz", cells=cells)
    cases = [
        (["diffusion-analyze", single, good, "--species", "Li", "--temperatures", "800 900"],
         "single frame"),
        (["diffusion-analyze", good, good2, "--species", "Na", "--temperatures", "800 900"],
         "no Na atoms"),
        (["diffusion-analyze", varying, good, "--species", "Li", "--temperatures", "800 900"],
         "cell of frame"),
        (["diffusion-analyze", good, "--species", "Li", "--temperatures", "800"],
         "two or more temperatures"),
        (["diffusion-analyze", good, good2, "--species", "Li", "--temperatures", "800 -5"],
         "must be positive"),
        (["diffusion-analyze", good, good2, "--species", "Li", "--temperatures", "800 900",
          "--timestep-fs", "0"], "must be a positive number"),
        (["diffusion", "nonexistent.cif", "--species", "Li", "--calculator", "emt",
          "--timestep-fs", "0"], "must be a positive number"),
        (["diffusion", "nonexistent.cif", "--species", "Li", "--calculator", "emt",
          "--temperatures", "800"], "two different temperatures"),
    ]  # fmt: skip
    for args, message in cases:
        code, stdout, stderr = run_cli(*args)
        assert code == 2, (args, stdout, stderr)
        assert message in stderr, (args, stderr)
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    # fewer than two usable temperatures after flagging (two near-static trajectories)
    code, _, stderr = run_cli(
        "diffusion-analyze", good, good2, "--species", "Li", "--temperatures", "800", "900",
        "--min-msd", "1e6",
    )  # fmt: skip
    assert code == 2 and "fewer than two usable temperatures" in stderr
    assert jobstore.query_one({}) is None  # nothing stored


def test_analysis_job_reports_collective_diffusivity_with_a_framework():
    """The flow's analysis job on known random walks among a framework: D*, D_J and the
    measured Haven ratio per temperature, and the Arrhenius numbers (no MD needed)."""
    from ssbflow.workflows.diffusion import (
        DiffusionDocument,
        MDRunDocument,
        MDTrajectory,
        analyze_diffusion,
    )

    runs = []
    for i, temp in enumerate((800.0, 1000.0, 1200.0)):
        pos, cell, symbols, dt_ps = random_walk(d_true_cm2_per_s(temp), seed=40 + i, n_frames=801)
        final = Structure(Lattice(cell), symbols, pos[-1], coords_are_cartesian=True)
        runs.append(
            MDRunDocument(
                temperature_K=temp, stage="production", thermostat="bussi",
                thermostat_time_fs=100.0, time_step_fs=dt_ps * 1000.0, n_steps=800,
                sample_interval_steps=1, sample_interval_fs=dt_ps * 1000.0,
                duration_ps=800 * dt_ps, n_atoms=len(symbols), formula="Li2S", wall_time_s=1.0,
                atom_steps_per_s=1.0, final_structure=final,
                trajectory=MDTrajectory(
                    symbols=symbols, positions_A=pos.tolist(), cell_A=cell.tolist(),
                    time_fs=(np.arange(801) * dt_ps * 1000.0).tolist(),
                ),
            )
        )  # fmt: skip
    supercell = Structure(Lattice(np.eye(3) * BOX_A), symbols, runs[0].trajectory.positions_A[0],
                          coords_are_cartesian=True)  # fmt: skip
    maker = DiffusionMaker(calculator_name="emt", relax_maker=None, min_msd_increase_A2=0.5)
    doc = analyze_diffusion.original(
        runs, ["a", "b", "c"], supercell, "Li", maker, "walkers", upstream_uuids=[]
    )
    assert isinstance(doc, DiffusionDocument) and doc.status == "successful"
    assert set(doc.collective_diffusivity_cm2_per_s) == {"800", "1000", "1200"}
    for key, h in doc.haven_ratio_measured.items():
        truth = d_true_cm2_per_s(float(key))
        d_j, d_j_err = (
            doc.collective_diffusivity_cm2_per_s[key],
            doc.collective_diffusivity_stderr_cm2_per_s[key],
        )
        assert abs(d_j - truth) < 4 * d_j_err
        assert h == pytest.approx(doc.diffusivity_cm2_per_s[key] / d_j)
        assert abs(h - 1.0) < 4 * doc.haven_ratio_measured_stderr[key]
    assert abs(doc.activation_energy_eV - 0.2) < 4 * doc.activation_energy_stderr_eV + 0.02
    # σ(300 K) still comes from D* with the Haven-ratio setting, which is recorded
    assert doc.haven_ratio == 1.0 and doc.conductivity_300K_S_per_cm > 0


def test_cli_analyze_human_table_shows_collective_columns(run_cli, tmp_path):
    files = _write_walks(tmp_path)
    code, stdout, stderr = run_cli(
        "diffusion-analyze", *files, "--species", "Li", "--temperatures", "800,1000,1200",
        "--output", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, stderr
    assert "D_J" in stdout and "H_R" in stdout and "Ea =" in stdout
    data = json.loads((tmp_path / "o" / "diffusion.json").read_text())
    assert set(data["haven_ratio_measured"]) == {"800", "1000", "1200"}


def test_a_plugged_in_md_maker_runs_the_ladder(settings, jobstore):
    """Any MD maker can be the flow's production (and equilibration) MD: here atomate2's
    ASE MD through `CalcMDMaker` with EMT, under names of its own. Its jobs run at each
    temperature of the ladder, its trajectories are analysed, and the flow maker and its
    sub-makers are left as they were."""
    import copy

    from ssbflow.execution.runner import run_flow
    from ssbflow.execution.store import load_output
    from ssbflow.workflows.diffusion import CalcMDMaker, summary_uuid_of

    production = CalcMDMaker(
        name="custom emt md", calculator_name="emt", time_step=2.0, n_steps=300,
        traj_interval=5, progress_percent=None,
    )  # fmt: skip
    equilibration = CalcMDMaker(
        name="custom equilibration", calculator_name="emt", time_step=2.0, n_steps=50,
        traj_interval=5, stage="equilibration", store_positions=False, progress_percent=None,
    )  # fmt: skip
    maker = DiffusionMaker(
        calculator_name="emt",
        temperatures_K=(3000.0, 5000.0),
        supercell_min_length_A=5.0,
        relax_maker=None,
        min_msd_increase_A2=0.3,
        production_md_maker=production,
        equilibration_maker=equilibration,
    )
    before = copy.deepcopy(maker)
    flow = maker.make(hot_copper(), "Cu")
    assert maker == before  # make changed nothing, sub-makers included
    run_flow(flow, settings, progress=False)
    assert maker == before and production.ensemble == before.production_md_maker.ensemble

    names = {d["name"] for d in jobstore.query({}, properties=["name"])}
    assert {"custom emt md 3000 K", "custom emt md 5000 K"} <= names
    assert {"custom equilibration 3000 K", "custom equilibration 5000 K"} <= names
    assert not any(n.startswith("md ") for n in names)  # the default MD maker did not run
    doc = load_output(settings, summary_uuid_of(flow))
    assert doc["result_type"] == "diffusion" and doc["calculator"] == "emt"
    for key, uuid in doc["trajectory_job_uuids"].items():
        (job_doc,) = jobstore.query({"uuid": uuid}, properties=["name"])
        assert job_doc["name"] == f"custom emt md {key} K"
        run = load_output(settings, uuid)
        # the plugged-in maker's own settings: 300 steps of 2 fs, a frame every 10 fs,
        # started from the equilibrated velocities at its temperature
        assert run["n_steps"] == 300 and run["sample_interval_fs"] == 10.0
        assert run["temperature_K"] == float(key)
        assert len(run["trajectory"]["positions_A"]) == 61
    assert doc["run_duration_ps"] == {"3000": 0.6, "5000": 0.6}
    assert doc["provenance"]["settings"]["md_maker"] == "CalcMDMaker (custom emt md)"
    assert "custom equilibration" in doc["thermostat"] and "Bussi" in doc["thermostat"]
    # liquid Cu (EMT): D ~ 1e-4 cm²/s, as with the default MD maker
    assert all(2e-5 < v < 1e-3 for v in doc["diffusivity_cm2_per_s"].values()), doc


def test_flow_maker_with_calculator_and_bad_md_makers():
    from ssbflow.errors import InputError
    from ssbflow.workflows.common import calculators_of
    from ssbflow.workflows.diffusion import CalcMDMaker, DiffusionMDMaker

    maker = DiffusionMaker(calculator_name="emt", relax_maker=None)
    switched = maker.with_calculator("lj", {"sigma": 2.3})
    assert calculators_of(switched) == [("lj", {"sigma": 2.3})]
    assert maker.calculator_name == "emt"  # a copy
    default_md = switched.production_maker()
    assert isinstance(default_md, DiffusionMDMaker) and default_md.calculator_name == "lj"
    plugged = DiffusionMaker(
        production_md_maker=CalcMDMaker(calculator_name="emt"), relax_maker=None
    )
    assert ("lj", {}) in calculators_of(plugged.with_calculator("lj", {}))
    assert plugged.with_calculator("lj", {}).production_md_maker.calculator_name == "lj"
    with pytest.raises(InputError, match="temperature") as info:
        DiffusionMaker(
            calculator_name="emt", production_md_maker=DiffusionMaker(), relax_maker=None
        ).make(hot_copper(), "Cu")
    assert info.value.field == "production_md_maker"
    with pytest.raises(InputError, match="automatic ladder needs a DiffusionMDMaker"):
        DiffusionMaker(
            production_md_maker=CalcMDMaker(calculator_name="emt"), relax_maker=None,
            auto_temperatures=True, target_precision=0.2,
        ).make(hot_copper(), "Cu")  # fmt: skip
    with pytest.raises(InputError, match="with species") as info:
        DiffusionMaker(calculator_name="emt", relax_maker=None).make(hot_copper(), "Li")
    assert info.value.field == "species"


def test_deprecated_md_maker_method_still_gives_one_temperature():
    maker = DiffusionMaker(calculator_name="emt", relax_maker=None)
    with pytest.warns(DeprecationWarning, match="md_maker_at"):
        one = maker.md_maker(1200.0, 7, "Cu")
    assert one.temperature_K == 1200.0 and one.calculator_name == "emt"
    assert one.name == "md 1200 K"


def test_calc_md_maker_make_does_not_mutate(settings):
    from dataclasses import replace

    from jobflow import run_locally

    from ssbflow.execution.store import get_jobstore
    from ssbflow.workflows.diffusion import CalcMDMaker

    for thermostat in ("bussi", "nose-hoover-chain"):
        maker = CalcMDMaker(
            calculator_name="emt", temperature=1500.0, time_step=2.0, n_steps=20,
            traj_interval=5, thermostat=thermostat, progress_percent=None,
        )  # fmt: skip
        before = replace(maker)
        job = maker.make(hot_copper())
        responses = run_locally(job, store=get_jobstore(settings), ensure_success=True, log=False)
        doc = responses[job.uuid][1].output
        assert doc.thermostat == thermostat and len(doc.trajectory.positions_A) == 5
        assert maker == before
        assert maker.dynamics == before.dynamics and maker.ase_md_kwargs == before.ase_md_kwargs


def test_cli_analyze_and_the_flow_analysis_agree(run_cli, tmp_path):
    """One set of trajectory files, two ways in: `diffusion-analyze` and the flow's
    analysis job (on MD documents holding the same frames) give the same numbers."""
    from ssbflow.workflows.diffusion import MDRunDocument, MDTrajectory, analyze_diffusion
    from ssbflow.workflows.trajectory import load_trajectory

    files = _write_walks(tmp_path)[:2]
    temps = (800.0, 1000.0)
    runs = []
    for path, temp in zip(files, temps, strict=True):
        traj = load_trajectory(path, temp)
        n = len(traj.positions_A)
        dt_fs = traj.frame_interval_ps * 1000.0
        final = Structure(
            Lattice(traj.cells_A[0]), traj.symbols, traj.positions_A[-1], coords_are_cartesian=True
        )
        runs.append(
            MDRunDocument(
                temperature_K=temp, stage="production", thermostat="bussi",
                thermostat_time_fs=100.0, time_step_fs=dt_fs, n_steps=n - 1,
                sample_interval_steps=1, sample_interval_fs=dt_fs, duration_ps=(n - 1) * dt_fs / 1e3,
                n_atoms=len(traj.symbols), formula="Li2S", wall_time_s=1.0, atom_steps_per_s=1.0,
                final_structure=final,
                trajectory=MDTrajectory(
                    symbols=traj.symbols, positions_A=traj.positions_A.tolist(),
                    cell_A=traj.cells_A[0].tolist(), time_fs=(np.arange(n) * dt_fs).tolist(),
                ),
            )
        )  # fmt: skip
    first = load_trajectory(files[0], temps[0])
    supercell = Structure(
        Lattice(first.cells_A[0]), first.symbols, first.positions_A[0], coords_are_cartesian=True
    )
    maker = DiffusionMaker(calculator_name="emt", relax_maker=None, min_msd_increase_A2=0.5)
    flow_doc = analyze_diffusion.original(
        runs, ["a", "b"], supercell, "Li", maker.study_settings(), "walkers", upstream_uuids=[]
    ).model_dump()
    code, stdout, stderr = run_cli(
        "diffusion-analyze", *files, "--species", "Li", "--temperatures", "800 1000",
        "--min-msd", "0.5", "--json", "--output", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, stderr
    cli_doc = json.loads(stdout)
    assert flow_doc["status"] == cli_doc["status"] == "successful"
    for key in (
        "diffusivity_cm2_per_s", "diffusivity_stderr_cm2_per_s",
        "collective_diffusivity_cm2_per_s", "haven_ratio_measured",
    ):  # fmt: skip
        assert flow_doc[key] == cli_doc[key], key  # the same numbers, to the last bit
    for key in ("activation_energy_eV", "prefactor_D0_cm2_per_s", "conductivity_300K_S_per_cm"):
        assert flow_doc[key] == pytest.approx(cli_doc[key], rel=1e-12), key
    # the jump distance: from the supercell (flow) or the first frame (CLI), the same atoms
    assert flow_doc["jump_distance_A"] == pytest.approx(cli_doc["jump_distance_A"], rel=1e-9)
    assert flow_doc["attempt_frequency_THz"] == pytest.approx(
        cli_doc["attempt_frequency_THz"], rel=1e-9
    )
    for key, value in flow_doc["diffusivity_cm2_per_s"].items():  # the walkers' own D
        assert value == pytest.approx(d_true_cm2_per_s(float(key)), rel=0.35)
