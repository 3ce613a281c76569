"""Adaptive diffusion studies: run length by precision, the automatic ladder, checkpoints
and resume after SIGKILL, side-by-side temperatures, and the device choice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from test_diffusion_analysis import random_walk
from test_diffusion_flow import hot_copper

from ssbflow.analysis.diffusion import (
    framework_rmsd_A,
    precision_stop_decision,
    relative_stderr,
    tracer_diffusivity,
)
from ssbflow.errors import InputError
from ssbflow.workflows.diffusion import (
    DiffusionMaker,
    DiffusionMDMaker,
    MDCheckpoint,
    fit_window_fractions,
    next_ladder_temperature,
)


def _walker_decisions(target: float, chunk_frames: int, max_frames: int, seed: int):
    """The MD job's adaptive loop, driven by an independent-walker trajectory.

    Same code path as `DiffusionMDMaker.run` after each chunk: `_analyse` of the frames so
    far (fixed fit start, every interval up to the run), then `precision_stop_decision`.
    """
    d_true = 1e-5  # cm^2/s = 0.1 Å^2/ps
    pos, cell, symbols, dt_ps = random_walk(
        d_true, seed=seed, n_frames=max_frames + 1, n_mobile=16, n_framework=8, wrap=False
    )
    maker = DiffusionMDMaker(
        temperature_K=800.0,
        sample_interval_fs=dt_ps * 1000.0,
        species="Li",
        target_precision=target,
        max_duration_ps=max_frames * dt_ps,
        fit_start_ps=1.6,
        analysis_seed=0,
    )
    history = []
    for end in range(chunk_frames, max_frames + 1, chunk_frames):
        frames = list(pos[: end + 1])
        result = maker._analyse(frames, cell, symbols)
        decision = precision_stop_decision(
            result, end * dt_ps, target, maker.max_duration_ps, hopeless_factor=3.0
        )
        history.append((end * dt_ps, decision))
        if decision.stop:
            return maker, np.asarray(frames), cell, symbols, dt_ps, history, d_true
    raise AssertionError("the loop never stopped")


def test_adaptive_loop_stops_at_the_target_on_independent_walkers():
    target = 0.1
    _, frames, cell, symbols, dt_ps, history, d_true = _walker_decisions(
        target, chunk_frames=160, max_frames=2400, seed=5
    )
    duration, last = history[-1]
    assert last.kind == "precision", last.reason
    assert last.relative_stderr <= target
    # it stopped at the first chunk that reached the target, not later ...
    assert all(d.relative_stderr is None or d.relative_stderr > target for _, d in history[:-1])
    # ... and the step of 8 ps (one chunk) changes σ/D by at most about √(t/(t+8)): it
    # stopped within that tolerance of the target, not far below it
    assert last.relative_stderr > target * np.sqrt((duration - 8.0) / duration) * 0.8
    # the precision claimed is the one the final analysis gives (same settings and seed)
    start, longest = fit_window_fractions(duration, 0.1, 0.5, 1.6)
    final = tracer_diffusivity(
        frames,
        cell,
        symbols,
        "Li",
        dt_ps,
        800.0,
        fit_start_fraction=start,
        max_interval_fraction=longest,
        seed=0,
    )
    assert relative_stderr(final) == pytest.approx(last.relative_stderr, rel=1e-12)
    # and D* agrees with the walkers' true D within 3 of its standard errors
    assert abs(final.diffusivity_cm2_per_s - d_true) < 3 * final.diffusivity_stderr_cm2_per_s
    # precision improves with the run: 1/√t scaling of the error within 40 %
    (t1, d1), (t2, d2) = history[1], history[-1]
    ratio = d2.relative_stderr / d1.relative_stderr
    assert 0.6 * np.sqrt(t1 / t2) < ratio < 1.4 * np.sqrt(t1 / t2)


def _fake(d, err, too_small=False):
    return SimpleNamespace(
        diffusivity_cm2_per_s=d,
        diffusivity_stderr_cm2_per_s=err,
        too_small=too_small,
        flag_reason="MSD rises only 1 Å²" if too_small else None,
    )


def test_stop_decision_rules_by_hand():
    # precise but the MSD rose too little: the final analysis would exclude it -> go on
    go = precision_stop_decision(_fake(1e-5, 5e-7, too_small=True), 4.0, 0.1, 20.0)
    assert not go.stop and go.kind == "continue"
    # target reached
    done = precision_stop_decision(_fake(1e-5, 9e-7), 4.0, 0.1, 20.0)
    assert done.stop and done.kind == "precision" and done.relative_stderr == pytest.approx(0.09)
    # σ/D = 0.2 at 4 ps projects to 4 (0.2/0.1)² = 16 ps: within the 20 ps ceiling
    on = precision_stop_decision(_fake(1e-5, 2e-6), 4.0, 0.1, 20.0)
    assert not on.stop and on.projected_duration_ps == pytest.approx(16.0)
    # σ/D = 0.5 at 4 ps projects to 100 ps > 3 x 20 ps: hopeless, stop now
    off = precision_stop_decision(_fake(1e-5, 5e-6), 4.0, 0.1, 20.0)
    assert off.stop and off.kind == "hopeless" and off.projected_duration_ps == pytest.approx(100)
    # ceiling reached
    end = precision_stop_decision(_fake(1e-5, 2e-6), 20.0, 0.1, 20.0)
    assert end.stop and end.kind == "max_duration" and "0.200 > 0.1" in end.reason
    # nothing analysable yet
    assert not precision_stop_decision(None, 1.0, 0.1, 20.0).stop


def test_framework_rmsd_removes_drift_by_hand():
    pos = np.zeros((3, 3, 3))
    pos[-1, 1] = [1.0, 0.0, 0.0]  # framework atom 1 moves 1 Å
    pos[-1, 2] = [3.0, 0.0, 0.0]  # framework atom 2 moves 3 Å: mean drift 2 Å removed
    # displacements about the mean: -1 and +1 Å -> RMSD 1 Å
    assert framework_rmsd_A(pos, [1, 2]) == pytest.approx(1.0)
    assert framework_rmsd_A(pos, []) is None


def test_rotating_polyanions_are_not_a_breakdown():
    """PS4-like units: S swings 1.8 Å about a fixed P (a rotor phase), P stays: the least
    mobile sublattice (P) decides, so this is not a framework breakdown; a melt moves P."""
    from ssbflow.analysis.diffusion import sublattice_rmsd_A

    symbols = ["Li", "P", "S", "S"]
    pos = np.zeros((2, 4, 3))
    pos[0, 2], pos[0, 3] = [2.0, 0, 0], [-2.0, 0, 0]
    pos[1, 2], pos[1, 3] = [0.2, 2.0, 0], [-0.2, -2.0, 0]  # S rotated by 90°
    pos[1, 0] = [5.0, 0, 0]  # Li hopped: not framework
    rmsd = sublattice_rmsd_A(pos, symbols, "Li")
    assert rmsd["P"] == pytest.approx(0.0)
    assert rmsd["S"] == pytest.approx(np.hypot(1.8, 2.0))  # by hand: |(0.2,2)-(2,0)|
    assert min(rmsd.values()) < 1.5 < max(rmsd.values())
    assert sublattice_rmsd_A(pos, ["Li"] * 4, "Li") == {}


def _ladder_maker(**kw):
    base = {
        "calculator_name": "emt",
        "auto_temperatures": True,
        "target_precision": 0.1,
        "max_duration_ps": 20.0,
        "auto_start_K": 1200.0,
        "auto_step_inv_K": 1.25e-4,
    }
    return DiffusionMaker(**{**base, **kw})


def test_next_ladder_temperature_rules_by_hand():
    maker = _ladder_maker()
    assert next_ladder_temperature([], maker) == (1200.0, "start at 1200 K")
    rung = {"temperature_K": 1200.0, "duration_ps": 4.0, "framework_rmsd_A": 0.3}
    t, why = next_ladder_temperature([{**rung, "stop_kind": "breakdown"}], maker)
    assert t == pytest.approx(1 / (1 / 1200 + 1.25e-4), abs=0.06) and "broke down" in why
    t, why = next_ladder_temperature([{**rung, "stop_kind": "max_duration"}], maker)
    assert t is None and "lower bound" in why
    # two measured rungs: Ea from them, projected duration at the next rung by hand
    kb = 8.617333262e-5
    a = {**rung, "stop_kind": "precision", "diffusivity_cm2_per_s": 1e-5, "relative_stderr": 0.1}
    t2 = 1 / (1 / 1200 + 1.25e-4)
    d2 = 1e-5 * np.exp(-0.3 / kb * (1 / t2 - 1 / 1200))  # Ea = 0.3 eV
    b = {**a, "temperature_K": round(t2, 1), "diffusivity_cm2_per_s": d2, "duration_ps": 6.0}
    t3, why = next_ladder_temperature([a, b], maker)
    t3_expected = 1 / (1 / b["temperature_K"] + 1.25e-4)
    assert t3 == pytest.approx(t3_expected, abs=0.06) and "Ea ~ 0.30 eV" in why
    # the same ladder with a 7 ps ceiling ends: about 6 ps x D2/D3 ~ 7.9 ps needed
    short = _ladder_maker(max_duration_ps=7.0)
    t4, why = next_ladder_temperature([a, b], short)
    assert t4 is None and "lower bound set by the budget" in why
    need = 6.0 * np.exp(0.3 / kb * (1 / t3_expected - 1 / b["temperature_K"]))
    assert f"{need:.3g} ps" in why


def _cu3au() -> Structure:
    """Cu3Au (L1_2, 32 atoms) expanded 5 % and rattled 0.3 Å: under EMT its Au framework
    melts within a ps at 4000 K and stays solid at 1000 K (seeded rattle)."""
    s = Structure(
        Lattice.cubic(3.75 * 1.05),
        ["Au", "Cu", "Cu", "Cu"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    s.make_supercell([2, 2, 2])
    s.perturb(0.3, min_distance=0.1, seed=0)
    return s


def _run_summary(flow, settings) -> dict:
    """Run a diffusion flow; its summary, found under the flow's summary uuid."""
    from ssbflow.execution.runner import run_flow
    from ssbflow.execution.store import load_output
    from ssbflow.workflows.diffusion import summary_uuid_of

    run_flow(flow, settings, progress=False)
    doc = load_output(settings, summary_uuid_of(flow))
    assert doc is not None and doc["result_type"] == "diffusion"
    return doc


