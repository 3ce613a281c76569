"""Ion diffusion: MD on a temperature ladder → tracer D(T) → Arrhenius Ea, σ(300 K), ν0.

Flow (`DiffusionMaker.make(structure, species)`)::

    relax (optional, CalcRelaxMaker) → supercell → ladder ──(run-time fan-out)──┐
        per temperature: NVT equilibration → production MD (independent jobs)    │
        analysis → DiffusionDocument (result_type="diffusion")  ◄───────────────┘

The per-temperature jobs are created at run time by the ladder job with
``Response(replace=Flow(...))``; each temperature is its own chain of jobs, so FireWorks
can run the temperatures in parallel.

MD runs through atomate2's `AseMDMaker` (`CalcMDMaker`), with the calculator chosen by
``calculator_name`` + ``calculator_kwargs``. The thermostat leaves transport intact:
Bussi's stochastic velocity rescaling (CSVR, the default; a global thermostat that does
not damp single-particle motion), a Nosé–Hoover chain, or NVE after NVT equilibration.
Langevin is refused for production. Sampled trajectories go to the JobStore's ``data``
store (field ``trajectory`` of each `MDRunDocument`), never into the summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase.calculators.calculator import Calculator
from atomate2.ase.md import AseMDMaker, MDEnsemble
from jobflow import Flow, Maker, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.arrhenius import ATTEMPT_FREQUENCY_FORMULA, analyze_arrhenius
from ssbflow.analysis.diffusion import (
    DEFAULT_MIN_MSD_INCREASE_A2,
    MIN_FRAMES,
    CollectiveDiffusivityResult,
    DiffusivityResult,
    collective_diffusivity,
    nearest_neighbour_distance_A,
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
        from ssbflow.runner import stderr_console

        done = self.dyn.nsteps
        if done == 0:
            return
        temp = self.dyn.atoms.get_temperature()
        stderr_console.log(
            f"{self.label}: {100 * done / self.n_steps:.0f}% ({done}/{self.n_steps} steps, "
            f"T = {temp:.0f} K)"
        )


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
    trajectory_job_uuids: dict[str, str] = Field(default_factory=dict)
    msd_curves: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict,
        description="Per temperature: time_ps, msd_A2, msd_stderr_A2 (in the data store)",
    )
    notes: list[str] = Field(default_factory=list)


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
) -> DiffusionDocument:
    """Tracer D at each temperature (kinisi) and the Arrhenius analysis."""
    results: list[DiffusivityResult] = []
    collective: list[CollectiveDiffusivityResult] = []
    skipped_collective: list[str] = []
    errors: dict[str, str] = {}
    for run in runs:
        traj = run.trajectory
        if traj is None:  # pragma: no cover - production always stores positions
            raise ValueError(f"production run at {run.temperature_K} K stored no trajectory")
        args = (np.asarray(traj.positions_A), np.asarray(traj.cell_A), traj.symbols, species)
        options = {
            "frame_interval_ps": run.sample_interval_fs / 1000.0,
            "temperature_K": run.temperature_K,
            "fit_start_fraction": maker.fit_start_fraction,
            "max_interval_fraction": maker.max_interval_fraction,
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
    if errors:
        fields["excluded_temperatures"] = {**fields.get("excluded_temperatures", {}), **errors}
        fields["temperatures_K"] = [r.temperature_K for r in runs]
        if fields.get("status") == "failed":
            fields["failure_reason"] += "; " + "; ".join(f"{k} K: {v}" for k, v in errors.items())
    return DiffusionDocument(**common, **fields)


@job
def diffusion_ladder(
    structure: Structure, species: str, maker: DiffusionMaker, system: str, upstream: list[str]
) -> Response:
    """Fan out equilibration + production MD per temperature, then the analysis."""
    jobs = []
    productions = []
    for i, temp in enumerate(maker.temperatures_K):
        equil, prod = maker.md_jobs(structure, float(temp), seed=maker.seed + i)
        if equil is not None:
            jobs.append(equil)
        jobs.append(prod)
        productions.append(prod)
    analysis = analyze_diffusion(
        [p.output for p in productions],
        [p.uuid for p in productions],
        structure,
        species,
        maker,
        system,
        upstream,
    )
    analysis.name = f"{maker.name} analysis"
    jobs.append(analysis)
    return Response(replace=Flow(jobs, output=analysis.output, name=f"{maker.name} ladder"))


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
        MD progress line every this many percent (``None``: silent).
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
    thermostat: str = "bussi"
    thermostat_time_fs: float = 100.0
    equilibration_thermostat_time_fs: float = 50.0
    relax_maker: CalcRelaxMaker | None = field(default_factory=CalcRelaxMaker)
    seed: int = 0
    fit_start_fraction: float = 0.1
    max_interval_fraction: float = 0.5
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2
    ion_charge: int = 1
    haven_ratio: float = 1.0
    collective: bool = True
    jump_distance_A: float | None = None
    progress_percent: float | None = 10.0

    def settings_dict(self) -> dict[str, Any]:
        """The maker's settings, for provenance."""
        keys = (
            "temperatures_K duration_ps equilibration_ps time_step_fs sample_interval_fs "
            "supercell_min_length_A thermostat thermostat_time_fs "
            "equilibration_thermostat_time_fs seed fit_start_fraction max_interval_fraction "
            "min_msd_increase_A2 ion_charge haven_ratio collective jump_distance_A"
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
        temps = [float(t) for t in self.temperatures_K]
        if any(not math.isfinite(t) or t <= 0 for t in temps):
            raise InputError(f"temperatures must be positive, got {temps}")
        if len(set(temps)) < 2:
            raise InputError(
                f"an Arrhenius fit needs at least two different temperatures, got {temps}"
            )
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
        n, interval = self._steps(self.duration_ps)
        frames = n // interval + 1
        if frames < 4 * MIN_FRAMES:
            raise InputError(
                f"{self.duration_ps} ps sampled every {self.sample_interval_fs} fs gives only "
                f"{frames} frames; sample more often or run longer (>= {4 * MIN_FRAMES})"
            )
        if self.haven_ratio <= 0:
            raise InputError(f"the Haven ratio must be positive, got {self.haven_ratio}")
        if self.jump_distance_A is not None and self.jump_distance_A <= 0:
            raise InputError(f"the jump distance must be positive, got {self.jump_distance_A}")

    def md_jobs(self, structure: Structure, temperature_K: float, seed: int):
        """(equilibration job or None, production job) at one temperature."""
        common = {
            "calculator_name": self.calculator_name,
            "calculator_kwargs": dict(self.calculator_kwargs),
            "temperature": temperature_K,
            "time_step": self.time_step_fs,
            "progress_percent": self.progress_percent,
            "mb_velocity_seed": seed,
        }
        equil = None
        start = structure
        if self.equilibration_ps > 0:
            n_eq, _ = self._steps(self.equilibration_ps)
            n_eq = max(n_eq, 1)
            equil = CalcMDMaker(
                name=f"equilibrate {temperature_K:g} K",
                n_steps=n_eq,
                traj_interval=n_eq,
                thermostat="bussi",
                thermostat_time_fs=self.equilibration_thermostat_time_fs,
                stage="equilibration",
                store_positions=False,
                **common,
            ).make(structure)
            start = equil.output.final_structure
        n, interval = self._steps(self.duration_ps)
        prod = CalcMDMaker(
            name=f"production {temperature_K:g} K",
            n_steps=n,
            traj_interval=interval,
            thermostat=self.thermostat,
            thermostat_time_fs=self.thermostat_time_fs,
            stage="production",
            store_positions=True,
            **common,
        ).make(start)
        return equil, prod

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
