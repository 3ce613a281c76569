"""Ion diffusion: MD on a temperature ladder → tracer D(T) → Arrhenius Ea, σ(300 K), ν0.

Flow (`DiffusionMaker.make(structure, species)`)::

    relax (optional, CalcRelaxMaker) → supercell → ladder ──(run-time fan-out)──┐
        per temperature: one MD job (NVT equilibration + production, chunked)    │
        analysis → DiffusionDocument (result_type="diffusion")  ◄───────────────┘

Explicit temperatures: the ladder job creates one MD job per temperature at run time with
``Response(replace=Flow(...))``, so FireWorks runs them in parallel; locally,
``concurrent_temperatures`` > 1 runs them side by side in one job (`md_side_by_side`, one
process per temperature, the cores split between them). Automatic ladder
(``auto_temperatures``): `auto_ladder_step` chooses one temperature at a time
(`next_ladder_temperature`); its MD job adds the next step with
``Response(addition=...)`` when it finishes, and the last step replaces itself by the
analysis.

MD (`DiffusionMDMaker`) runs ASE dynamics in chunks with the calculator chosen by
``calculator_name`` + ``calculator_kwargs`` (device resolved where the job runs). After
each chunk it checkpoints positions, momenta, thermostat state and the frames so far; a
rerun continues from the checkpoint. With a target precision, the kinisi analysis of the
trajectory so far decides after each chunk whether to go on. The thermostat leaves
transport intact: Bussi's stochastic velocity rescaling (CSVR, the default; a global
thermostat that does not damp single-particle motion), a Nosé–Hoover chain, or NVE after
NVT equilibration. Langevin is refused for production. Sampled trajectories go to the
JobStore's ``data`` store (field ``trajectory`` of each `MDRunDocument`), never into the
summary. `CalcMDMaker` (atomate2's `AseMDMaker`) remains for single MD runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase.calculators.calculator import Calculator
from atomate2.ase.md import AseMDMaker, MDEnsemble
from jobflow import Flow, Maker, OnMissing, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.arrhenius import (
    ATTEMPT_FREQUENCY_FORMULA,
    KB_EV_PER_K,
    analyze_arrhenius,
)
from ssbflow.analysis.diffusion import (
    DEFAULT_MIN_MSD_INCREASE_A2,
    MIN_FRAMES,
    CollectiveDiffusivityResult,
    DiffusivityResult,
    StopDecision,
    collective_diffusivity,
    nearest_neighbour_distance_A,
    precision_stop_decision,
    relative_stderr,
    sublattice_rmsd_A,
    tracer_diffusivity,
)
from ssbflow.analysis.diffusion import (
    haven_ratio as haven_ratio_of,
)
from ssbflow.calculators import check_calculator, get_calculator
from ssbflow.errors import InputError
from ssbflow.schemas import Provenance, ResultDocument
from ssbflow.workflows.calc import CalcRelaxMaker

Thermostat = Literal["bussi", "nose-hoover-chain", "nve"]

THERMOSTAT_DESCRIPTIONS = {
    "bussi": "NVT, Bussi stochastic velocity rescaling (CSVR), tau = {tau:g} fs",
    "nose-hoover-chain": "NVT, Nosé–Hoover chain (3 thermostats), tau = {tau:g} fs",
    "nve": "NVE (velocity Verlet) after NVT equilibration",
}


def temperature_key(temperature_K: float) -> str:
    """Mapping key of a temperature: '600', '812.5'."""
    return f"{float(temperature_K):g}"


# --------------------------------------------------------------------------- MD job


def _dynamics_class(thermostat: str, label: str, progress_percent: float | None) -> type:
    """ASE dynamics class for ``thermostat`` that atomate2's schedule callback can drive.

    atomate2 calls ``set_temperature`` every step; ASE's Bussi and Nosé–Hoover-chain
    classes lack it, so it is added here. Progress lines go to stderr every
    ``progress_percent`` % of the run.
    """
    from ase import units
    from ase.md.bussi import Bussi
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.verlet import VelocityVerlet

    base = {"bussi": Bussi, "nose-hoover-chain": NoseHooverChainNVT, "nve": VelocityVerlet}[
        thermostat
    ]

    class _Dynamics(base):  # type: ignore[misc, valid-type]
        def set_temperature(self, temperature_K: float) -> None:
            if isinstance(self, Bussi):
                self.temp = temperature_K * units.kB
                self.target_kinetic_energy = 0.5 * self.temp * self.ndof
            elif isinstance(self, NoseHooverChainNVT):
                kt = temperature_K * units.kB
                if not math.isclose(kt, self._thermostat._kT, rel_tol=1e-9):
                    raise ValueError("temperature ramps are not supported with nose-hoover-chain")

        def run(self, steps: int = 50) -> bool:
            if progress_percent:
                every = max(1, int(steps * progress_percent / 100))
                self.attach(_ProgressReporter(self, label, steps), interval=every)
            return super().run(steps)

    _Dynamics.__name__ = f"{base.__name__}WithProgress"
    return _Dynamics


class _ProgressReporter:
    """Print 'label: 40% (800/2000 steps, T = 805 K)' lines on stderr."""

    def __init__(self, dyn: Any, label: str, n_steps: int) -> None:
        self.dyn = dyn
        self.label = label
        self.n_steps = n_steps

    def __call__(self) -> None:
        from ssbflow.console import stderr_console

        done = self.dyn.nsteps
        if done == 0:
            return
        temp = self.dyn.atoms.get_temperature()
        stderr_console.log(
            f"{self.label}: {100 * done / self.n_steps:.0f}% ({done}/{self.n_steps} steps, "
            f"T = {temp:.0f} K)"
        )


class ChunkLog(BaseModel):
    """What the production run knew after one chunk."""

    duration_ps: float
    relative_stderr: float | None = Field(None, description="σ(D*)/D* of the run so far")
    diffusivity_cm2_per_s: float | None = None
    framework_rmsd_A: float | None = None


class MDTrajectory(BaseModel):
    """A sampled MD trajectory (stored in the ``data`` store)."""

    symbols: list[str]
    positions_A: list[list[list[float]]] = Field(
        ..., description="Cartesian positions, unwrapped as integrated, (n_frames, n_atoms, 3)"
    )
    cell_A: list[list[float]] = Field(..., description="Constant cell, rows = vectors, (3, 3)")
    time_fs: list[float] = Field(..., description="Time of each frame (fs)")


class MDRunDocument(BaseModel):
    """Output of one MD job (equilibration or production) at one temperature."""

    temperature_K: float
    stage: str = Field(..., description="'equilibration' or 'production'")
    thermostat: str
    thermostat_time_fs: float | None
    time_step_fs: float
    n_steps: int
    sample_interval_steps: int
    sample_interval_fs: float
    duration_ps: float
    n_atoms: int
    formula: str
    mean_temperature_K: float | None = Field(None, description="Mean of sampled frames")
    wall_time_s: float
    atom_steps_per_s: float
    final_structure: Structure = Field(..., description="With 'velocities' site property")
    trajectory: MDTrajectory | None = None
    equilibration_ps: float | None = None
    stop_kind: str | None = Field(
        None, description="fixed | precision | max_duration | hopeless | breakdown"
    )
    stop_reason: str | None = Field(None, description="Why the production run stopped")
    target_precision: float | None = Field(None, description="Wanted σ(D*)/D*")
    max_duration_ps: float | None = None
    relative_stderr_at_stop: float | None = Field(
        None, description="σ(D*)/D* of the in-run analysis that made the last decision"
    )
    diffusivity_at_stop_cm2_per_s: float | None = None
    framework_rmsd_A: float | None = Field(
        None,
        description="RMSD of the least mobile non-mobile element, last frame vs first "
        "(framework drift removed), Å",
    )
    framework_rmsd_ratio: float | None = Field(
        None, description="framework_rmsd_A / that element's mean spacing (V/N)^(1/3)"
    )
    chunks: list[ChunkLog] = Field(default_factory=list)
    device: str | None = None
    resumed_from: str | None = Field(None, description="Checkpoint this run continued from")
    checkpoint_file: str | None = None

    def ladder_summary(self) -> dict[str, Any]:
        """The few numbers the automatic ladder decides on (kept out of job arguments'
        trajectories)."""
        return {
            "temperature_K": self.temperature_K,
            "stop_kind": self.stop_kind,
            "stop_reason": self.stop_reason,
            "duration_ps": self.duration_ps,
            "relative_stderr": self.relative_stderr_at_stop,
            "diffusivity_cm2_per_s": self.diffusivity_at_stop_cm2_per_s,
            "framework_rmsd_A": self.framework_rmsd_A,
        }


class MDFailure(BaseModel):
    """Output of an MD run that raised (side by side, or a rung of the automatic ladder):
    the analysis excludes its temperature with this reason."""

    temperature_K: float
    status: str = "failed"
    failure_reason: str = Field(..., description="One line: the exception type and message")

    def ladder_summary(self) -> dict[str, Any]:
        """`MDRunDocument.ladder_summary` of a rung that failed (ends the ladder)."""
        return {
            "temperature_K": self.temperature_K,
            "stop_kind": "failed",
            "stop_reason": self.failure_reason,
            "duration_ps": 0.0,
            "relative_stderr": None,
            "diffusivity_cm2_per_s": None,
            "framework_rmsd_A": None,
        }


def one_line_error(exc: BaseException) -> str:
    """'RuntimeError: message' on one line (at most 400 characters)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:400]