def test_auto_ladder_finds_the_framework_breakdown_and_steps_down(settings, tmp_path):
    maker = _ladder_maker(
        target_precision=0.2,
        max_duration_ps=1.2,
        chunk_ps=0.4,
        fit_start_ps=0.1,
        auto_start_K=4000.0,
        auto_step_inv_K=7.5e-4,  # 4000 K -> 1000 K
        equilibration_ps=0.2,
        time_step_fs=2.0,
        supercell_min_length_A=5.0,
        relax_maker=None,
        progress_percent=None,
        checkpoint_dir=str(tmp_path / "ck"),
    )
    doc = _run_summary(maker.make(_cu3au(), "Cu"), settings)
    assert doc["ladder"] == "auto"
    assert doc["temperatures_K"] == [4000.0, 1000.0]  # hottest first, then one step down
    assert doc["stop_kinds"] == {"4000": "breakdown", "1000": "max_duration"}
    # the Au framework melted at 4000 K and not at 1000 K: Lindemann-type test at 0.3 of
    # the Au spacing (V / N_Au)^(1/3), the cubic cell edge (3.75 x 1.05 Å) in L1_2
    limit = 0.3 * 3.75 * 1.05
    assert doc["framework_rmsd_A"]["4000"] > limit > doc["framework_rmsd_A"]["1000"]
    assert "framework breakdown" in doc["excluded_temperatures"]["4000"]
    assert "(Au)" in doc["excluded_temperatures"]["4000"]
    assert doc["run_duration_ps"]["1000"] == pytest.approx(1.2)
    assert doc["run_duration_ps"]["4000"] < 1.2  # stopped early on the breakdown
    assert doc["ladder_log"][0] == "start at 4000 K"
    assert "broke down at 4000 K" in doc["ladder_log"][1]
    assert "lower bound reached" in doc["ladder_log"][2]
    # no usable temperature: the study fails and says why, never a number
    assert doc["status"] == "failed" and doc["activation_energy_eV"] is None
    assert doc["device"] == "cpu"
    assert "not applied" in doc["finite_size_correction"]


