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

The MD makers are fields of the flow maker: ``DiffusionMaker.production_md_maker`` (production; by
default a `DiffusionMDMaker` from the flow maker's MD settings) and
``DiffusionMaker.equilibration_maker`` (optional, its own job per temperature). Any maker
that runs MD and returns an `MDRunDocument` plugs in (`CalcMDMaker` with GPAW, for one);
the ladder sets each rung's temperature and seed (`md_maker_at`). Jobs take the
`DiffusionSettings` document and the MD maker they run, never the flow maker. The
analysis job gets a uuid chosen when the flow is built (`summary_uuid_of`), so the summary
is found in the store for the explicit and the automatic ladder alike.
`analyze_temperatures` is the one per-temperature analysis loop, used by the flow and by
``ssbflow diffusion-analyze`` (`analyze_trajectory_files`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase.calculators.calculator import Calculator
from atomate2.ase.md import AseMDMaker, MDEnsemble
from jobflow import Flow, Maker, OnMissing, Response, job
from jobflow.utils import suid
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
from ssbflow.errors import InputError, one_line_error
from ssbflow.schemas import Provenance, ResultDocument, as_model
from ssbflow.workflows.calc import CalcRelaxMaker
from ssbflow.workflows.common import CalculatorMixin, maker_calculator
from ssbflow.workflows.trajectory import SampledTrajectory, load_trajectory

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

    def _thermostat_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the ASE dynamics class for ``thermostat``."""
        from ase import units

        if self.thermostat == "bussi":
            return {
                "taut": self.thermostat_time_fs * units.fs,
                "rng": np.random.default_rng(self.mb_velocity_seed),
            }
        if self.thermostat == "nose-hoover-chain":
            return {"tdamp": self.thermostat_time_fs * units.fs}
        return {}

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
        if self.thermostat == "nve" and "velocities" not in structure.site_properties:
            raise InputError("NVE needs initial velocities; equilibrate with NVT first")
        # atomate2's run_ase reads (and sets) these on the maker: a local copy, never self
        maker = replace(
            self,
            ensemble=MDEnsemble.nve if self.thermostat == "nve" else MDEnsemble.nvt,
            dynamics=_dynamics_class(
                self.thermostat, f"{self.stage} MD {self.temperature:g} K", self.progress_percent
            ),
            ase_md_kwargs=self._thermostat_kwargs(),
        )
        result = maker.run_ase(structure, prev_dir=prev_dir)
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
            temperature_K=float(maker.temperature),  # NaN after NVE, as atomate2 sets it
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

        if "maker" in ladder:  # a ladder started before the MD maker was a flow field
            old = ladder["maker"]
            ladder = {k: v for k, v in ladder.items() if k != "maker"}
            ladder.update(settings=old.study_settings(), md_maker=old.production_maker())
        step = auto_ladder_step(
            **{
                **ladder,
                "history": [*ladder["history"], doc.ladder_summary()],
                "production_uuids": [*ladder["production_uuids"], CURRENT_JOB.job.uuid],
            }
        )
        name = _study_settings(ladder["settings"]).name
        step.name = f"{name} ladder step {len(ladder['history']) + 2}"
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


class DiffusionSettings(BaseModel):
    """The settings of a diffusion study that its jobs read (a document, not a maker).

    `DiffusionMaker.study_settings` makes it; the ladder, the automatic-ladder steps and
    the analysis take it instead of the whole flow maker. Field names are the
    `DiffusionMaker` fields they come from.
    """

    name: str = "diffusion"
    temperatures_K: list[float] = Field(default_factory=list)
    seed: int = 0
    concurrent_temperatures: int = 1
    time_step_fs: float | None = None
    duration_ps: float | None = None
    equilibration_ps: float | None = None
    sample_interval_fs: float | None = None
    fit_start_fraction: float = 0.1
    max_interval_fraction: float = 0.5
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2
    fit_start_ps: float = 2.0
    ion_charge: int = 1
    haven_ratio: float = 1.0
    collective: bool = True
    jump_distance_A: float | None = None
    target_precision: float | None = None
    max_duration_ps: float = 50.0
    auto_temperatures: bool = False
    auto_start_K: float = 1200.0
    auto_min_K: float = 300.0
    auto_step_inv_K: float = 1.25e-4
    auto_max_temperatures: int = 6
    max_total_ps: float | None = None
    breakdown_lindemann: float = 0.3
    calculator_name: str = Field(..., description="Calculator of the production MD")
    calculator_kwargs: dict[str, Any] = Field(default_factory=dict)
    named_calculator: bool = Field(
        True, description="The MD maker names an ssbflow calculator (calculator_name field)"
    )
    thermostat_description: str = ""
    provenance_settings: dict[str, Any] = Field(default_factory=dict)

    def provenance(self, upstream_uuids: list[str]) -> Provenance:
        """Provenance of the study's summary (calculator of the production MD)."""
        if not self.named_calculator:
            return Provenance(
                calculator=self.calculator_name,
                level_of_theory=self.calculator_name,
                settings=self.provenance_settings,
                upstream_uuids=upstream_uuids or [],
            )
        return Provenance.from_calculator(
            self.calculator_name,
            self.calculator_kwargs,
            settings=self.provenance_settings,
            upstream_uuids=upstream_uuids,
        )


def _study_settings(value: Any) -> DiffusionSettings:
    """``value`` as `DiffusionSettings` (from a dict, or a `DiffusionMaker` as before)."""
    if isinstance(value, DiffusionMaker):
        return value.study_settings()
    return as_model(value, DiffusionSettings)


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


@dataclass
class TemperatureAnalysis:
    """What the per-temperature analysis found (`analyze_temperatures`).

    ``skipped_collective`` holds '<T> K: why' for each temperature without a collective
    diffusivity; ``errors`` maps a temperature key to why it could not be analysed.
    """

    results: list[DiffusivityResult] = field(default_factory=list)
    collective: list[CollectiveDiffusivityResult] = field(default_factory=list)
    skipped_collective: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def analyze_temperatures(
    trajectories: Sequence[SampledTrajectory],
    species: str,
    *,
    fit_start_fraction: float = 0.1,
    max_interval_fraction: float = 0.5,
    fit_start_ps: float | None = None,
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2,
    seed: int = 0,
    collective: bool = True,
    strict: bool = True,
) -> TemperatureAnalysis:
    """Tracer D* (and the collective D_J) of each trajectory: the one analysis loop.

    The flow's analysis (`analyze_diffusion`) and ``ssbflow diffusion-analyze``
    (`analyze_trajectories`) both run this.

    Parameters
    ----------
    trajectories
        One per temperature.
    species
        Mobile species.
    fit_start_fraction, max_interval_fraction, fit_start_ps
        MSD fit window (`fit_window_fractions`; ``fit_start_ps`` ``None``: the fractions).
    min_msd_increase_A2, seed
        As for `tracer_diffusivity`.
    collective
        Also fit D_J; a temperature where that fails is listed in ``skipped_collective``.
    strict
        Raise the InputError of a trajectory D* cannot be measured from; ``False``: list
        it in ``errors`` as 'analysis failed: ...' and go on.
    """
    out = TemperatureAnalysis()
    for traj in trajectories:
        key = temperature_key(traj.temperature_K)
        start, longest = fit_window_fractions(
            traj.duration_ps, fit_start_fraction, max_interval_fraction, fit_start_ps
        )
        args = (traj.positions_A, traj.cells_A, traj.symbols, species)
        options = {
            "frame_interval_ps": traj.frame_interval_ps,
            "temperature_K": traj.temperature_K,
            "fit_start_fraction": start,
            "max_interval_fraction": longest,
            "seed": seed,
        }
        try:
            out.results.append(
                tracer_diffusivity(*args, min_msd_increase_A2=min_msd_increase_A2, **options)
            )
        except InputError as exc:
            if strict:
                raise
            out.errors[key] = f"analysis failed: {exc}"
            continue
        if collective:
            try:
                out.collective.append(collective_diffusivity(*args, **options))
            except InputError as exc:
                out.skipped_collective.append(f"{key} K: {exc}")
    return out


def analyze_trajectories(
    trajectories: Sequence[SampledTrajectory],
    species: str,
    *,
    fit_start_fraction: float = 0.1,
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2,
    seed: int = 0,
    jump_distance_A: float | None = None,
    ion_charge: int = 1,
    haven_ratio: float = 1.0,
) -> dict[str, Any]:
    """D*, D_J, Ea, σ(300 K) and ν0 from trajectories already run (nothing is stored).

    The jump distance defaults to the shortest distance between two mobile ions in the
    first frame of the first trajectory. Returns the `DiffusionDocument` fields of the
    analysis with ``species``, ``formula`` and ``status``.
    """
    found = analyze_temperatures(
        trajectories,
        species,
        fit_start_fraction=fit_start_fraction,
        min_msd_increase_A2=min_msd_increase_A2,
        seed=seed,
    )
    first = trajectories[0]
    jump = jump_distance_A
    if jump is None:
        cells = np.asarray(first.cells_A)
        jump = nearest_neighbour_distance_A(
            np.asarray(first.positions_A)[0],
            cells[0] if cells.ndim == 3 else cells,
            [i for i, s in enumerate(first.symbols) if s == species],
        )
    if not math.isfinite(jump) or jump <= 0:
        raise InputError(
            f"jump_distance_A must be a positive number, got {jump}", field="jump_distance_A"
        )
    doc = summarize_diffusion(
        found.results,
        jump_distance_A=float(jump),
        ion_charge=ion_charge,
        haven_ratio=haven_ratio,
        collective=found.collective,
    )
    doc["warnings"] = [
        *doc.get("warnings", []),
        *(f"collective diffusivity not computed at {why}" for why in found.skipped_collective),
    ]
    from pymatgen.core import Composition

    formula = Composition("".join(first.symbols)).reduced_formula
    doc.update(species=species, formula=formula, status="successful")
    return doc


def analyze_trajectory_files(
    paths: Sequence[str | Path],
    temperatures_K: Sequence[float],
    species: str,
    *,
    timestep_fs: float | None = None,
    fit_start_fraction: float = 0.1,
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2,
    seed: int = 0,
    jump_distance_A: float | None = None,
    ion_charge: int = 1,
    haven_ratio: float = 1.0,
) -> dict[str, Any]:
    """`analyze_trajectories` of trajectory files, one per temperature, in order.

    Files are read by `ssbflow.workflows.trajectory.read_trajectory` (``timestep_fs``:
    the time between frames of files that carry no ``time_fs``).
    """
    from ssbflow.validation import check_same_system

    temps = [float(t) for t in temperatures_K]
    if not paths:
        raise InputError("give at least two trajectory files, one per temperature")
    if len(temps) != len(paths):
        raise InputError(
            f"{len(paths)} trajectories but {len(temps)} temperatures; give one "
            "temperature per file, in the same order"
        )
    if len(paths) < 2:
        raise InputError("an Arrhenius fit needs trajectories at two or more temperatures; got one")
    if len(set(temps)) != len(temps):
        raise InputError(f"temperatures must be distinct, got {temps}", field="temperatures_K")
    loaded = [load_trajectory(Path(p), t, timestep_fs) for p, t in zip(paths, temps, strict=True)]
    check_same_system([(str(p), t.symbols) for p, t in zip(paths, loaded, strict=True)])
    return analyze_trajectories(
        loaded,
        species,
        fit_start_fraction=fit_start_fraction,
        min_msd_increase_A2=min_msd_increase_A2,
        seed=seed,
        jump_distance_A=jump_distance_A,
        ion_charge=ion_charge,
        haven_ratio=haven_ratio,
    )


def _run_trajectory(run: MDRunDocument) -> SampledTrajectory:
    """A production run's stored trajectory as the analysis takes it."""
    traj = run.trajectory
    if traj is None:  # pragma: no cover - production always stores positions
        raise ValueError(f"production run at {run.temperature_K} K stored no trajectory")
    return SampledTrajectory(
        positions_A=np.asarray(traj.positions_A),
        cells_A=np.asarray(traj.cell_A),
        symbols=traj.symbols,
        frame_interval_ps=run.sample_interval_fs / 1000.0,
        temperature_K=run.temperature_K,
        run_duration_ps=(len(traj.positions_A) - 1) * run.sample_interval_fs / 1000.0,
    )


@job(data=["msd_curves"])
def analyze_diffusion(
    runs: list[MDRunDocument],
    run_uuids: list[str],
    supercell: Structure,
    species: str,
    settings: DiffusionSettings,
    system: str,
    upstream_uuids: list[str],
    ladder_log: list[str] | None = None,
    temperatures_K: list[float] | None = None,
) -> DiffusionDocument:
    """Tracer D at each temperature (kinisi) and the Arrhenius analysis.

    ``settings`` are the study's (`DiffusionMaker.study_settings`; a `DiffusionMaker`
    is accepted as well). ``temperatures_K`` (the planned ladder, same order as ``runs``)
    names the temperature of an MD job that failed (its run arrives as ``None``); it is
    then excluded with that reason, and a ladder whose MD all failed gives a failed
    summary.

    Runs that stopped on a framework breakdown are excluded with their reason. The
    per-temperature precision reported (``relative_stderr``) is that of this analysis,
    which uses the settings and seed of the in-run decisions, so an adaptive run never
    claims a precision the final analysis does not give.
    """
    study = _study_settings(settings)
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
    found = analyze_temperatures(
        [_run_trajectory(run) for run in runs if run.stop_kind != "breakdown"],
        species,
        fit_start_fraction=study.fit_start_fraction,
        max_interval_fraction=study.max_interval_fraction,
        fit_start_ps=study.fit_start_ps if study.target_precision is not None else None,
        min_msd_increase_A2=study.min_msd_increase_A2,
        seed=study.seed,
        collective=study.collective,
        strict=False,
    )
    for run in runs:  # in run order, as the document lists them
        key = temperature_key(run.temperature_K)
        if run.stop_kind == "breakdown":
            errors[key] = run.stop_reason or "framework breakdown"
        elif key in found.errors:
            errors[key] = found.errors[key]
    results, collective = found.results, found.collective
    skipped_collective = found.skipped_collective
    structure = supercell
    jump = study.jump_distance_A
    if jump is None:
        jump = nearest_neighbour_distance_A(
            structure.cart_coords,
            structure.lattice.matrix,
            [i for i, site in enumerate(structure) if site.specie.symbol == species],
        )
    common: dict[str, Any] = {
        "system": system,
        "formula": structure.composition.reduced_formula,
        "calculator": study.calculator_name,
        "provenance": study.provenance(upstream_uuids),
        "structures": {"supercell": structure},
        "species": species,
        "thermostat": study.thermostat_description,
        "time_step_fs": study.time_step_fs,
        "duration_ps": study.duration_ps,
        "equilibration_ps": study.equilibration_ps,
        "sample_interval_fs": study.sample_interval_fs,
        "mean_temperature_K": {
            temperature_key(r.temperature_K): r.mean_temperature_K
            for r in runs
            if r.mean_temperature_K is not None
        },
        "md_atom_steps_per_s": {temperature_key(r.temperature_K): r.atom_steps_per_s for r in runs},
        "trajectory_job_uuids": {
            temperature_key(r.temperature_K): u for r, u in zip(runs, run_uuids, strict=True)
        },
        "ladder": "auto" if study.auto_temperatures else "explicit",
        "ladder_log": list(ladder_log or []),
        "target_precision": study.target_precision,
        "max_duration_ps": study.max_duration_ps if study.target_precision else None,
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
        ion_charge=study.ion_charge,
        haven_ratio=study.haven_ratio,
        raise_on_too_few=False,
        collective=collective,
    )
    fields.setdefault("warnings", []).extend(
        f"collective diffusivity not computed at {why}" for why in skipped_collective
    )
    fields["warnings"].extend(
        f"{temperature_key(r.temperature_K)} K: the least mobile framework element moved "
        f"{r.framework_rmsd_A:.2f} Å (RMSD), {r.framework_rmsd_ratio:.2f} of its mean "
        f"spacing, above {study.breakdown_lindemann:g}: it may have melted or collapsed"
        for r in runs
        if r.stop_kind != "breakdown"
        and r.framework_rmsd_ratio is not None
        and r.framework_rmsd_ratio > study.breakdown_lindemann
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


def md_maker_at(maker: Maker, temperature_K: float, seed: int, species: str) -> Maker:
    """A copy of MD maker ``maker`` for one rung of the ladder (``maker`` is not changed).

    Sets the fields ``maker`` has: the temperature (``temperature_K``, or atomate2's
    ``temperature``), the seed (``seed``, or atomate2's ``mb_velocity_seed``), the mobile
    ``species``; the job is named '<maker name> <T> K'.
    """
    names = {f.name for f in fields(maker)}
    changes: dict[str, Any] = {"name": f"{maker.name} {temperature_K:g} K"}
    changes["temperature_K" if "temperature_K" in names else "temperature"] = temperature_K
    if "seed" in names:
        changes["seed"] = seed
    elif "mb_velocity_seed" in names:
        changes["mb_velocity_seed"] = seed
    if "species" in names:
        changes["species"] = species
    return replace(maker, **changes)


def temperature_jobs(
    structure: Any,
    temperature_K: float,
    seed: int,
    species: str,
    md_maker: Maker,
    equilibration_maker: Maker | None = None,
    ladder: dict | None = None,
) -> list:
    """The jobs of one temperature: equilibration (when a maker is given), production.

    The production starts from the equilibration's ``final_structure`` (with its
    velocities); the last job's output is the production `MDRunDocument`. ``ladder``
    (automatic ladder) goes to a `DiffusionMDMaker`, which adds the next step.
    """
    jobs = []
    start = structure
    if equilibration_maker is not None:
        equilibration = md_maker_at(equilibration_maker, temperature_K, seed, species)
        jobs.append(equilibration.make(structure))
        start = jobs[-1].output.final_structure
    production = md_maker_at(md_maker, temperature_K, seed, species)
    jobs.append(production.make(start, ladder) if ladder is not None else production.make(start))
    return jobs


@job
def diffusion_ladder(
    structure: Structure,
    species: str,
    settings: DiffusionSettings,
    md_maker: Maker,
    system: str,
    upstream: list[str],
    equilibration_maker: Maker | None = None,
    summary_uuid: str | None = None,
) -> Response:
    """Fan out the MD of each temperature (equilibration + production), then the analysis.

    ``md_maker`` (and ``equilibration_maker``) are the MD makers of the study, set to
    each temperature by `md_maker_at`; ``settings`` its `DiffusionSettings`. With
    ``settings.auto_temperatures`` the ladder is built rung by rung instead (see
    `auto_ladder_step`). The analysis job gets the uuid ``summary_uuid`` (where the
    study's summary is found, `summary_uuid_of`).
    """
    study = _study_settings(settings)
    if study.auto_temperatures:
        step = auto_ladder_step(
            structure, species, study, md_maker, system, upstream, [], [], [], summary_uuid
        )
        step.name = f"{study.name} ladder step 1"
        return Response(replace=Flow([step], output=step.output, name=f"{study.name} ladder"))
    temps = [float(t) for t in study.temperatures_K]
    seeds = [study.seed + i for i in range(len(temps))]
    k = max(1, min(study.concurrent_temperatures, len(temps)))
    if not isinstance(md_maker, DiffusionMDMaker) or equilibration_maker is not None:
        k = 1  # side by side runs DiffusionMDMaker.run, one process per temperature
    jobs, outputs, uuids = [], [], []
    if k == 1:
        for t, seed in zip(temps, seeds, strict=True):
            rung = temperature_jobs(structure, t, seed, species, md_maker, equilibration_maker)
            jobs.extend(rung)
            outputs.append(rung[-1].output)
            uuids.append(rung[-1].uuid)
    else:
        for start in range(0, len(temps), k):
            group = [
                md_maker_at(md_maker, t, seed=seed, species=species)
                for t, seed in zip(temps[start : start + k], seeds[start : start + k], strict=True)
            ]
            side = md_side_by_side(structure, group)
            side.name = "md " + ", ".join(f"{m.temperature_K:g}" for m in group) + " K side by side"
            jobs.append(side)
            outputs.extend(side.output[i] for i in range(len(group)))
            uuids.extend(f"{side.uuid}#{i}" for i in range(len(group)))
    analysis = analyze_diffusion(
        outputs, uuids, structure, species, study, system, upstream, temperatures_K=list(temps)
    )
    analysis.name = f"{study.name} analysis"
    if summary_uuid is not None:
        analysis.set_uuid(summary_uuid)
    # an MD job that raises arrives as None: the analysis still stores a (failed) summary
    analysis.config.on_missing_references = OnMissing.NONE
    jobs = [*jobs, analysis]
    return Response(replace=Flow(jobs, output=analysis.output, name=f"{study.name} ladder"))


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
    history: Sequence[dict[str, Any]], maker: DiffusionMaker | DiffusionSettings
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
    settings: DiffusionSettings,
    md_maker: DiffusionMDMaker,
    system: str,
    upstream: list[str],
    history: list[dict[str, Any]],
    production_uuids: list[str],
    ladder_log: list[str],
    summary_uuid: str | None = None,
) -> Response:
    """One decision of the automatic ladder: run the next rung, or analyse all rungs.

    The rung's MD job (``md_maker`` at the rung's temperature) adds the next step to the
    flow when it finishes (with its summary in ``history``), so the trajectories never
    pass through this job's arguments.
    """
    study = _study_settings(settings)
    temperature, why = next_ladder_temperature(history, study)
    log = [*ladder_log, why]
    if temperature is None:
        from jobflow import OutputReference

        analysis = analyze_diffusion(
            [OutputReference(u) for u in production_uuids],
            list(production_uuids),
            structure,
            species,
            study,
            system,
            upstream,
            ladder_log=log,
        )
        analysis.name = f"{study.name} analysis"
        if summary_uuid is not None:
            analysis.set_uuid(summary_uuid)
        return Response(replace=Flow([analysis], output=analysis.output))
    ladder = {
        "structure": structure,
        "species": species,
        "settings": study,
        "md_maker": md_maker,
        "system": system,
        "upstream": upstream,
        "history": history,
        "production_uuids": production_uuids,
        "ladder_log": log,
        "summary_uuid": summary_uuid,
    }
    (md,) = temperature_jobs(
        structure, temperature, study.seed + len(history), species, md_maker, ladder=ladder
    )
    return Response(replace=Flow([md], output=md.output))


def _thermostat_text(md: Maker, equilibration: Maker | None) -> str:
    """Production ensemble of a plugged-in MD maker, as far as its fields tell."""
    thermostat = getattr(md, "thermostat", None)
    if thermostat in THERMOSTAT_DESCRIPTIONS:
        tau = getattr(md, "thermostat_time_fs", float("nan"))
        text = THERMOSTAT_DESCRIPTIONS[thermostat].format(tau=tau)
    else:
        text = f"as set by {type(md).__name__} '{md.name}'"
    if (getattr(md, "equilibration_ps", 0) or 0) > 0:
        text += (
            f"; after {md.equilibration_ps:g} ps NVT equilibration (Bussi, tau = "
            f"{md.equilibration_thermostat_time_fs:g} fs)"
        )
    if equilibration is not None:
        text += f"; after equilibration by {type(equilibration).__name__} '{equilibration.name}'"
    return text


def summary_uuid_of(flow: Flow) -> str:
    """The uuid under which a diffusion flow (`DiffusionMaker.make`) stores its summary.

    The analysis job gets this uuid when the ladder creates it at run time, for the
    explicit and the automatic ladder alike: load the `DiffusionDocument` with
    ``ssbflow.execution.store.load_output(settings, summary_uuid_of(flow))``.
    """
    for one in flow.jobs:
        uuid = (getattr(one, "function_kwargs", None) or {}).get("summary_uuid")
        if uuid is not None:
            return uuid
    raise ValueError(f"{flow.name} is not a diffusion flow (no ladder job with a summary uuid)")


@dataclass
class DiffusionMaker(CalculatorMixin, Maker):
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
    production_md_maker
        The production MD of one temperature, any maker that runs MD and returns an
        `MDRunDocument` with its trajectory (`DiffusionMDMaker`, `CalcMDMaker` with any
        calculator, e.g. GPAW); the ladder sets its temperature, seed and species
        (`md_maker_at`) and names its jobs '<name> <T> K'. ``None``: a `DiffusionMDMaker`
        from this maker's MD settings and calculator (`production_maker`). The MD
        settings above (durations, thermostat, ...) feed only that default; the automatic
        ladder and side-by-side temperatures need a `DiffusionMDMaker`.
    equilibration_maker
        Equilibration before each production run, as its own job (its final structure,
        with velocities, starts the production); ``None``: none besides what the
        production maker does itself (the default one equilibrates for
        ``equilibration_ps``).
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
    production_md_maker: Maker | None = None
    equilibration_maker: Maker | None = None

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
        """The production MD job at one temperature (`production_maker` at that T)."""
        maker = md_maker_at(self.production_maker(), temperature_K, seed, species)
        return maker.make(structure, ladder) if ladder is not None else maker.make(structure)

    def md_maker(self, temperature_K: float, seed: int, species: str) -> Maker:
        """Deprecated: ``md_maker_at(maker.production_maker(), temperature_K, seed, species)``."""
        from ssbflow._deprecation import warn_deprecated

        warn_deprecated(
            "DiffusionMaker.md_maker(T, seed, species)",
            "md_maker_at(maker.production_maker(), T, seed, species)",
        )
        return md_maker_at(self.production_maker(), temperature_K, seed, species)

    def production_maker(self, calculator_name: str | None = None) -> Maker:
        """The production MD maker: ``production_md_maker``, or the default `DiffusionMDMaker`.

        The default takes this maker's MD settings and calculator (``calculator_name``
        overrides the name, e.g. with its canonical form); the ladder sets the
        temperature, seed and species of each rung (`md_maker_at`).
        """
        if self.production_md_maker is not None:
            return self.production_md_maker
        return DiffusionMDMaker(
            name="md",
            calculator_name=calculator_name or self.calculator_name,
            calculator_kwargs=dict(self.calculator_kwargs),
            device=self.device,
            torch_threads=self.torch_threads,
            time_step_fs=self.time_step_fs,
            sample_interval_fs=self.sample_interval_fs,
            equilibration_ps=self.equilibration_ps,
            equilibration_thermostat_time_fs=self.equilibration_thermostat_time_fs,
            thermostat=self.thermostat,
            thermostat_time_fs=self.thermostat_time_fs,
            seed=self.seed,
            chunk_ps=self.chunk_ps,
            duration_ps=self.duration_ps,
            target_precision=self.target_precision,
            max_duration_ps=self.max_duration_ps,
            hopeless_factor=self.hopeless_factor,
            fit_start_fraction=self.fit_start_fraction,
            max_interval_fraction=self.max_interval_fraction,
            min_msd_increase_A2=self.min_msd_increase_A2,
            analysis_seed=self.seed,
            fit_start_ps=self.fit_start_ps if self.target_precision is not None else None,
            breakdown_lindemann=self.breakdown_lindemann if self.auto_temperatures else None,
            checkpoint_dir=self.checkpoint_dir,
            progress=self.progress_percent is not None,
        )

    def study_settings(self, md_maker: Maker | None = None) -> DiffusionSettings:
        """The `DiffusionSettings` the jobs read; the calculator is ``md_maker``'s
        (default: `production_maker`)."""
        md = md_maker if md_maker is not None else self.production_maker()
        calculator, kwargs = maker_calculator(md)
        settings = self.settings_dict()
        timing: dict[str, Any] = {
            "time_step_fs": self.time_step_fs,
            "duration_ps": self.duration_ps,
            "equilibration_ps": self.equilibration_ps,
            "sample_interval_fs": self.sample_interval_fs,
        }
        thermostat = self.thermostat_description()
        if self.production_md_maker is not None or self.equilibration_maker is not None:
            settings["md_maker"] = f"{type(md).__name__} ({md.name})"
            if self.equilibration_maker is not None:
                eq = self.equilibration_maker
                settings["equilibration_maker"] = f"{type(eq).__name__} ({eq.name})"
            timing = dict.fromkeys(timing)  # the plugged-in makers' own, in each run
            thermostat = _thermostat_text(md, self.equilibration_maker)
        return DiffusionSettings(
            name=self.name,
            temperatures_K=[float(t) for t in self.temperatures_K],
            seed=self.seed,
            concurrent_temperatures=self.concurrent_temperatures,
            fit_start_fraction=self.fit_start_fraction,
            max_interval_fraction=self.max_interval_fraction,
            min_msd_increase_A2=self.min_msd_increase_A2,
            fit_start_ps=self.fit_start_ps,
            ion_charge=self.ion_charge,
            haven_ratio=self.haven_ratio,
            collective=self.collective,
            jump_distance_A=self.jump_distance_A,
            target_precision=self.target_precision,
            max_duration_ps=self.max_duration_ps,
            auto_temperatures=self.auto_temperatures,
            auto_start_K=self.auto_start_K,
            auto_min_K=self.auto_min_K,
            auto_step_inv_K=self.auto_step_inv_K,
            auto_max_temperatures=self.auto_max_temperatures,
            max_total_ps=self.max_total_ps,
            breakdown_lindemann=self.breakdown_lindemann,
            calculator_name=calculator,
            calculator_kwargs=kwargs,
            named_calculator=getattr(md, "calculator_name", None) is not None,
            thermostat_description=thermostat,
            provenance_settings=settings,
            **timing,
        )

    def _plugged_in(self, maker: Maker | None, elements: set[str], field_name: str) -> Any:
        """A plugged-in MD maker, checked: it has a temperature, its calculator works."""
        if maker is None:
            return None
        names = {f.name for f in fields(maker)} if is_dataclass(maker) else set()
        if not names & {"temperature_K", "temperature"}:
            raise InputError(
                f"{field_name} must be an MD maker with a temperature_K or temperature field "
                f"(DiffusionMDMaker, CalcMDMaker), got {type(maker).__name__}",
                field=field_name,
            )
        if getattr(maker, "calculator_name", None) is None:
            return maker
        canonical = check_calculator(maker.calculator_name, elements, maker.calculator_kwargs)
        return replace(maker, calculator_name=canonical)

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
                f"{', '.join(sorted(elements))} with species",
                field="species",
            )
        canonical = self.calculator_name
        if self.production_md_maker is None or self.relax_maker is not None:
            canonical = check_calculator(self.calculator_name, elements, self.calculator_kwargs)
        md = self._plugged_in(self.production_md_maker, elements, "production_md_maker")
        if md is None:
            md = self.production_maker(canonical)
        equilibration = self._plugged_in(self.equilibration_maker, elements, "equilibration_maker")
        if self.auto_temperatures and not isinstance(md, DiffusionMDMaker):
            raise InputError(
                "the automatic ladder needs a DiffusionMDMaker as production_md_maker (its MD job adds "
                f"the next rung), got {type(md).__name__}",
                field="production_md_maker",
            )
        from ssbflow import validation

        validation.check_min_distance(structure, "structure")
        validation.check_supercell_size(
            structure, self.supercell_min_length_A, self.supercell_max_atoms
        )
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
            self.study_settings(md),
            md,
            system or structure.composition.reduced_formula,
            upstream,
            equilibration_maker=equilibration,
            summary_uuid=suid(),
        )
        ladder.name = f"{self.name} ladder"
        jobs.append(ladder)
        return Flow(jobs, output=ladder.output, name=self.name)