@dataclass
class CalcMDMaker(AseMDMaker):
    """Molecular dynamics through atomate2's ASE MD maker with a named calculator.

    Parameters
    ----------
    name
        Job name.
    calculator_name, calculator_kwargs
        Calculator (see `ssbflow.calculators`).
    temperature
        Target temperature (K).
    time_step
        Time step (fs).
    n_steps
        Number of MD steps.
    traj_interval
        Sample every this many steps.
    thermostat
        "bussi" (CSVR), "nose-hoover-chain" or "nve".
    thermostat_time_fs
        Coupling time of the thermostat (fs).
    stage
        "equilibration" or "production" (labels the output).
    store_positions
        Put the sampled trajectory into the output (``data`` store).
    progress_percent
        Print a progress line every this many percent of the run (``None``: silent).
    mb_velocity_seed
        Seed of the Maxwell–Boltzmann initial velocities (when the input structure has no
        ``velocities`` site property).
    """

    name: str = "md"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    temperature: float = 300.0
    time_step: float | None = 1.0
    n_steps: int = 1000
    traj_interval: int = 10
    thermostat: str = "bussi"
    thermostat_time_fs: float = 100.0
    stage: str = "production"
    store_positions: bool = True
    progress_percent: float | None = 10.0
    mb_velocity_seed: int | None = 0
    zero_linear_momentum: bool = True

    def _get_calculator(self) -> Calculator:
        return get_calculator(self.calculator_name, self.calculator_kwargs)

    @job(data=["trajectory"])
    def make(self, structure: Structure, prev_dir: str | Path | None = None) -> MDRunDocument:
        """Run MD on ``structure``; returns an `MDRunDocument`."""
        if self.thermostat not in THERMOSTAT_DESCRIPTIONS:
            raise InputError(
                f"unknown thermostat '{self.thermostat}'; use one of "
                f"{', '.join(THERMOSTAT_DESCRIPTIONS)}"
            )
        if self.n_steps % self.traj_interval:
            raise InputError(
                f"n_steps={self.n_steps} must be a multiple of traj_interval={self.traj_interval}"
            )
        self.ensemble = MDEnsemble.nve if self.thermostat == "nve" else MDEnsemble.nvt
        label = f"{self.stage} MD {self.temperature:g} K"
        self.dynamics = _dynamics_class(self.thermostat, label, self.progress_percent)
        kwargs: dict[str, Any] = {}
        if self.thermostat == "bussi":
            from ase import units

            kwargs = {
                "taut": self.thermostat_time_fs * units.fs,
                "rng": np.random.default_rng(self.mb_velocity_seed),
            }
        elif self.thermostat == "nose-hoover-chain":
            from ase import units

            kwargs = {"tdamp": self.thermostat_time_fs * units.fs}
        self.ase_md_kwargs = kwargs
        if self.thermostat == "nve" and "velocities" not in structure.site_properties:
            raise InputError("NVE needs initial velocities; equilibrate with NVT first")
        result = self.run_ase(structure, prev_dir=prev_dir)
        traj = result.trajectory
        lattice = np.asarray(traj.lattice, dtype=float)
        lattice = lattice if lattice.ndim == 3 else np.broadcast_to(lattice, (len(traj), 3, 3))
        frac = np.asarray(traj.coords, dtype=float)
        positions = np.einsum("fai,fij->faj", frac, lattice)
        props = traj.frame_properties or []
        temps = [p["temperature"] for p in props if "temperature" in p]
        final = result.final_mol_or_struct.copy()
        if props and "velocities" in props[-1]:
            final.add_site_property("velocities", np.asarray(props[-1]["velocities"]).tolist())
        n_atoms = len(structure)
        trajectory = None
        if self.store_positions:
            trajectory = MDTrajectory(
                symbols=[site.specie.symbol for site in structure],
                positions_A=positions.tolist(),
                cell_A=lattice[0].tolist(),
                time_fs=(np.arange(len(traj)) * self.traj_interval * self.time_step).tolist(),
            )
        wall = float(result.elapsed_time or float("nan"))
        return MDRunDocument(
            temperature_K=float(self.temperature),
            stage=self.stage,
            thermostat=self.thermostat,
            thermostat_time_fs=None if self.thermostat == "nve" else self.thermostat_time_fs,
            time_step_fs=float(self.time_step),
            n_steps=self.n_steps,
            sample_interval_steps=self.traj_interval,
            sample_interval_fs=self.traj_interval * float(self.time_step),
            duration_ps=self.n_steps * float(self.time_step) / 1000.0,
            n_atoms=n_atoms,
            formula=structure.composition.reduced_formula,
            mean_temperature_K=float(np.mean(temps[1:] or temps)) if temps else None,
            wall_time_s=wall,
            atom_steps_per_s=n_atoms * self.n_steps / wall if wall > 0 else float("nan"),
            final_structure=final,
            trajectory=trajectory,
        )


# --------------------------------------------------------------------------- chunked MD


def fit_window_fractions(
    duration_ps: float,
    fit_start_fraction: float,
    max_interval_fraction: float,
    fit_start_ps: float | None,
) -> tuple[float, float]:
    """(fit_start_fraction, max_interval_fraction) for `tracer_diffusivity`.

    ``fit_start_ps`` ``None``: the window scales with the run (the given fractions).
    Otherwise the fit starts at ``fit_start_ps`` and takes every interval up to the whole
    run. kinisi counts the independent samples at interval Δt as N × Δt_max / Δt with its
    longest analysed interval Δt_max; only when Δt_max is the run length does that count
    grow with the run, so that σ(D*) falls about as 1/√t (16 random walkers, 3 seeds:
    σ(D*)/D* = 0.12-0.17, 0.09-0.12, 0.07-0.08 after 16, 32, 60 ps). With a window that
    scales with the run, the same walkers gave 0.18-0.29 at every length: the precision of
    a random walk then does not improve with its length, and running longer for precision
    would be pointless. Adaptive runs therefore use a fixed start.
    """
    if fit_start_ps is None:
        return fit_start_fraction, max_interval_fraction
    return fit_start_ps / duration_ps if duration_ps > 0 else 1.0, 1.0


#: Why an MD run stopped (`MDRunDocument.stop_kind`).
STOP_KINDS = ("fixed", "precision", "max_duration", "hopeless", "breakdown")


def _dynamics(atoms: Any, thermostat: str, temperature_K: float, dt_fs: float, tau_fs: float, rng):
    """Plain ASE dynamics object (no observers) for one stage."""
    from ase import units
    from ase.md.bussi import Bussi
    from ase.md.nose_hoover_chain import NoseHooverChainNVT
    from ase.md.verlet import VelocityVerlet

    if thermostat == "bussi":
        return Bussi(atoms, dt_fs * units.fs, temperature_K, tau_fs * units.fs, rng=rng)
    if thermostat == "nose-hoover-chain":
        return NoseHooverChainNVT(
            atoms, dt_fs * units.fs, temperature_K=temperature_K, tdamp=tau_fs * units.fs
        )
    return VelocityVerlet(atoms, dt_fs * units.fs)


def _thermostat_state(dyn: Any) -> dict[str, Any]:
    """Everything beyond positions and momenta that the next step depends on."""
    state: dict[str, Any] = {}
    rng = getattr(dyn, "rng", None)
    if rng is not None and hasattr(rng, "bit_generator"):
        state["rng"] = rng.bit_generator.state
        state["transferred_energy"] = float(dyn.transferred_energy)
    thermo = getattr(dyn, "_thermostat", None)
    if thermo is not None:
        state["eta"] = thermo._eta.tolist()
        state["p_eta"] = thermo._p_eta.tolist()
    return state


def _restore_thermostat(dyn: Any, state: dict[str, Any]) -> None:
    if "rng" in state:
        dyn.rng.bit_generator.state = state["rng"]
        dyn.transferred_energy = state["transferred_energy"]
    if "eta" in state:
        dyn._thermostat._eta = np.asarray(state["eta"], dtype=float)
        dyn._thermostat._p_eta = np.asarray(state["p_eta"], dtype=float)