def test_auto_ladder_rung_that_raises_ends_in_a_failed_summary(settings, tmp_path, monkeypatch):
    """The second rung's MD raises: the ladder stops, the analysis still runs with the
    first rung and the failure, and the summary names the temperature and the error."""
    from ssbflow.workflows.diffusion import DiffusionMDMaker

    real_run = DiffusionMDMaker.run

    def run(self, structure):
        if self.temperature_K < 4000:
            raise RuntimeError("synthetic failure\n  on two lines")
        return real_run(self, structure)

    monkeypatch.setattr(DiffusionMDMaker, "run", run)
    maker = _ladder_maker(
        target_precision=0.2,
        max_duration_ps=1.2,
        chunk_ps=0.4,
        fit_start_ps=0.1,
        auto_start_K=4000.0,
        auto_step_inv_K=7.5e-4,  # 4000 K (breakdown) -> 1000 K (raises)
        equilibration_ps=0.2,
        time_step_fs=2.0,
        supercell_min_length_A=5.0,
        relax_maker=None,
        progress_percent=None,
    )
    doc = _run_summary(maker.make(_cu3au(), "Cu"), settings)
    assert doc["ladder"] == "auto" and doc["status"] == "failed"
    assert doc["activation_energy_eV"] is None and doc["diffusivity_cm2_per_s"] == {}
    assert "framework breakdown" in doc["excluded_temperatures"]["4000"]
    why = "MD failed: RuntimeError: synthetic failure on two lines"
    assert doc["excluded_temperatures"]["1000"] == why
    assert f"1000 K: {why}" in doc["failure_reason"]
    assert doc["ladder_log"][-1].startswith("MD at 1000 K failed (RuntimeError: synthetic")
    assert doc["temperatures_K"] == [4000.0]  # the failed rung has no run to report


_CHILD = textwrap.dedent(
    """
    import sys
    from pymatgen.core import Lattice, Structure
    from ssbflow.workflows.diffusion import DiffusionMDMaker
    s = Structure(Lattice.cubic(3.61), ["Cu"] * 4,
                  [[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]]).make_supercell([2, 2, 2])
    DiffusionMDMaker(**{kwargs}).run(s)
    """
)


def _resume_kwargs(checkpoint_dir):
    return {
        "calculator_name": "emt",
        "temperature_K": 900.0,
        "time_step_fs": 2.0,
        "sample_interval_fs": 10.0,
        "equilibration_ps": 0.1,
        "chunk_ps": 0.2,
        "duration_ps": 2.0,
        "species": "Cu",
        "seed": 3,
        "progress": False,
        "checkpoint_dir": checkpoint_dir,
    }


def test_resume_after_sigkill_gives_the_uninterrupted_trajectory(tmp_path):
    structure = Structure(
        Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    ).make_supercell([2, 2, 2])
    ck = tmp_path / "ck"
    kwargs = _resume_kwargs(str(ck))
    maker = DiffusionMDMaker(**kwargs)
    path = ck / f"md-{maker.checkpoint_key(structure)}.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.replace("{kwargs}", repr(kwargs))], env=env
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            state = MDCheckpoint(path).load() if path.is_file() else None
            if state is not None and state["meta"]["stage"] == "production":
                break
            assert child.poll() is None, "the run ended before it could be killed"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    killed_at = MDCheckpoint(path).load()["meta"]["steps_done"]
    assert 0 < killed_at < 1000  # mid-production: 2 ps = 1000 steps

    resumed = maker.run(structure)
    assert resumed.resumed_from == f"production step {killed_at}"
    uninterrupted = DiffusionMDMaker(**{**kwargs, "checkpoint_dir": None}).run(structure)
    a = np.asarray(resumed.trajectory.positions_A)
    b = np.asarray(uninterrupted.trajectory.positions_A)
    # one continuous trajectory, frame for frame the uninterrupted one: bit for bit up to
    # the checkpoint; after it EMT rebuilds its neighbour list at a different step, which
    # changes the order of the force sums (roundoff, 1e-16 relative). MD is chaotic and
    # amplifies that, but over this run it stays below 1e-9 Å, where a wrong velocity,
    # thermostat state or a repeated/missing step would differ by ~0.01-1 Å.
    assert a.shape == b.shape == (201, 32, 3)
    k = killed_at // 5 + 1  # frames saved before the kill (every 5 steps, plus frame 0)
    np.testing.assert_array_equal(a[:k], b[:k])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        resumed.final_structure.site_properties["velocities"],
        uninterrupted.final_structure.site_properties["velocities"],
        rtol=0,
        atol=1e-9,
    )
    assert resumed.stop_kind == "fixed" and resumed.duration_ps == pytest.approx(2.0)
    # a rerun of a finished run computes nothing and returns the same trajectory
    again = maker.run(structure)
    np.testing.assert_array_equal(np.asarray(again.trajectory.positions_A), a)