class MDCheckpoint:
    """One run's checkpoint file: positions, momenta, thermostat state, frames so far.

    Written atomically (temporary file, then rename) after every chunk, so a kill leaves
    either the previous or the new checkpoint, never a torn one.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.is_file():
            return None
        with np.load(self.path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
        out["meta"] = json.loads(str(out["meta"]))
        return out

    def save(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        with tmp.open("wb") as fh:
            np.savez(fh, meta=np.asarray(json.dumps(meta)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@dataclass
class DiffusionMDMaker(Maker):
    """NVT equilibration and production MD at one temperature, in checkpointed chunks.

    The run goes chunk by chunk (``chunk_ps``). After each chunk the positions, momenta,
    thermostat state (Bussi's random-number generator, the Nosé–Hoover chain variables)
    and the frames sampled so far are written to ``checkpoint_dir``; a rerun of the same
    job (same input structure, temperature, seed and MD settings) continues from the last
    checkpoint, and the trajectory it returns is the one an uninterrupted run gives.

    Length of the production run:

    - ``target_precision`` ``None``: exactly ``duration_ps``;
    - ``target_precision`` set: after each chunk the kinisi analysis of the whole
      trajectory so far (`tracer_diffusivity`, the same settings and seed as the final
      analysis) decides: stop when σ(D*)/D* <= target and the MSD rose enough to be kept,
      or at ``max_duration_ps``, or when the projection says the target needs more than
      ``hopeless_factor`` x the ceiling.

    With ``breakdown_lindemann`` set, the run also stops when even the least mobile
    framework element (atoms that are not ``species``) has an RMSD from its start
    (`sublattice_rmsd_A`) above that fraction of its own mean spacing (V/N)^(1/3): the
    framework melted or collapsed, and its D* would describe a liquid. This is a
    Lindemann-type criterion: a solid melts when its RMS vibration reaches ~0.1-0.15 of
    the neighbour distance, and displacement from the start is √2 times that in a solid,
    while in a melt it keeps growing. The least mobile element is used so that rotating
    polyanions (S of PS4 in a rotor phase, while P stays) do not count as breakdown.

    Parameters
    ----------
    calculator_name, calculator_kwargs, device
        Calculator (`ssbflow.calculators`) and torch device ("auto": CUDA if torch sees a
        GPU on the machine that runs the job, else the CPU).
    torch_threads
        torch intra-op threads for this job (``None``: torch's default).
    temperature_K, time_step_fs, sample_interval_fs
        Target temperature (K), time step (fs), frame spacing (fs, a multiple of the step).
    equilibration_ps, equilibration_thermostat_time_fs
        Bussi NVT equilibration before production (ps; 0 skips it) and its coupling time.
    thermostat, thermostat_time_fs
        Production thermostat ("bussi", "nose-hoover-chain", "nve") and coupling time (fs).
    seed
        Seed of the initial velocities and the thermostat noise.
    chunk_ps
        Checkpoint (and decide) every this many ps.
    duration_ps, target_precision, max_duration_ps, hopeless_factor
        Run length (see above).
    species, fit_start_fraction, max_interval_fraction, min_msd_increase_A2, analysis_seed
        Mobile species and the MSD analysis used for the decision.
    breakdown_lindemann
        Framework RMSD / neighbour distance that counts as breakdown; ``None`` never stops
        on it.
    checkpoint_dir
        Folder for checkpoint files (``None``: no checkpoints, no resume).
    progress
        Print one line per chunk (ps done, σ(D*)/D*, ETA) on stderr and keep
        ``progress-<T>K.json`` in the job folder (read by ``ssbflow status``).
    """

    name: str = "diffusion md"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    device: str = "auto"
    torch_threads: int | None = None
    temperature_K: float = 800.0
    time_step_fs: float = 1.0
    sample_interval_fs: float = 10.0
    equilibration_ps: float = 2.0
    equilibration_thermostat_time_fs: float = 50.0
    thermostat: str = "bussi"
    thermostat_time_fs: float = 100.0
    seed: int = 0
    chunk_ps: float = 2.0
    duration_ps: float = 20.0
    target_precision: float | None = None
    max_duration_ps: float = 50.0
    hopeless_factor: float = 3.0
    species: str | None = None
    fit_start_fraction: float = 0.1
    max_interval_fraction: float = 0.5
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2
    analysis_seed: int = 0
    fit_start_ps: float | None = None
    breakdown_lindemann: float | None = None
    checkpoint_dir: str | None = None
    progress: bool = True

    # ---- sizes in steps
    def _interval(self) -> int:
        return max(1, round(self.sample_interval_fs / self.time_step_fs))

    def _steps(self, ps: float) -> int:
        interval = self._interval()
        return max(interval, round(ps * 1000.0 / self.time_step_fs / interval) * interval)

    def checkpoint_key(self, structure: Structure) -> str:
        """Identity of the trajectory: same key, same trajectory (run length excluded)."""
        # rounded: a relaxation rerun may differ in the last bits (thread-dependent sums),
        # which must not hide the checkpoint; the positions come from the checkpoint anyway
        ident = {
            "structure": [
                [site.species_string for site in structure],
                np.round(structure.frac_coords, 6).tolist(),
                np.round(structure.lattice.matrix, 6).tolist(),
            ],
            "calculator": [self.calculator_name, self.calculator_kwargs],
            "settings": [
                self.temperature_K,
                self.time_step_fs,
                self.sample_interval_fs,
                self.equilibration_ps,
                self.equilibration_thermostat_time_fs,
                self.thermostat,
                self.thermostat_time_fs,
                self.seed,
            ],
        }
        text = json.dumps(ident, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def _analyse(self, frames: list[np.ndarray], cell: np.ndarray, symbols: list[str]):
        """tracer_diffusivity of the frames so far (None when too short to analyse)."""
        interval_ps = self.sample_interval_fs / 1000.0
        start, longest = fit_window_fractions(
            (len(frames) - 1) * interval_ps,
            self.fit_start_fraction,
            self.max_interval_fraction,
            self.fit_start_ps,
        )
        try:
            return tracer_diffusivity(
                np.asarray(frames),
                cell,
                symbols,
                self.species,
                interval_ps,
                self.temperature_K,
                fit_start_fraction=start,
                max_interval_fraction=longest,
                min_msd_increase_A2=self.min_msd_increase_A2,
                seed=self.analysis_seed,
            )
        except InputError:
            return None

    def _redecide(
        self, frames: list[np.ndarray], cell: np.ndarray, symbols: list[str], done: int, n_max: int
    ) -> dict | None:
        """Stop state of a finished production under this maker's target, or ``None`` to run on.

        A rerun with a looser target must not inherit the verdict of the stricter one (a
        "not reached" stop may now be reached), nor run further when the frames already
        reach it.
        """
        duration = done * self.time_step_fs / 1000.0
        decision = precision_stop_decision(
            self._analyse(frames, cell, symbols),
            duration,
            float(self.target_precision),
            self.max_duration_ps,
            hopeless_factor=self.hopeless_factor,
            min_duration_for_projection_ps=min(2 * self.chunk_ps, self.max_duration_ps),
        )
        if not decision.stop and done < n_max:
            return None
        if not decision.stop:  # at the ceiling: the verdict is "not reached" under this target
            decision = precision_stop_decision(
                self._analyse(frames, cell, symbols),
                self.max_duration_ps,
                float(self.target_precision),
                self.max_duration_ps,
                hopeless_factor=self.hopeless_factor,
            )
        return {
            "kind": decision.kind,
            "reason": decision.reason,
            "n_max": n_max,
            "target": self.target_precision,
        }

    @job(data=["trajectory"])
    def make(self, structure: Structure, ladder: dict | None = None) -> Any:
        """Run (or resume) the MD; returns an `MDRunDocument`.

        ``ladder`` (set by the automatic ladder) carries the arguments of the next ladder
        step; the step is added to the flow after this run, with this run's summary. A
        rung whose MD raises returns an `MDFailure`; the next step then ends the ladder
        and runs the analysis, so the study still stores its (failed) summary with the
        reason.
        """
        if ladder is None:
            return self.run(structure)
        from jobflow import CURRENT_JOB

        try:
            doc: MDRunDocument | MDFailure = self.run(structure)
        except Exception as exc:  # the next step ends the ladder and analyses
            doc = MDFailure(
                temperature_K=float(self.temperature_K), failure_reason=one_line_error(exc)
            )

        step = auto_ladder_step(
            **{
                **ladder,
                "history": [*ladder["history"], doc.ladder_summary()],
                "production_uuids": [*ladder["production_uuids"], CURRENT_JOB.job.uuid],
            }
        )
        step.name = f"{ladder['maker'].name} ladder step {len(ladder['history']) + 2}"
        return Response(output=doc, addition=Flow([step], output=step.output))

    def run(self, structure: Structure) -> MDRunDocument:
        """The MD itself (no jobflow); see the class docstring."""
        import time

        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
        from pymatgen.io.ase import AseAtomsAdaptor

        from ssbflow.calculators import device_kwargs, device_of

        if self.thermostat not in THERMOSTAT_DESCRIPTIONS:
            raise InputError(
                f"unknown thermostat '{self.thermostat}'; use one of "
                f"{', '.join(THERMOSTAT_DESCRIPTIONS)}"
            )
        if self.target_precision is not None and self.species is None:
            raise InputError("an adaptive run (target_precision) needs the mobile species")
        if self.torch_threads:
            import torch

            torch.set_num_threads(int(self.torch_threads))
        kwargs = device_kwargs(self.calculator_name, self.calculator_kwargs, self.device)
        calc = get_calculator(self.calculator_name, kwargs)
        device = device_of(self.calculator_name, kwargs)
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calc
        symbols = atoms.get_chemical_symbols()
        cell = np.array(atoms.cell[:], dtype=float)
        # mean spacing of each framework element, (V / N_element)^(1/3) (Å): robust to a
        # rattled start, unlike the shortest pair distance
        spacing = {
            e: (structure.volume / symbols.count(e)) ** (1 / 3)
            for e in set(symbols) - {self.species}
        }
        interval = self._interval()
        n_equil = self._steps(self.equilibration_ps) if self.equilibration_ps > 0 else 0
        n_chunk = self._steps(self.chunk_ps)
        adaptive = self.target_precision is not None
        n_max = self._steps(self.max_duration_ps if adaptive else self.duration_ps)
        key = self.checkpoint_key(structure)
        ckpt = MDCheckpoint(
            Path(self.checkpoint_dir) / f"md-{key}.npz" if self.checkpoint_dir else None
        )

        saved = ckpt.load()
        if saved is not None:
            meta = saved["meta"]
            atoms.set_positions(saved["positions_A"])
            atoms.set_momenta(saved["momenta"])
            frames = list(saved["frames_A"])
            temps = list(saved["temperatures_K"])
            stage, done = meta["stage"], int(meta["steps_done"])
            chunks = [ChunkLog(**c) for c in meta["chunks"]]
            wall_before = float(meta["wall_s"])
            resumed_from = meta["stage"] + f" step {done}"
        else:
            rng = np.random.default_rng([self.seed, 0])
            MaxwellBoltzmannDistribution(atoms, temperature_K=self.temperature_K, rng=rng)
            Stationary(atoms)
            frames, temps, chunks = [], [], []
            stage, done, wall_before, resumed_from = "equilibration", 0, 0.0, None
            meta = {}
        if stage == "equilibration" and done >= n_equil:
            stage, done = "production", 0
            frames = [atoms.get_positions()]
            temps = [atoms.get_temperature()]
            meta = {}

        def save(dyn: Any, wall: float) -> None:
            ckpt.save(
                {
                    "positions_A": atoms.get_positions(),
                    "momenta": atoms.get_momenta(),
                    "frames_A": np.asarray(frames).reshape(-1, len(atoms), 3),
                    "temperatures_K": np.asarray(temps, dtype=float),
                },
                {
                    "stage": stage,
                    "steps_done": done,
                    "thermostat": _thermostat_state(dyn),
                    "chunks": [c.model_dump() for c in chunks],
                    "wall_s": wall,
                    "stop": stop_state,
                },
            )

        stop_state = meta.get("stop") if stage == "production" else None
        if stop_state is not None and stop_state["kind"] != "breakdown":
            # a finished trajectory asked for more (longer ceiling or duration, or a tighter
            # target): extend it; the same request returns it at once, and a trajectory
            # longer than asked is returned whole
            tighter = adaptive and (
                stop_state.get("target") is None or self.target_precision < stop_state["target"]
            )
            if done < n_max and (n_max > stop_state.get("n_max", 0) or tighter):
                stop_state = None
            elif adaptive and not tighter and stop_state.get("target") != self.target_precision:
                # a looser target (or a first target on a fixed-length run): decide again
                # on the trajectory already run, never reuse the old target's verdict
                stop_state = self._redecide(frames, cell, symbols, done, n_max)
        wall_run, steps_run = 0.0, 0
        label = f"{self.temperature_K:g} K"
        # ---- equilibration (Bussi), checkpointed like production
        if stage == "equilibration":
            dyn = _dynamics(
                atoms,
                "bussi",
                self.temperature_K,
                self.time_step_fs,
                self.equilibration_thermostat_time_fs,
                np.random.default_rng([self.seed, 1]),
            )
            if saved is not None:
                _restore_thermostat(dyn, meta["thermostat"])
            while done < n_equil:
                n = min(n_chunk, n_equil - done)
                start = time.perf_counter()
                dyn.run(n)
                wall_run += time.perf_counter() - start
                steps_run += n
                done += n
                save(dyn, wall_before + wall_run)
                self._report(label, "equilibration", done, n_equil, None, wall_run, steps_run)
            # the production's own thermostat state is saved after its first chunk
            stage, done = "production", 0
            frames = [atoms.get_positions()]
            temps = [atoms.get_temperature()]
            meta = {}
        # ---- production in chunks
        dyn = _dynamics(
            atoms,
            self.thermostat,
            self.temperature_K,
            self.time_step_fs,
            self.thermostat_time_fs,
            np.random.default_rng([self.seed, 2]),
        )
        if meta.get("thermostat"):
            _restore_thermostat(dyn, meta["thermostat"])
        decision = None
        while stop_state is None:
            n = max(0, min(n_chunk, n_max - done))
            start = time.perf_counter()
            for _ in range(n // interval):
                dyn.run(interval)
                frames.append(atoms.get_positions())
                temps.append(atoms.get_temperature())
            wall_run += time.perf_counter() - start
            steps_run += n
            done += n
            duration = done * self.time_step_fs / 1000.0
            by_element = sublattice_rmsd_A(np.asarray(frames), symbols, self.species)
            ratios = {e: r / spacing[e] for e, r in by_element.items()}
            stiffest = min(ratios, key=ratios.get) if ratios else None
            rmsd = by_element[stiffest] if ratios else None
            result = self._analyse(frames, cell, symbols) if adaptive else None
            chunks.append(
                ChunkLog(
                    duration_ps=duration,
                    relative_stderr=relative_stderr(result) if result is not None else None,
                    diffusivity_cm2_per_s=(
                        result.diffusivity_cm2_per_s if result is not None else None
                    ),
                    framework_rmsd_A=rmsd,
                )
            )
            if (
                self.breakdown_lindemann is not None
                and stiffest is not None
                and ratios[stiffest] > self.breakdown_lindemann
            ):
                stop_state = {
                    "kind": "breakdown",
                    "reason": f"framework breakdown: even the least mobile sublattice "
                    f"({stiffest}) moved {rmsd:.2f} Å (RMSD) in {duration:.3g} ps, "
                    f"{ratios[stiffest]:.2f} of its {spacing[stiffest]:.2f} Å mean spacing, "
                    f"above {self.breakdown_lindemann:g} (melting or collapse)",
                }
            elif adaptive:
                decision = precision_stop_decision(
                    result,
                    duration,
                    float(self.target_precision),
                    self.max_duration_ps,
                    hopeless_factor=self.hopeless_factor,
                    min_duration_for_projection_ps=min(2 * self.chunk_ps, self.max_duration_ps),
                )
                if decision.stop:
                    stop_state = {"kind": decision.kind, "reason": decision.reason}
            elif done >= n_max:
                stop_state = {"kind": "fixed", "reason": f"fixed duration {duration:g} ps run"}
            if stop_state is not None:
                stop_state.update(n_max=n_max, target=self.target_precision)
            save(dyn, wall_before + wall_run)
            self._report(
                label, "production", done, n_max, chunks[-1], wall_run, steps_run, decision
            )
        positions = np.asarray(frames)
        final_rmsd = sublattice_rmsd_A(positions, symbols, self.species)
        ratio_last = min((r / spacing[e] for e, r in final_rmsd.items()), default=None)
        duration = done * self.time_step_fs / 1000.0
        last = chunks[-1] if chunks else ChunkLog(duration_ps=duration)
        final = Structure(
            structure.lattice, structure.species, positions[-1], coords_are_cartesian=True
        )
        final.add_site_property("velocities", (atoms.get_velocities()).tolist())
        wall = wall_before + wall_run
        return MDRunDocument(
            temperature_K=float(self.temperature_K),
            stage="production",
            thermostat=self.thermostat,
            thermostat_time_fs=None if self.thermostat == "nve" else self.thermostat_time_fs,
            time_step_fs=float(self.time_step_fs),
            n_steps=done,
            sample_interval_steps=interval,
            sample_interval_fs=interval * float(self.time_step_fs),
            duration_ps=duration,
            n_atoms=len(atoms),
            formula=structure.composition.reduced_formula,
            mean_temperature_K=float(np.mean(temps[1:] or temps)),
            wall_time_s=wall,
            atom_steps_per_s=len(atoms) * steps_run / wall_run if wall_run > 0 else float("nan"),
            final_structure=final,
            trajectory=MDTrajectory(
                symbols=symbols,
                positions_A=positions.tolist(),
                cell_A=cell.tolist(),
                time_fs=(np.arange(len(frames)) * interval * self.time_step_fs).tolist(),
            ),
            equilibration_ps=n_equil * self.time_step_fs / 1000.0,
            stop_kind=stop_state["kind"],
            stop_reason=stop_state["reason"],
            target_precision=self.target_precision,
            max_duration_ps=self.max_duration_ps if adaptive else None,
            relative_stderr_at_stop=last.relative_stderr,
            diffusivity_at_stop_cm2_per_s=last.diffusivity_cm2_per_s,
            framework_rmsd_A=last.framework_rmsd_A,
            framework_rmsd_ratio=ratio_last,
            chunks=chunks,
            device=device,
            resumed_from=resumed_from,
            checkpoint_file=str(ckpt.path) if ckpt.path else None,
        )

    def _report(
        self,
        label: str,
        stage: str,
        done: int,
        total: int,
        chunk: ChunkLog | None,
        wall_s: float,
        steps: int,
        decision: StopDecision | None = None,
    ) -> None:
        """One progress line on stderr and ``progress-<T>K.json`` in the job folder."""
        import time

        if not self.progress:
            return
        from ssbflow.console import stderr_console

        dt_ps = self.time_step_fs / 1000.0
        rate = steps / wall_s if wall_s > 0 else float("nan")  # steps/s
        remaining = total - done
        if stage == "production" and decision is not None:
            if decision.stop:
                remaining = 0
            elif decision.projected_duration_ps is not None:
                remaining = min(total, self._steps(decision.projected_duration_ps)) - done
        eta_s = max(remaining, 0) / rate if rate > 0 else None
        info = {
            "temperature_K": self.temperature_K,
            "stage": stage,
            "ps_done": done * dt_ps,
            "ps_max": total * dt_ps,
            "relative_stderr": chunk.relative_stderr if chunk else None,
            "target_precision": self.target_precision,
            "eta_s": eta_s,
        }
        text = f"{stage} {label}: {info['ps_done']:.3g}/{info['ps_max']:.3g} ps"
        if info["relative_stderr"] is not None:
            text += f", σ(D*)/D* {info['relative_stderr']:.3f}"
            if self.target_precision is not None:
                text += f" (target {self.target_precision:g})"
        if eta_s is not None:
            text += f", ETA {eta_s / 60:.1f} min"
        stderr_console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}", soft_wrap=True)
        with contextlib.suppress(OSError):
            Path(f"progress-{self.temperature_K:g}K.json").write_text(json.dumps(info))


# --------------------------------------------------------------------------- flow jobs


def supercell_matrix_for(structure: Structure, min_length_A: float) -> list[int]:
    """Diagonal supercell so that every perpendicular cell width is >= ``min_length_A``."""
    matrix = structure.lattice.matrix
    volume = abs(np.linalg.det(matrix))
    scaling = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        width = volume / np.linalg.norm(np.cross(matrix[j], matrix[k]))
        scaling.append(max(1, math.ceil(min_length_A / width - 1e-9)))
    return scaling


@job
def make_supercell(structure: Structure, min_length_A: float) -> Structure:
    """Diagonal supercell with perpendicular widths of at least ``min_length_A`` Å."""
    scaling = supercell_matrix_for(structure, min_length_A)
    return structure.copy().make_supercell(scaling, in_place=False)


class DiffusionDocument(ResultDocument):
    """Diffusivity, Arrhenius activation energy, σ(300 K) and attempt frequency.

    Mappings are keyed by temperature as a string ('600', '812.5'). Trajectories are in
    the ``data`` store of the MD jobs listed in ``trajectory_job_uuids``.
    """

    result_type: str = "diffusion"
    species: str
    thermostat: str = Field(..., description="Production ensemble and thermostat")
    temperatures_K: list[float] = Field(..., description="All analysed temperatures")
    fitted_temperatures_K: list[float] = Field(default_factory=list)
    excluded_temperatures: dict[str, str] = Field(
        default_factory=dict, description="Temperature -> why it is not in the fit"
    )
    diffusivity_cm2_per_s: dict[str, float] = Field(default_factory=dict)
    diffusivity_stderr_cm2_per_s: dict[str, float] = Field(default_factory=dict)
    activation_energy_eV: float | None = None
    activation_energy_stderr_eV: float | None = None
    prefactor_D0_cm2_per_s: float | None = None
    prefactor_D0_ln_stderr: float | None = Field(None, description="Standard error of ln D0")
    activation_energy_sigmaT_eV: float | None = None
    activation_energy_sigmaT_stderr_eV: float | None = None
    prefactor_sigma0_S_K_per_cm: float | None = None
    diffusivity_300K_cm2_per_s: float | None = None
    conductivity_300K_S_per_cm: float | None = None
    conductivity_300K_stderr_S_per_cm: float | None = None
    carrier_concentration_per_cm3: float | None = None
    ion_charge: int = 1
    haven_ratio: float = Field(
        1.0, description="Haven ratio used in Nernst–Einstein (a setting, not measured)"
    )
    collective_diffusivity_cm2_per_s: dict[str, float] = Field(
        default_factory=dict,
        description="Collective (jump) diffusivity D_J per temperature, cm²/s (kinisi)",
    )
    collective_diffusivity_stderr_cm2_per_s: dict[str, float] = Field(default_factory=dict)
    haven_ratio_measured: dict[str, float] = Field(
        default_factory=dict, description="D* / D_J per temperature (dimensionless)"
    )
    haven_ratio_measured_stderr: dict[str, float] = Field(default_factory=dict)
    jump_distance_A: float | None = None
    attempt_frequency_THz: float | None = None
    attempt_frequency_stderr_THz: float | None = None
    attempt_frequency_formula: str = ATTEMPT_FREQUENCY_FORMULA
    non_arrhenius: bool | None = None
    arrhenius_check: str | None = None
    arrhenius_reduced_chi2: float | None = None
    time_step_fs: float | None = None
    duration_ps: float | None = None
    equilibration_ps: float | None = None
    sample_interval_fs: float | None = None
    n_atoms: int | None = None
    n_mobile: int | None = None
    volume_A3: float | None = None
    mean_temperature_K: dict[str, float] = Field(default_factory=dict)
    msd_fit_window_ps: dict[str, list[float]] = Field(default_factory=dict)
    msd_increase_over_fit_A2: dict[str, float] = Field(default_factory=dict)
    md_atom_steps_per_s: dict[str, float] = Field(default_factory=dict)
    trajectory_store: str = "data"
    trajectory_job_uuids: dict[str, str] = Field(
        default_factory=dict,
        description="MD job whose output holds each trajectory; 'uuid#i' is the i-th run of "
        "a side-by-side job (its output is a list)",
    )
    msd_curves: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict,
        description="Per temperature: time_ps, msd_A2, msd_stderr_A2 (in the data store)",
    )
    notes: list[str] = Field(default_factory=list)
    ladder: str = Field("explicit", description="'explicit' temperatures or 'auto' ladder")
    ladder_log: list[str] = Field(
        default_factory=list, description="Automatic ladder: each rung chosen, and why it ended"
    )
    target_precision: float | None = Field(None, description="Wanted σ(D*)/D* per temperature")
    max_duration_ps: float | None = Field(None, description="Ceiling on production per T")
    run_duration_ps: dict[str, float] = Field(
        default_factory=dict, description="Production length actually run per temperature"
    )
    relative_stderr: dict[str, float] = Field(
        default_factory=dict,
        description="Precision reached: σ(D*)/D* of the final analysis per temperature",
    )
    stop_reasons: dict[str, str] = Field(
        default_factory=dict, description="Why each production run stopped"
    )
    stop_kinds: dict[str, str] = Field(
        default_factory=dict, description="fixed | precision | max_duration | hopeless | breakdown"
    )
    framework_rmsd_A: dict[str, float] = Field(
        default_factory=dict, description="RMSD of the non-mobile atoms over the run (Å)"
    )
    total_production_ps: float | None = None
    device: str | None = Field(None, description="Device of the MD force calls (cpu, cuda)")
    resumed_from: dict[str, str] = Field(
        default_factory=dict, description="Temperatures whose MD continued from a checkpoint"
    )
    finite_size_correction: str | None = Field(
        None, description="Finite-size (Yeh–Hummer) correction: applied, or why not"
    )
    diffusivity_corrected_cm2_per_s: dict[str, float] = Field(
        default_factory=dict, description="D* corrected for the cell size (empty: not applied)"
    )


def summarize_diffusion(
    results: Sequence[DiffusivityResult],
    *,
    jump_distance_A: float,
    ion_charge: int = 1,
    haven_ratio: float = 1.0,
    raise_on_too_few: bool = True,
    collective: Sequence[CollectiveDiffusivityResult] = (),
) -> dict[str, Any]:
    """Arrhenius analysis of per-temperature results as `DiffusionDocument` fields.

    Temperatures flagged by `tracer_diffusivity` (MSD too small) are excluded with their
    reason. With fewer than two usable temperatures, raises InputError, or (with
    ``raise_on_too_few=False``) returns ``status="failed"`` and a ``failure_reason``.
    ``collective`` (from `collective_diffusivity`, any subset of the temperatures) adds
    D_J and the measured Haven ratio D*/D_J per temperature; σ(300 K) still uses D* and
    the ``haven_ratio`` setting, because D_J is much noisier.
    """
    keys = [temperature_key(r.temperature_K) for r in results]
    out: dict[str, Any] = {
        "temperatures_K": [r.temperature_K for r in results],
        "diffusivity_cm2_per_s": {
            k: r.diffusivity_cm2_per_s for k, r in zip(keys, results, strict=True)
        },
        "diffusivity_stderr_cm2_per_s": {
            k: r.diffusivity_stderr_cm2_per_s for k, r in zip(keys, results, strict=True)
        },
        "msd_fit_window_ps": {
            k: [r.fit_start_ps, r.fit_end_ps] for k, r in zip(keys, results, strict=True)
        },
        "msd_increase_over_fit_A2": {
            k: r.msd_increase_over_fit_A2 for k, r in zip(keys, results, strict=True)
        },
        "msd_curves": {
            k: {
                "time_ps": r.time_interval_ps.tolist(),
                "msd_A2": r.msd_A2.tolist(),
                "msd_stderr_A2": r.msd_stderr_A2.tolist(),
            }
            for k, r in zip(keys, results, strict=True)
        },
        "ion_charge": ion_charge,
        "haven_ratio": haven_ratio,
        "jump_distance_A": jump_distance_A,
        "n_mobile": results[0].n_mobile,
        "n_atoms": results[0].n_atoms,
        "volume_A3": float(np.mean([r.volume_A3 for r in results])),
        "warnings": [note for r in results for note in r.notes],
    }
    tracer_by_key = dict(zip(keys, results, strict=True))
    for c in collective:
        key = temperature_key(c.temperature_K)
        out.setdefault("collective_diffusivity_cm2_per_s", {})[key] = (
            c.collective_diffusivity_cm2_per_s
        )
        out.setdefault("collective_diffusivity_stderr_cm2_per_s", {})[key] = (
            c.collective_diffusivity_stderr_cm2_per_s
        )
        tracer = tracer_by_key.get(key)
        if tracer is None:
            continue
        try:
            h, h_err = haven_ratio_of(
                tracer.diffusivity_cm2_per_s,
                tracer.diffusivity_stderr_cm2_per_s,
                c.collective_diffusivity_cm2_per_s,
                c.collective_diffusivity_stderr_cm2_per_s,
            )
        except InputError as exc:
            out["warnings"].append(f"{key} K: no Haven ratio ({exc})")
            continue
        out.setdefault("haven_ratio_measured", {})[key] = h
        out.setdefault("haven_ratio_measured_stderr", {})[key] = h_err
    flags = {r.temperature_K: r.flag_reason for r in results if r.flag_reason}
    try:
        summary = analyze_arrhenius(
            [r.temperature_K for r in results],
            [r.diffusivity_cm2_per_s for r in results],
            [r.diffusivity_stderr_cm2_per_s for r in results],
            n_carriers=results[0].n_mobile,
            volume_A3=out["volume_A3"],
            jump_distance_A=jump_distance_A,
            flags=flags,
            charge_number=ion_charge,
            haven_ratio=haven_ratio,
        )
    except InputError as exc:
        if raise_on_too_few:
            raise
        out["excluded_temperatures"] = {temperature_key(t): why for t, why in flags.items()}
        out["status"] = "failed"
        out["failure_reason"] = str(exc)
        return out
    dfit, sfit = summary.diffusivity_fit, summary.conductivity_fit
    out.update(
        fitted_temperatures_K=summary.fitted_temperatures_K,
        excluded_temperatures={
            temperature_key(t): why for t, why in summary.excluded_temperatures.items()
        },
        activation_energy_eV=dfit.activation_energy_eV,
        activation_energy_stderr_eV=dfit.activation_energy_stderr_eV,
        prefactor_D0_cm2_per_s=dfit.prefactor,
        prefactor_D0_ln_stderr=dfit.ln_prefactor_stderr,
        activation_energy_sigmaT_eV=sfit.activation_energy_eV,
        activation_energy_sigmaT_stderr_eV=sfit.activation_energy_stderr_eV,
        prefactor_sigma0_S_K_per_cm=sfit.prefactor,
        diffusivity_300K_cm2_per_s=summary.diffusivity_300K_cm2_per_s,
        conductivity_300K_S_per_cm=summary.conductivity_300K_S_per_cm,
        conductivity_300K_stderr_S_per_cm=summary.conductivity_300K_stderr_S_per_cm,
        carrier_concentration_per_cm3=summary.carrier_concentration_per_cm3,
        attempt_frequency_THz=summary.attempt_frequency_THz,
        attempt_frequency_stderr_THz=summary.attempt_frequency_stderr_THz,
        non_arrhenius=summary.curvature.non_arrhenius,
        arrhenius_check=summary.curvature.message,
        arrhenius_reduced_chi2=dfit.reduced_chi2,
        notes=summary.notes,
    )
    if summary.curvature.non_arrhenius:
        out["warnings"].append(summary.curvature.message)
    return out


@job(data=["msd_curves"])
def analyze_diffusion(
    runs: list[MDRunDocument],
    run_uuids: list[str],
    supercell: Structure,
    species: str,
    maker: DiffusionMaker,
    system: str,
    upstream_uuids: list[str],
    ladder_log: list[str] | None = None,
    temperatures_K: list[float] | None = None,
) -> DiffusionDocument:
    """Tracer D at each temperature (kinisi) and the Arrhenius analysis.

    ``temperatures_K`` (the planned ladder, same order as ``runs``) names the temperature
    of an MD job that failed (its run arrives as ``None``); it is then excluded with that
    reason, and a ladder whose MD all failed gives a failed summary.

    Runs that stopped on a framework breakdown are excluded with their reason. The
    per-temperature precision reported (``relative_stderr``) is that of this analysis,
    which uses the settings and seed of the in-run decisions, so an adaptive run never
    claims a precision the final analysis does not give.
    """
    results: list[DiffusivityResult] = []
    collective: list[CollectiveDiffusivityResult] = []
    skipped_collective: list[str] = []
    errors: dict[str, str] = {}
    # MD jobs that raised arrive as None (on_missing_references=NONE): excluded, with why
    planned = list(temperatures_K) if temperatures_K else [None] * len(runs)
    runs = [MDFailure(**run) if _is_failure_dict(run) else run for run in runs]
    for run, planned_K, run_uuid in zip(runs, planned, run_uuids, strict=False):
        if run is None:
            key = temperature_key(planned_K) if planned_K is not None else f"job {run_uuid}"
            errors[key] = "the MD job failed (its error is in the run log / 'ssbflow status')"
        elif isinstance(run, MDFailure):  # raised side by side or on an automatic rung
            errors[temperature_key(run.temperature_K)] = f"MD failed: {run.failure_reason}"
    kept = [
        (run, u)
        for run, u in zip(runs, run_uuids, strict=False)
        if run is not None and not isinstance(run, MDFailure)
    ]
    run_uuids = [u for _, u in kept]
    runs = [run for run, _ in kept]
    for run in runs:
        if run.stop_kind == "breakdown":
            errors[temperature_key(run.temperature_K)] = run.stop_reason or "framework breakdown"
            continue
        traj = run.trajectory
        if traj is None:  # pragma: no cover - production always stores positions
            raise ValueError(f"production run at {run.temperature_K} K stored no trajectory")
        args = (np.asarray(traj.positions_A), np.asarray(traj.cell_A), traj.symbols, species)
        start, longest = fit_window_fractions(
            (len(traj.positions_A) - 1) * run.sample_interval_fs / 1000.0,
            maker.fit_start_fraction,
            maker.max_interval_fraction,
            maker.fit_start_ps if maker.target_precision is not None else None,
        )
        options = {
            "frame_interval_ps": run.sample_interval_fs / 1000.0,
            "temperature_K": run.temperature_K,
            "fit_start_fraction": start,
            "max_interval_fraction": longest,
            "seed": maker.seed,
        }
        try:
            results.append(
                tracer_diffusivity(*args, min_msd_increase_A2=maker.min_msd_increase_A2, **options)
            )
        except InputError as exc:
            errors[temperature_key(run.temperature_K)] = f"analysis failed: {exc}"
            continue
        if maker.collective:
            try:
                collective.append(collective_diffusivity(*args, **options))
            except InputError as exc:
                skipped_collective.append(f"{temperature_key(run.temperature_K)} K: {exc}")
    structure = supercell
    jump = maker.jump_distance_A
    if jump is None:
        jump = nearest_neighbour_distance_A(
            structure.cart_coords,
            structure.lattice.matrix,
            [i for i, site in enumerate(structure) if site.specie.symbol == species],
        )
    common: dict[str, Any] = {
        "system": system,
        "formula": structure.composition.reduced_formula,
        "calculator": maker.calculator_name,
        "provenance": Provenance.from_calculator(
            maker.calculator_name,
            maker.calculator_kwargs,
            settings=maker.settings_dict(),
            upstream_uuids=upstream_uuids,
        ),
        "structures": {"supercell": structure},
        "species": species,
        "thermostat": maker.thermostat_description(),
        "time_step_fs": maker.time_step_fs,
        "duration_ps": maker.duration_ps,
        "equilibration_ps": maker.equilibration_ps,
        "sample_interval_fs": maker.sample_interval_fs,
        "mean_temperature_K": {
            temperature_key(r.temperature_K): r.mean_temperature_K
            for r in runs
            if r.mean_temperature_K is not None
        },
        "md_atom_steps_per_s": {temperature_key(r.temperature_K): r.atom_steps_per_s for r in runs},
        "trajectory_job_uuids": {
            temperature_key(r.temperature_K): u for r, u in zip(runs, run_uuids, strict=True)
        },
        "ladder": "auto" if maker.auto_temperatures else "explicit",
        "ladder_log": list(ladder_log or []),
        "target_precision": maker.target_precision,
        "max_duration_ps": maker.max_duration_ps if maker.target_precision else None,
        "run_duration_ps": {temperature_key(r.temperature_K): r.duration_ps for r in runs},
        "stop_reasons": {
            temperature_key(r.temperature_K): r.stop_reason for r in runs if r.stop_reason
        },
        "stop_kinds": {temperature_key(r.temperature_K): r.stop_kind for r in runs if r.stop_kind},
        "framework_rmsd_A": {
            temperature_key(r.temperature_K): r.framework_rmsd_A
            for r in runs
            if r.framework_rmsd_A is not None
        },
        "total_production_ps": float(sum(r.duration_ps for r in runs)),
        "device": ", ".join(sorted({r.device for r in runs if r.device})) or None,
        "resumed_from": {
            temperature_key(r.temperature_K): r.resumed_from for r in runs if r.resumed_from
        },
        "finite_size_correction": finite_size_note(structure),
    }
    common["relative_stderr"] = {
        temperature_key(r.temperature_K): relative_stderr(r) for r in results
    }
    if not results:
        return DiffusionDocument(
            status="failed",
            failure_reason="no temperature could be analysed: "
            + "; ".join(f"{k} K: {v}" for k, v in errors.items()),
            temperatures_K=[r.temperature_K for r in runs],
            excluded_temperatures=errors,
            **common,
        )
    fields = summarize_diffusion(
        results,
        jump_distance_A=float(jump),
        ion_charge=maker.ion_charge,
        haven_ratio=maker.haven_ratio,
        raise_on_too_few=False,
        collective=collective,
    )
    fields.setdefault("warnings", []).extend(
        f"collective diffusivity not computed at {why}" for why in skipped_collective
    )
    fields["warnings"].extend(
        f"{temperature_key(r.temperature_K)} K: the least mobile framework element moved "
        f"{r.framework_rmsd_A:.2f} Å (RMSD), {r.framework_rmsd_ratio:.2f} of its mean "
        f"spacing, above {maker.breakdown_lindemann:g}: it may have melted or collapsed"
        for r in runs
        if r.stop_kind != "breakdown"
        and r.framework_rmsd_ratio is not None
        and r.framework_rmsd_ratio > maker.breakdown_lindemann
    )
    if errors:
        fields["excluded_temperatures"] = {**fields.get("excluded_temperatures", {}), **errors}
        fields["temperatures_K"] = [r.temperature_K for r in runs]
        if fields.get("status") == "failed":
            fields["failure_reason"] += "; " + "; ".join(f"{k} K: {v}" for k, v in errors.items())
    return DiffusionDocument(**common, **fields)


def _is_failure_dict(run: Any) -> bool:
    """An `MDFailure` that arrived as a plain dict (deserialised without its class)."""
    return isinstance(run, dict) and run.get("status") == "failed" and "failure_reason" in run


def finite_size_note(supercell: Structure) -> str:
    """Why the Yeh–Hummer finite-size correction is not applied to D* (one cell size)."""
    length = supercell.volume ** (1 / 3)
    return (
        "not applied: the Yeh-Hummer correction D_inf = D_PBC + xi k_B T / (6 pi eta L) "
        "needs the shear viscosity eta, or D* in two or more cell sizes (kinisi's YehHummer "
        f"fits D* against L); this study ran one cell (V^(1/3) = {length:.3g} Å) and does not "
        "compute eta. The correction is hydrodynamic (a fluid around the diffusing particle); "
        "for ions hopping through a rigid framework its premise does not hold"
    )


@job
def diffusion_ladder(
    structure: Structure, species: str, maker: DiffusionMaker, system: str, upstream: list[str]
) -> Response:
    """Fan out one MD job (equilibration + production) per temperature, then the analysis.

    With ``maker.auto_temperatures`` the ladder is built rung by rung instead (see
    `auto_ladder_step`).
    """
    if maker.auto_temperatures:
        step = auto_ladder_step(structure, species, maker, system, upstream, [], [], [])
        step.name = f"{maker.name} ladder step 1"
        return Response(replace=Flow([step], output=step.output, name=f"{maker.name} ladder"))
    temps = [float(t) for t in maker.temperatures_K]
    seeds = [maker.seed + i for i in range(len(temps))]
    k = max(1, min(maker.concurrent_temperatures, len(temps)))
    if k == 1:
        jobs = [
            maker.md_job(structure, t, seed=seed, species=species)
            for t, seed in zip(temps, seeds, strict=True)
        ]
        outputs = [j.output for j in jobs]
        uuids = [j.uuid for j in jobs]
    else:
        jobs, outputs, uuids = [], [], []
        for start in range(0, len(temps), k):
            group = [
                maker.md_maker(t, seed=seed, species=species)
                for t, seed in zip(temps[start : start + k], seeds[start : start + k], strict=True)
            ]
            side = md_side_by_side(structure, group)
            side.name = "md " + ", ".join(f"{m.temperature_K:g}" for m in group) + " K side by side"
            jobs.append(side)
            outputs.extend(side.output[i] for i in range(len(group)))
            uuids.extend(f"{side.uuid}#{i}" for i in range(len(group)))
    analysis = analyze_diffusion(
        outputs, uuids, structure, species, maker, system, upstream, temperatures_K=list(temps)
    )
    analysis.name = f"{maker.name} analysis"
    # an MD job that raises arrives as None: the analysis still stores a (failed) summary
    analysis.config.on_missing_references = OnMissing.NONE
    jobs = [*jobs, analysis]
    return Response(replace=Flow(jobs, output=analysis.output, name=f"{maker.name} ladder"))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _md_worker_main(input_file: str, output_file: str) -> None:
    """Child process of `md_side_by_side`: unpickle (maker, structure), run, pickle the doc."""
    import pickle

    with open(input_file, "rb") as fh:
        maker, structure = pickle.load(fh)
    try:
        doc: MDRunDocument | MDFailure = maker.run(structure)
    except Exception as exc:  # carried back as one line, not a traceback on stderr
        doc = MDFailure(
            temperature_K=float(maker.temperature_K), failure_reason=one_line_error(exc)
        )
    with open(output_file + ".tmp", "wb") as fh:
        pickle.dump(doc, fh)
    os.replace(output_file + ".tmp", output_file)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGKILL when the job process dies (no orphaned MD)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@job(data=["trajectory"])
def md_side_by_side(
    structure: Structure, makers: list[DiffusionMDMaker]
) -> list[MDRunDocument | MDFailure]:
    """Run several temperatures' MD at once, one process each, the cores split between them.

    Each process gets ``cpu_count // len(makers)`` torch and BLAS threads (unless the maker
    sets ``torch_threads``). On 2 cores two 1-thread CHGNet runs gave more atom·steps/s
    in total than one 2-thread run (benchmarks/results/diffusion.md). Every run
    checkpoints as usual, so a killed group resumes. Output: one `MDRunDocument` per maker,
    in order; a run that raised (or whose process died) gives an `MDFailure` with the
    reason on one line instead (the analysis excludes its temperature with it), and the
    others are kept.
    """
    import pickle
    import subprocess
    import sys
    import tempfile

    threads = max(1, usable_cores() // len(makers))
    makers = [replace(m, torch_threads=m.torch_threads or threads) for m in makers]
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    env = {**os.environ, **{name: str(threads) for name in names}}
    code = (
        "import sys; from ssbflow.workflows.diffusion import _md_worker_main as m; m(*sys.argv[1:])"
    )
    with tempfile.TemporaryDirectory(prefix="md-side-by-side-", dir=".") as tmp:
        procs, outputs = [], []
        for i, maker in enumerate(makers):
            inp, out = Path(tmp) / f"in{i}.pkl", Path(tmp) / f"out{i}.pkl"
            with inp.open("wb") as fh:
                pickle.dump((maker, structure), fh)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code, str(inp), str(out)],
                    env=env,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            )
            outputs.append(out)
        codes = [p.wait() for p in procs]
        docs: list[MDRunDocument | MDFailure] = []
        for maker, rc, out in zip(makers, codes, outputs, strict=True):
            if rc or not out.is_file():  # killed, or died before it could answer
                reason = f"the MD process exited with code {rc} and returned nothing"
                docs.append(MDFailure(temperature_K=maker.temperature_K, failure_reason=reason))
                continue
            with out.open("rb") as fh:
                docs.append(pickle.load(fh))
        return docs


def next_ladder_temperature(
    history: Sequence[dict[str, Any]], maker: DiffusionMaker
) -> tuple[float | None, str]:
    """The next rung of the automatic ladder, or ``None`` and why the ladder ends.

    ``history`` holds `MDRunDocument.ladder_summary` of the rungs run so far, hottest
    first. Rules, in order:

    1. no rung yet: start at ``auto_start_K``; the last rung's MD raised: end (the
       analysis reports it);
    2. the production budget ``max_total_ps`` is spent, or ``auto_max_temperatures``
       temperatures measured: end;
    3. the last rung could not reach the target precision within ``max_duration_ps``
       (ceiling reached, or projected beyond it): the lower bound is reached, end;
    4. the next rung is 1 / (1/T + ``auto_step_inv_K``); below ``auto_min_K``: end;
    5. after a framework breakdown: step down (the structure did not survive T);
    6. with two measured rungs, D* at the next rung is extrapolated (Arrhenius through the
       last two) and the duration it needs for the target is projected,
       t_next = t_last (p_last / p_target)² D_last / D_next (the error of D* falls as
       1 / √(hops) ∝ 1 / √(D t)); beyond ``max_duration_ps`` or the remaining budget: end.
    """
    if not history:
        return maker.auto_start_K, f"start at {maker.auto_start_K:g} K"
    last = history[-1]
    t_last = float(last["temperature_K"])
    if last["stop_kind"] == "failed":
        return None, f"MD at {t_last:g} K failed ({last['stop_reason']}); the ladder stops"
    used = sum(float(h["duration_ps"]) for h in history)
    measured = [h for h in history if h["stop_kind"] == "precision"]
    if maker.max_total_ps is not None and used >= maker.max_total_ps:
        return None, f"budget spent: {used:.3g} ps of production (max {maker.max_total_ps:g} ps)"
    if len(measured) >= maker.auto_max_temperatures:
        return None, f"{len(measured)} temperatures measured (auto_max_temperatures)"
    if last["stop_kind"] in ("max_duration", "hopeless"):
        return None, (
            f"lower bound reached: at {t_last:g} K D* could not be measured to "
            f"{maker.target_precision:g} within {maker.max_duration_ps:g} ps"
        )
    t_next = 1.0 / (1.0 / t_last + maker.auto_step_inv_K)
    t_next = float(round(t_next, 1))
    if t_next < maker.auto_min_K:
        return None, f"next rung {t_next:g} K is below auto_min_K = {maker.auto_min_K:g} K"
    if last["stop_kind"] == "breakdown":
        return t_next, f"framework broke down at {t_last:g} K; stepping down to {t_next:g} K"
    why = f"D* measured at {t_last:g} K; stepping down to {t_next:g} K"
    if len(measured) >= 2:
        a, b = measured[-2], measured[-1]
        inv = [1.0 / (KB_EV_PER_K * float(h["temperature_K"])) for h in (a, b)]
        ea = math.log(a["diffusivity_cm2_per_s"] / b["diffusivity_cm2_per_s"]) / (inv[1] - inv[0])
        ea = max(ea, 0.0)
        ratio = math.exp(-ea * (1.0 / (KB_EV_PER_K * t_next) - inv[1]))  # D_next / D_last
        need = (
            float(b["duration_ps"])
            * (float(b["relative_stderr"]) / maker.target_precision) ** 2
            / ratio
        )
        budget = maker.max_duration_ps
        if maker.max_total_ps is not None:
            budget = min(budget, maker.max_total_ps - used)
        if need > budget:
            return None, (
                f"lower bound set by the budget: at {t_next:g} K D* would need about "
                f"{need:.3g} ps for {maker.target_precision:g} (Ea ~ {ea:.2f} eV from the last "
                f"two rungs), more than the {budget:.3g} ps available"
            )
        why += f" (projected {need:.3g} ps there, Ea ~ {ea:.2f} eV)"
    return t_next, why


@job
def auto_ladder_step(
    structure: Structure,
    species: str,
    maker: DiffusionMaker,
    system: str,
    upstream: list[str],
    history: list[dict[str, Any]],
    production_uuids: list[str],
    ladder_log: list[str],
) -> Response:
    """One decision of the automatic ladder: run the next rung, or analyse all rungs.

    The rung's MD job adds the next step to the flow when it finishes (with its summary in
    ``history``), so the trajectories never pass through this job's arguments.
    """
    temperature, why = next_ladder_temperature(history, maker)
    log = [*ladder_log, why]
    if temperature is None:
        from jobflow import OutputReference

        analysis = analyze_diffusion(
            [OutputReference(u) for u in production_uuids],
            list(production_uuids),
            structure,
            species,
            maker,
            system,
            upstream,
            ladder_log=log,
        )
        analysis.name = f"{maker.name} analysis"
        return Response(replace=Flow([analysis], output=analysis.output))
    ladder = {
        "structure": structure,
        "species": species,
        "maker": maker,
        "system": system,
        "upstream": upstream,
        "history": history,
        "production_uuids": production_uuids,
        "ladder_log": log,
    }
    md = maker.md_job(
        structure, temperature, seed=maker.seed + len(history), species=species, ladder=ladder
    )
    return Response(replace=Flow([md], output=md.output))


@dataclass
class DiffusionMaker(Maker):
    """MD at a temperature ladder and Arrhenius analysis of the tracer diffusivity.

    Defaults suit a superionic conductor with a universal ML potential (CHGNet): 600-1200 K,
    20 ps production after 2 ps NVT equilibration, 1 fs steps, positions sampled every
    10 fs, supercell at least 10 Å wide, Bussi CSVR thermostat.

    Parameters
    ----------
    name
        Flow name.
    calculator_name, calculator_kwargs
        Calculator for relaxation and MD (`ssbflow.calculators`).
    temperatures_K
        The ladder (K); at least two, all positive and distinct.
    duration_ps
        Production length per temperature (ps).
    equilibration_ps
        NVT equilibration before production (ps); 0 skips it.
    time_step_fs
        MD time step (fs).
    sample_interval_fs
        Positions are stored every this many fs (multiple of the time step).
    supercell_min_length_A
        Minimum perpendicular width of the MD cell (Å).
    supercell_max_atoms
        Largest MD cell accepted; a larger one is refused before anything runs.
    thermostat
        Production thermostat: "bussi" (CSVR), "nose-hoover-chain" or "nve". Equilibration
        always uses Bussi. Langevin is refused: it damps the mobile ions' motion.
    thermostat_time_fs
        Coupling time of the production thermostat (fs).
    equilibration_thermostat_time_fs
        Coupling time of the Bussi thermostat during equilibration (fs).
    relax_maker
        Relaxation before the supercell (``None`` skips it); its calculator is set to the
        flow's calculator.
    seed
        Seed for initial velocities, thermostat noise and the MCMC of the analysis.
    fit_start_fraction, max_interval_fraction, min_msd_increase_A2
        MSD analysis (see `ssbflow.analysis.diffusion.tracer_diffusivity`).
    ion_charge, haven_ratio
        Nernst–Einstein charge number and Haven ratio.
    collective
        Also fit the collective (jump) diffusivity D_J at each temperature and report the
        measured Haven ratio D*/D_J (noisier than D*: one collective displacement per
        time origin).
    jump_distance_A
        Jump distance for ν0 = 6 D0 / a²; ``None``: the shortest distance between two
        mobile ions in the MD cell.
    progress_percent
        ``None`` silences the MD progress lines (one line per chunk otherwise).
    chunk_ps
        The MD is checkpointed (and, with a target precision, analysed) every this many ps.
    target_precision
        Run each production until σ(D*)/D* <= this (kinisi analysis after every chunk),
        at most ``max_duration_ps``; ``None``: exactly ``duration_ps``.
    fit_start_ps
        With a target precision, the MSD fit starts at this time (ps) and takes every
        interval up to the whole run, so that σ(D*) falls with the run length (see
        `fit_window_fractions`); the fractions above apply to fixed-duration runs.
    max_duration_ps, hopeless_factor
        Ceiling of an adaptive run (ps); it also stops once the projected duration for the
        target exceeds ``hopeless_factor`` x the ceiling.
    auto_temperatures
        Choose the ladder at run time (`next_ladder_temperature`): start at
        ``auto_start_K``, step down by ``auto_step_inv_K`` in 1/T (1/K) while D* can be
        measured to ``target_precision`` within ``max_duration_ps`` and ``max_total_ps``
        (total production budget, ``None``: no total), at most ``auto_max_temperatures``
        measured rungs, not below ``auto_min_K``. Needs ``target_precision``.
    breakdown_lindemann
        RMSD of the least mobile framework element (drift removed) over its own mean
        spacing (V/N)^(1/3) that counts as melting or collapse (Lindemann-type; a
        solid stays below ~0.2): the automatic ladder stops that rung and steps down;
        explicit temperatures get a warning.
    device
        "auto" (CUDA when torch sees a GPU where the MD runs, else CPU), "cpu" or "cuda".
    torch_threads
        torch threads per MD job (``None``: torch's default).
    concurrent_temperatures
        Explicit ladder: run this many temperatures side by side in one job
        (`md_side_by_side`, the cores split between them); 1 runs one MD job per
        temperature (FireWorks runs those in parallel).
    checkpoint_dir
        Folder of the MD checkpoints; a rerun of the same study resumes from them
        (``None``: no checkpoints).
    """

    name: str = "diffusion"
    calculator_name: str = "chgnet"
    calculator_kwargs: dict = field(default_factory=dict)
    temperatures_K: tuple[float, ...] = (600.0, 800.0, 1000.0, 1200.0)
    duration_ps: float = 20.0
    equilibration_ps: float = 2.0
    time_step_fs: float = 1.0
    sample_interval_fs: float = 10.0
    supercell_min_length_A: float = 10.0
    supercell_max_atoms: int = 2000
    thermostat: str = "bussi"
    thermostat_time_fs: float = 100.0
    equilibration_thermostat_time_fs: float = 50.0
    relax_maker: CalcRelaxMaker | None = field(default_factory=CalcRelaxMaker)
    seed: int = 0
    fit_start_fraction: float = 0.1
    max_interval_fraction: float = 0.5
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2
    fit_start_ps: float = 2.0
    ion_charge: int = 1
    haven_ratio: float = 1.0
    collective: bool = True
    jump_distance_A: float | None = None
    progress_percent: float | None = 10.0
    chunk_ps: float = 2.0
    target_precision: float | None = None
    max_duration_ps: float = 50.0
    hopeless_factor: float = 3.0
    auto_temperatures: bool = False
    auto_start_K: float = 1200.0
    auto_min_K: float = 300.0
    auto_step_inv_K: float = 1.25e-4
    auto_max_temperatures: int = 6
    max_total_ps: float | None = None
    breakdown_lindemann: float = 0.3
    device: str = "auto"
    torch_threads: int | None = None
    checkpoint_dir: str | None = None
    concurrent_temperatures: int = 1

    def settings_dict(self) -> dict[str, Any]:
        """The maker's settings, for provenance."""
        keys = (
            "temperatures_K duration_ps equilibration_ps time_step_fs sample_interval_fs "
            "supercell_min_length_A supercell_max_atoms thermostat thermostat_time_fs "
            "equilibration_thermostat_time_fs seed fit_start_fraction max_interval_fraction "
            "min_msd_increase_A2 fit_start_ps ion_charge haven_ratio collective jump_distance_A "
            "chunk_ps "
            "target_precision max_duration_ps hopeless_factor auto_temperatures auto_start_K "
            "auto_min_K auto_step_inv_K auto_max_temperatures max_total_ps breakdown_lindemann "
            "device torch_threads concurrent_temperatures"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        out["temperatures_K"] = list(self.temperatures_K)
        out["relax"] = self.relax_maker is not None
        return out

    def thermostat_description(self) -> str:
        """Human-readable production ensemble and thermostat."""
        text = THERMOSTAT_DESCRIPTIONS[self.thermostat].format(tau=self.thermostat_time_fs)
        if self.equilibration_ps > 0:
            text += (
                f"; after {self.equilibration_ps:g} ps NVT equilibration (Bussi, tau = "
                f"{self.equilibration_thermostat_time_fs:g} fs)"
            )
        return text

    def _steps(self, duration_ps: float) -> tuple[int, int]:
        interval = round(self.sample_interval_fs / self.time_step_fs)
        n = round(duration_ps * 1000.0 / self.time_step_fs / interval) * interval
        return n, interval

    def validate(self) -> None:
        """Raise InputError for bad settings (called at the top of `make`)."""
        from ssbflow import validation

        temps = [float(t) for t in self.temperatures_K]
        if any(not math.isfinite(t) or t <= 0 for t in temps):
            raise InputError(f"temperatures must be positive, got {temps}")
        for t in temps:  # upper physical bound too (issue 10)
            validation.check_temperature(t, "temperatures_K")
        validation.check_seed(self.seed, "seed")
        validation.check_finite(self.min_msd_increase_A2, "min_msd_increase_A2")
        validation.check_positive(self.equilibration_ps, "equilibration_ps", allow_zero=True)
        validation.check_ion_charge(self.ion_charge, "ion_charge")
        if len(set(temps)) < 2 and not self.auto_temperatures:
            raise InputError(
                f"an Arrhenius fit needs at least two different temperatures, got {temps}"
            )
        self._validate_run_length()
        for value, label in (
            (self.time_step_fs, "time step"),
            (self.duration_ps, "duration"),
            (self.sample_interval_fs, "sampling interval"),
            (self.supercell_min_length_A, "supercell minimum length"),
            (self.thermostat_time_fs, "thermostat time"),
        ):
            if not math.isfinite(value) or value <= 0:
                raise InputError(f"the {label} must be positive, got {value}")
        if self.equilibration_ps < 0:
            raise InputError(f"equilibration must be >= 0 ps, got {self.equilibration_ps}")
        if self.time_step_fs > 5:
            raise InputError(f"time step {self.time_step_fs} fs is too long; use 0.5-2 fs")
        ratio = self.sample_interval_fs / self.time_step_fs
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise InputError(
                f"the sampling interval ({self.sample_interval_fs} fs) must be a multiple of "
                f"the time step ({self.time_step_fs} fs)"
            )
        if self.thermostat == "langevin":
            raise InputError(
                "Langevin dynamics damps the mobile ions and biases D; use bussi, "
                "nose-hoover-chain or nve"
            )
        if self.thermostat not in THERMOSTAT_DESCRIPTIONS:
            raise InputError(
                f"unknown thermostat '{self.thermostat}'; use one of "
                f"{', '.join(THERMOSTAT_DESCRIPTIONS)}"
            )
        longest = self.max_duration_ps if self.target_precision else self.duration_ps
        n, interval = self._steps(longest)
        frames = n // interval + 1
        if frames < 4 * MIN_FRAMES:
            raise InputError(
                f"{longest} ps sampled every {self.sample_interval_fs} fs gives only "
                f"{frames} frames; sample more often or run longer (>= {4 * MIN_FRAMES})"
            )
        if self.haven_ratio <= 0:
            raise InputError(f"the Haven ratio must be positive, got {self.haven_ratio}")
        if self.jump_distance_A is not None and self.jump_distance_A <= 0:
            raise InputError(f"the jump distance must be positive, got {self.jump_distance_A}")

    def _validate_run_length(self) -> None:
        """Checks of the adaptive run length, the automatic ladder and the device."""
        from ssbflow.calculators import select_device
        from ssbflow.validation import check_positive, check_range, check_temperature

        check_positive(self.chunk_ps, "chunk_ps")
        check_positive(self.max_duration_ps, "max_duration_ps")
        check_positive(self.breakdown_lindemann, "breakdown_lindemann")
        check_positive(self.hopeless_factor, "hopeless_factor")
        check_positive(self.max_total_ps, "max_total_ps")
        check_positive(self.fit_start_ps, "fit_start_ps")
        if self.target_precision is not None and self.fit_start_ps >= self.max_duration_ps:
            raise InputError(
                f"fit_start_ps = {self.fit_start_ps:g} ps leaves no fit window in runs of at "
                f"most {self.max_duration_ps:g} ps; lower it or raise max_duration_ps",
                field="fit_start_ps",
            )
        check_range(
            self.target_precision,
            "target_precision",
            0.0,
            1.0,
            low_inclusive=False,
            high_inclusive=False,
            hint="it is the relative standard error of D*, e.g. 0.1",
        )
        if self.auto_temperatures:
            if self.target_precision is None:
                raise InputError(
                    "the automatic ladder needs a target precision (e.g. target_precision=0.1)",
                    field="target_precision",
                )
            check_temperature(self.auto_start_K, "auto_start_K")
            check_temperature(self.auto_min_K, "auto_min_K")
            if not self.auto_min_K < self.auto_start_K:
                raise InputError(
                    f"need auto_min_K < auto_start_K, got {self.auto_min_K:g} and "
                    f"{self.auto_start_K:g} K",
                    field="auto_min_K",
                )
            check_positive(self.auto_step_inv_K, "auto_step_inv_K")
            if self.auto_max_temperatures < 2:
                raise InputError(
                    "auto_max_temperatures must be >= 2 for an Arrhenius fit, got "
                    f"{self.auto_max_temperatures}",
                    field="auto_max_temperatures",
                )
        if self.concurrent_temperatures < 1:
            raise InputError(
                f"concurrent_temperatures must be >= 1, got {self.concurrent_temperatures}",
                field="concurrent_temperatures",
            )
        if self.torch_threads is not None and self.torch_threads < 1:
            raise InputError(
                f"torch_threads must be >= 1, got {self.torch_threads}", field="torch_threads"
            )
        if str(self.device).lower() not in {"auto", "cpu", "cuda"}:
            select_device(self.device)  # raises with the allowed values

    def md_job(
        self,
        structure: Structure,
        temperature_K: float,
        seed: int,
        species: str,
        ladder: dict | None = None,
    ):
        """The MD job (equilibration + checkpointed production) at one temperature."""
        return self.md_maker(temperature_K, seed, species).make(structure, ladder)

    def md_maker(self, temperature_K: float, seed: int, species: str) -> DiffusionMDMaker:
        """The `DiffusionMDMaker` of one temperature."""
        return DiffusionMDMaker(
            name=f"md {temperature_K:g} K",
            calculator_name=self.calculator_name,
            calculator_kwargs=dict(self.calculator_kwargs),
            device=self.device,
            torch_threads=self.torch_threads,
            temperature_K=temperature_K,
            time_step_fs=self.time_step_fs,
            sample_interval_fs=self.sample_interval_fs,
            equilibration_ps=self.equilibration_ps,
            equilibration_thermostat_time_fs=self.equilibration_thermostat_time_fs,
            thermostat=self.thermostat,
            thermostat_time_fs=self.thermostat_time_fs,
            seed=seed,
            chunk_ps=self.chunk_ps,
            duration_ps=self.duration_ps,
            target_precision=self.target_precision,
            max_duration_ps=self.max_duration_ps,
            hopeless_factor=self.hopeless_factor,
            species=species,
            fit_start_fraction=self.fit_start_fraction,
            max_interval_fraction=self.max_interval_fraction,
            min_msd_increase_A2=self.min_msd_increase_A2,
            analysis_seed=self.seed,
            fit_start_ps=self.fit_start_ps if self.target_precision is not None else None,
            breakdown_lindemann=self.breakdown_lindemann if self.auto_temperatures else None,
            checkpoint_dir=self.checkpoint_dir,
            progress=self.progress_percent is not None,
        )

    def make(self, structure: Structure, species: str, system: str | None = None) -> Flow:
        """Build the flow (computes nothing).

        Parameters
        ----------
        structure
            Bulk structure (unit cell; the supercell is made in the flow).
        species
            Mobile species, e.g. "Li".
        system
            Label for the document (default: reduced formula).
        """
        self.validate()
        elements = {el.symbol for el in structure.composition.elements}
        if species not in elements:
            raise InputError(
                f"no {species} atoms in {structure.composition.reduced_formula}; choose one of "
                f"{', '.join(sorted(elements))} with --species"
            )
        canonical = check_calculator(self.calculator_name, elements, self.calculator_kwargs)
        from ssbflow import validation

        validation.check_min_distance(structure, "structure")
        validation.check_supercell_size(
            structure, self.supercell_min_length_A, self.supercell_max_atoms
        )
        maker = replace(self, calculator_name=canonical)
        jobs = []
        current: Any = structure
        upstream: list[str] = []
        if self.relax_maker is not None:
            relax_maker = replace(
                self.relax_maker,
                calculator_name=canonical,
                calculator_kwargs=dict(self.calculator_kwargs),
            )
            relax = relax_maker.make(structure)
            jobs.append(relax)
            upstream.append(relax.uuid)
            current = relax.output.structure
        supercell = make_supercell(current, self.supercell_min_length_A)
        supercell.name = "supercell"
        jobs.append(supercell)
        ladder = diffusion_ladder(
            supercell.output,
            species,
            maker,
            system or structure.composition.reduced_formula,
            upstream,
        )
        ladder.name = f"{self.name} ladder"
        jobs.append(ladder)
        return Flow(jobs, output=ladder.output, name=self.name)