@pytest.mark.parametrize("thermostat", ["bussi", "nose-hoover-chain", "nve"])
def test_chunked_md_equals_unchunked(thermostat):
    common = {
        "calculator_name": "emt",
        "temperature_K": 800.0,
        "time_step_fs": 2.0,
        "sample_interval_fs": 10.0,
        "equilibration_ps": 0.1,
        "duration_ps": 0.4,
        "thermostat": thermostat,
        "species": "Cu",
        "progress": False,
    }
    s = hot_copper()
    a = DiffusionMDMaker(chunk_ps=0.1, **common).run(s)
    b = DiffusionMDMaker(chunk_ps=10.0, **common).run(s)
    np.testing.assert_array_equal(
        np.asarray(a.trajectory.positions_A), np.asarray(b.trajectory.positions_A)
    )
    assert len(a.chunks) == 4 and len(b.chunks) == 1


def test_side_by_side_temperatures_equal_one_run_each(settings):
    """Two temperatures in one job, one process each, give the trajectories of two
    separate runs with the same seeds; their trajectories go to the data store."""
    from jobflow import run_locally

    from ssbflow.execution.store import get_jobstore
    from ssbflow.workflows.diffusion import md_side_by_side

    makers = [
        DiffusionMDMaker(
            calculator_name="emt",
            temperature_K=t,
            time_step_fs=2.0,
            equilibration_ps=0.05,
            duration_ps=0.2,
            species="Cu",
            seed=i,
            progress=False,
        )
        for i, t in enumerate((3500.0, 4500.0))
    ]
    structure = hot_copper()
    side = md_side_by_side(structure, makers)
    store = get_jobstore(settings)
    run_locally(side, store=store, ensure_success=True, log=False)
    store.connect()
    try:
        docs = store.get_output(side.uuid, load=True)
        raw = store.query_one({"uuid": side.uuid}, properties=["output"])
    finally:
        store.close()
    for doc, maker in zip(docs, makers, strict=True):
        alone = maker.run(structure)
        assert doc["temperature_K"] == maker.temperature_K
        np.testing.assert_array_equal(
            np.asarray(doc["trajectory"]["positions_A"]), np.asarray(alone.trajectory.positions_A)
        )
    # the trajectories went to the data store, not inline in the job output
    assert "blob_uuid" in json.dumps(raw["output"][1]["trajectory"], default=str)


def test_device_selection_with_cuda_patched(monkeypatch):
    torch = pytest.importorskip("torch")
    from ssbflow.calculators import device_kwargs, device_of, select_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto") == "cuda" and select_device("cpu") == "cpu"
    assert device_kwargs("chgnet", {}) == {"use_device": "cuda"}
    assert device_kwargs("sevennet", {}, "cpu") == {"device": "cpu"}
    assert device_kwargs("chgnet", {"use_device": "cpu"}) == {"use_device": "cpu"}  # user wins
    assert device_kwargs("emt", {}) == {}  # no device keyword
    assert device_of("chgnet", {"use_device": "cuda"}) == "cuda" and device_of("emt", {}) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == "cpu"
    assert device_kwargs("chgnet", {}) == {"use_device": "cpu"}
    with pytest.raises(InputError, match="no GPU"):
        select_device("cuda")
    with pytest.raises(InputError, match="auto, cpu or cuda"):
        select_device("tpu")


def test_maker_refuses_bad_adaptive_settings():
    s = hot_copper()
    with pytest.raises(InputError, match="target precision"):
        DiffusionMaker(calculator_name="emt", auto_temperatures=True).make(s, "Cu")
    with pytest.raises(InputError, match="target_precision"):
        DiffusionMaker(calculator_name="emt", target_precision=1.5).make(s, "Cu")
    with pytest.raises(InputError, match="auto_min_K"):
        _ladder_maker(auto_min_K=1500.0).make(s, "Cu")
    with pytest.raises(InputError, match="chunk_ps"):
        DiffusionMaker(calculator_name="emt", chunk_ps=0.0).make(s, "Cu")


def test_cli_auto_ladder_states_why_each_temperature_stopped(run_cli, tmp_path, jobstore):
    """The 'done when' path with a cheap calculator: --temperatures auto
    --target-precision runs to an Ea with its error, one stop reason per temperature."""
    cif = tmp_path / "cu.cif"
    hot_copper().to(filename=str(cif))
    code, stdout, stderr = run_cli(
        "diffusion", str(cif), "--species", "Cu", "--calculator", "emt", "--no-relax",
        "--equilibration-ps", "0.2", "--timestep-fs", "2", "--supercell-min-length", "5",
        "--min-msd", "0.5", "--chunk-ps", "0.3", "--max-duration-ps", "1.5",
        "--auto-start", "4500", "--auto-step", "5e-5", "--auto-max-temperatures", "2",
        "--fit-start-ps", "0.1", "--output", str(tmp_path / "out"), "--json",
        "--temperatures", "auto", "--target-precision", "0.15",
    )  # fmt: skip
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["ladder"] == "auto"
    temps = data["temperatures_K"]
    assert temps[0] == 4500.0 and len(temps) == 2 and temps[1] < temps[0]
    for key in map(lambda t: f"{t:g}", temps):
        assert data["stop_kinds"][key] == "precision", data["stop_reasons"]
        assert "target precision reached" in data["stop_reasons"][key]
        # the precision the document reports is that of the final analysis, within target
        assert data["relative_stderr"][key] <= 0.15
        assert data["run_duration_ps"][key] <= 1.5
    assert data["activation_energy_eV"] is not None and data["activation_energy_stderr_eV"] > 0
    assert "2 temperatures measured" in data["ladder_log"][-1]


def test_fw_status_shows_md_progress(tmp_path):
    from ssbflow.commands.fw import _md_progress

    info = {
        "temperature_K": 800.0,
        "stage": "production",
        "ps_done": 6.0,
        "ps_max": 50.0,
        "relative_stderr": 0.142,
        "target_precision": 0.1,
        "eta_s": 720.0,
    }
    (tmp_path / "progress-800K.json").write_text(json.dumps(info))
    job = SimpleNamespace(state="RUNNING", launch_dir=str(tmp_path))
    text = _md_progress(job)
    assert text == "800 K production: 6/50 ps, σ(D*)/D* 0.142 (target 0.1), ETA 12 min"
    assert _md_progress(SimpleNamespace(state="COMPLETED", launch_dir=str(tmp_path))) is None


def test_a_longer_run_extends_the_checkpointed_trajectory(tmp_path):
    common = {
        "calculator_name": "emt",
        "temperature_K": 900.0,
        "time_step_fs": 2.0,
        "equilibration_ps": 0.05,
        "chunk_ps": 0.1,
        "species": "Cu",
        "seed": 1,
        "progress": False,
    }
    s = hot_copper()
    short = DiffusionMDMaker(duration_ps=0.2, checkpoint_dir=str(tmp_path), **common).run(s)
    longer = DiffusionMDMaker(duration_ps=0.4, checkpoint_dir=str(tmp_path), **common).run(s)
    fresh = DiffusionMDMaker(duration_ps=0.4, **common).run(s)
    a, b = np.asarray(longer.trajectory.positions_A), np.asarray(fresh.trajectory.positions_A)
    assert longer.resumed_from == "production step 100" and a.shape == (41, 32, 3)
    np.testing.assert_array_equal(a[:21], np.asarray(short.trajectory.positions_A))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)  # the same continuous trajectory
    # the same request again returns the stored run without running anything
    again = DiffusionMDMaker(duration_ps=0.4, checkpoint_dir=str(tmp_path), **common).run(s)
    assert again.n_steps == 200 and again.atom_steps_per_s != again.atom_steps_per_s  # NaN


def test_a_looser_target_is_decided_again_on_the_stored_trajectory(tmp_path):
    """A rerun with a looser target must not reuse the stricter target's verdict."""
    common = {
        "calculator_name": "emt",
        "temperature_K": 3500.0,
        "time_step_fs": 2.0,
        "equilibration_ps": 0.05,
        "chunk_ps": 0.2,
        "max_duration_ps": 0.4,
        "fit_start_ps": 0.05,
        "min_msd_increase_A2": 0.5,
        "species": "Cu",
        "seed": 2,
        "progress": False,
        "checkpoint_dir": str(tmp_path),
    }
    s = hot_copper()
    strict = DiffusionMDMaker(target_precision=1e-4, **common).run(s)
    assert strict.stop_kind in {"hopeless", "max_duration"}
    rel = strict.relative_stderr_at_stop
    assert rel is not None and rel > 1e-4
    loose = DiffusionMDMaker(target_precision=rel * 1.01, **common).run(s)
    assert loose.stop_kind == "precision", loose.stop_reason
    assert loose.n_steps == strict.n_steps  # decided on the frames already run
    assert loose.atom_steps_per_s != loose.atom_steps_per_s  # NaN: no step was run
    np.testing.assert_array_equal(
        np.asarray(loose.trajectory.positions_A), np.asarray(strict.trajectory.positions_A)
    )
    # and a target still above reach keeps the "not reached" verdict, under its own number
    tight = DiffusionMDMaker(target_precision=rel * 0.5, **common).run(s)
    assert tight.stop_kind in {"hopeless", "max_duration"}
    assert f"{rel * 0.5:g}" in tight.stop_reason
