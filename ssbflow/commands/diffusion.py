"""``ssbflow diffusion`` (MD + analysis) and ``ssbflow diffusion-analyze`` (analysis only)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import (
    CALCULATOR_KWARGS_OPTION,
    DATA_DIR_OPTION,
    JSON_OPTION,
    emit_json,
    load_settings,
    parse_calculator_kwargs,
    require_positive,
    run_or_submit,
)
from ssbflow.errors import InputError

#: Keys of the --json object, in this order.
JSON_KEYS = (
    "activation_energy_eV",
    "activation_energy_stderr_eV",
    "prefactor_D0_cm2_per_s",
    "diffusivity_cm2_per_s",
    "diffusivity_stderr_cm2_per_s",
    "conductivity_300K_S_per_cm",
    "attempt_frequency_THz",
    "temperatures_K",
    "excluded_temperatures",
)
EXTRA_JSON_KEYS = (
    "status",
    "failure_reason",
    "species",
    "formula",
    "thermostat",
    "fitted_temperatures_K",
    "activation_energy_sigmaT_eV",
    "activation_energy_sigmaT_stderr_eV",
    "conductivity_300K_stderr_S_per_cm",
    "diffusivity_300K_cm2_per_s",
    "attempt_frequency_stderr_THz",
    "attempt_frequency_formula",
    "jump_distance_A",
    "haven_ratio",
    "collective_diffusivity_cm2_per_s",
    "collective_diffusivity_stderr_cm2_per_s",
    "haven_ratio_measured",
    "haven_ratio_measured_stderr",
    "ion_charge",
    "non_arrhenius",
    "arrhenius_check",
    "warnings",
    "ladder",
    "ladder_log",
    "target_precision",
    "max_duration_ps",
    "run_duration_ps",
    "relative_stderr",
    "stop_kinds",
    "stop_reasons",
    "framework_rmsd_A",
    "total_production_ps",
    "device",
    "resumed_from",
    "finite_size_correction",
    "diffusivity_corrected_cm2_per_s",
)

# Options shared by `diffusion` and `diffusion-analyze`.
HAVEN_RATIO_OPTION = typer.Option(
    1.0, "--haven-ratio", help="Haven ratio for Nernst–Einstein (D*/D_sigma; 1 = uncorrelated)."
)
ION_CHARGE_OPTION = typer.Option(1, "--ion-charge", help="Charge number of the ion.")
JUMP_DISTANCE_OPTION = typer.Option(
    None, "--jump-distance", help="Jump distance a (Å); default: nearest mobile pair."
)
MIN_MSD_OPTION = typer.Option(
    3.0, "--min-msd", help="Exclude T whose MSD rises less than this over the fit (Å²)."
)

TEMPERATURES_HELP = (
    "Temperatures in K: '600 800 1000' (quoted), '600,800,1000', or unquoted numbers "
    "right after the option (--temperatures 600 800 1000)."
)

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _is_number(token: str) -> bool:
    return bool(_NUMBER.match(token.strip()))


def parse_temperatures(text: str | None, extra: list[str]) -> list[float]:
    """Temperatures from the option text plus stray numeric tokens (InputError if bad)."""
    tokens = [t for t in re.split(r"[\s,;]+", text or "") if t] + list(extra)
    temps = []
    for token in tokens:
        if not _is_number(token):
            raise InputError(f"--temperatures: '{token}' is not a number; write e.g. 600 800 1000")
        value = float(token)
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"temperatures must be positive, got {token} K")
        from ssbflow.validation import check_temperature

        temps.append(check_temperature(value, "temperatures_K"))
    return temps


def _split_numbers(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(numeric tokens that are not existing files, everything else), order kept."""
    numbers, rest = [], []
    for token in tokens:
        (numbers if _is_number(token) and not Path(token).exists() else rest).append(token)
    return numbers, rest


def load_structure_arg(text: str):
    """A library phase name or a structure file (CIF, POSCAR, ...)."""
    from pymatgen.core import Structure

    path = Path(text)
    if path.is_file():
        try:
            return Structure.from_file(str(path))
        except Exception as exc:
            raise InputError(f"cannot read a structure from {path}: {exc}") from exc
    try:
        from ssbflow.structures.library import load_structure
    except ImportError as exc:
        raise InputError(f"no structure file '{text}'; give a CIF or POSCAR file") from exc
    return load_structure(text)


def read_trajectory(path: Path, timestep_fs: float | None) -> tuple[dict[str, Any], float]:
    """Read extxyz, ASE .traj or VASP XDATCAR; returns (arrays, frame interval in ps).

    For extxyz with a ``time_fs`` value in each frame's info, the interval comes from it;
    otherwise ``timestep_fs`` is the time between frames.
    """
    from ase.io import read

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
            f"{path} has no per-frame time_fs; give the time between frames with --timestep-fs"
        )
    else:
        interval_ps = timestep_fs / 1000.0
    arrays = {
        "positions_A": np.array([f.get_positions() for f in frames]),
        "cells_A": np.array([f.cell[:] for f in frames]),
        "symbols": symbols,
    }
    return arrays, interval_ps


def _print_table(doc: dict[str, Any], title: str) -> None:
    console = Console()
    table = Table(title=title)
    columns = ("T (K)", "D* (cm²/s)", "± stderr", "D_J (cm²/s)", "H_R = D*/D_J")
    for col in (*columns, "MSD rise (Å²)", "note"):
        table.add_column(col)
    excluded = doc.get("excluded_temperatures") or {}
    rise = doc.get("msd_increase_over_fit_A2") or {}
    d_j = doc.get("collective_diffusivity_cm2_per_s") or {}
    d_j_err = doc.get("collective_diffusivity_stderr_cm2_per_s") or {}
    haven = doc.get("haven_ratio_measured") or {}
    haven_err = doc.get("haven_ratio_measured_stderr") or {}
    for key, d in doc.get("diffusivity_cm2_per_s", {}).items():
        err = doc["diffusivity_stderr_cm2_per_s"].get(key)
        table.add_row(
            key,
            f"{d:.3e}",
            f"{err:.1e}" if err is not None else "",
            f"{d_j[key]:.2e} ± {d_j_err[key]:.1e}" if key in d_j else "—",
            f"{haven[key]:.2f} ± {haven_err[key]:.2f}" if key in haven else "—",
            f"{rise[key]:.2f}" if key in rise else "",
            "excluded: " + excluded[key] if key in excluded else "fitted",
        )
    console.print(table)
    _print_runs(console, doc)
    if doc.get("status") == "failed":
        console.print(f"[red]no Arrhenius fit:[/red] {doc.get('failure_reason')}")
        return
    lines = [
        f"Ea = {doc['activation_energy_eV']:.3f} ± {doc['activation_energy_stderr_eV']:.3f} eV"
        f" (sigma*T fit: {doc['activation_energy_sigmaT_eV']:.3f} eV)",
        f"D0 = {doc['prefactor_D0_cm2_per_s']:.3e} cm²/s",
        f"sigma(300 K) = {doc['conductivity_300K_S_per_cm']:.3e} S/cm "
        f"(Nernst–Einstein, Haven ratio {doc['haven_ratio']:g})",
        f"nu0 = {doc['attempt_frequency_THz']:.3g} THz (a = {doc['jump_distance_A']:.3g} Å; "
        "nu0 = 6 D0 / a², 3-D uncorrelated hopping)",
        f"Arrhenius check: {doc.get('arrhenius_check')}",
    ]
    for line in lines:
        console.print(line)


def _print_runs(console: Console, doc: dict[str, Any]) -> None:
    """Per temperature: production run, precision reached, why it stopped; the ladder."""
    reasons = doc.get("stop_reasons") or {}
    if not reasons:
        return
    table = Table(title="MD runs")
    for col in ("T (K)", "run (ps)", "σ(D*)/D*", "stopped because"):
        table.add_column(col)
    durations = doc.get("run_duration_ps") or {}
    rel = doc.get("relative_stderr") or {}
    for key, why in reasons.items():
        table.add_row(
            key,
            f"{durations[key]:.3g}" if key in durations else "",
            f"{rel[key]:.3f}" if key in rel else "—",
            why,
        )
    console.print(table)
    for line in doc.get("ladder_log") or []:
        console.print(f"ladder: {line}")
    extra = []
    if doc.get("total_production_ps") is not None:
        extra.append(f"{doc['total_production_ps']:.3g} ps of production MD")
    if doc.get("device"):
        extra.append(f"on {doc['device']}")
    if doc.get("resumed_from"):
        extra.append("resumed at " + ", ".join(f"{k} K" for k in doc["resumed_from"]))
    if extra:
        console.print("; ".join(extra))
    if doc.get("finite_size_correction"):
        console.print(f"finite-size correction: {doc['finite_size_correction']}")


def _write_outputs(doc: dict[str, Any], output: Path, title: str) -> list[Path]:
    from ssbflow.plots.diffusion import plot_arrhenius, plot_msd

    output.mkdir(parents=True, exist_ok=True)
    results = output / "diffusion.json"
    results.write_text(json.dumps(_clean(doc), indent=2, default=str))
    written = [results]
    if doc.get("diffusivity_cm2_per_s"):
        written.append(
            plot_arrhenius(
                doc["diffusivity_cm2_per_s"],
                doc["diffusivity_stderr_cm2_per_s"],
                output / "arrhenius.png",
                activation_energy_eV=doc.get("activation_energy_eV"),
                prefactor_D0_cm2_per_s=doc.get("prefactor_D0_cm2_per_s"),
                excluded=list(doc.get("excluded_temperatures") or {}),
                title=title,
            )
        )
    if doc.get("msd_curves"):
        written.append(
            plot_msd(doc["msd_curves"], output / "msd.png", doc.get("msd_fit_window_ps"), title)
        )
    return written


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _json_view(doc: dict[str, Any], plots: list[Path]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in JSON_KEYS}
    out.update({k: doc.get(k) for k in EXTRA_JSON_KEYS if k in doc})
    out["files"] = [str(p) for p in plots]
    return out


def register(app: typer.Typer) -> None:
    """Add ``diffusion`` and ``diffusion-analyze``."""

    @app.command(
        "diffusion", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
    )
    def diffusion(
        ctx: typer.Context,
        structure: str = typer.Argument(..., help="Library phase name or structure file."),
        species: str = typer.Option(..., "--species", help="Mobile species, e.g. Li."),
        temperatures: str = typer.Option(
            "600 800 1000 1200", "--temperatures", help=TEMPERATURES_HELP
        ),
        duration_ps: float = typer.Option(20.0, "--duration-ps", help="Production MD per T."),
        equilibration_ps: float = typer.Option(
            2.0, "--equilibration-ps", help="NVT equilibration per T (0: none)."
        ),
        timestep_fs: float = typer.Option(1.0, "--timestep-fs", help="MD time step (fs)."),
        sample_interval_fs: float = typer.Option(
            10.0, "--sample-interval-fs", help="Store positions every this many fs."
        ),
        thermostat: str = typer.Option(
            "bussi", "--thermostat", help="bussi (CSVR) | nose-hoover-chain | nve."
        ),
        calculator: str = typer.Option(None, "--calculator", help="Calculator (default chgnet)."),
        calculator_kwargs: str = CALCULATOR_KWARGS_OPTION,
        supercell_min_length: float = typer.Option(
            10.0, "--supercell-min-length", help="Minimum perpendicular cell width (Å)."
        ),
        relax: bool = typer.Option(True, "--relax/--no-relax", help="Relax the cell first."),
        haven_ratio: float = HAVEN_RATIO_OPTION,
        ion_charge: int = ION_CHARGE_OPTION,
        jump_distance: float = JUMP_DISTANCE_OPTION,
        min_msd: float = MIN_MSD_OPTION,
        seed: int = typer.Option(0, "--seed", help="Random seed (velocities, thermostat, MCMC)."),
        target_precision: float = typer.Option(
            None,
            "--target-precision",
            help="Run each T until sigma(D*)/D* <= this (e.g. 0.1), at most --max-duration-ps; "
            "without it every T runs exactly --duration-ps.",
        ),
        max_duration_ps: float = typer.Option(
            50.0, "--max-duration-ps", help="Ceiling on production per T with a target (ps)."
        ),
        chunk_ps: float = typer.Option(
            2.0, "--chunk-ps", help="Checkpoint (and check the precision) every this many ps."
        ),
        max_total_ps: float = typer.Option(
            None, "--max-total-ps", help="Production budget of the whole auto ladder (ps)."
        ),
        auto_start: float = typer.Option(
            1200.0, "--auto-start", help="First (hottest) rung of --temperatures auto (K)."
        ),
        auto_min: float = typer.Option(
            300.0, "--auto-min", help="Lowest rung --temperatures auto may try (K)."
        ),
        auto_step: float = typer.Option(
            1.25e-4, "--auto-step", help="Step of --temperatures auto in 1/T (1/K)."
        ),
        auto_max_temperatures: int = typer.Option(
            6, "--auto-max-temperatures", help="Stop --temperatures auto after this many Ts."
        ),
        fit_start_ps: float = typer.Option(
            2.0,
            "--fit-start-ps",
            help="With --target-precision: start of the MSD fit (ps); the fit then takes every "
            "interval up to the whole run, so the error falls with the run length.",
        ),
        breakdown_lindemann: float = typer.Option(
            0.3,
            "--breakdown-lindemann",
            help="Framework RMSD / spacing (V/N)^(1/3) of its least mobile element that "
            "counts as melting.",
        ),
        device: str = typer.Option(
            "auto", "--device", help="auto (CUDA if torch sees a GPU) | cpu | cuda."
        ),
        parallel: int = typer.Option(
            None,
            "--parallel",
            help="Temperatures run side by side here, torch threads split between them "
            "(default: one per core, see benchmarks/results/diffusion.md).",
        ),
        resume: bool = typer.Option(
            True,
            "--resume/--no-resume",
            help="Checkpoint the MD in the data dir; a rerun continues a killed study.",
        ),
        output: Path = typer.Option(None, "--output", help="Folder for results and plots."),
        data_dir: Path = DATA_DIR_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> int | None:
        """MD at a temperature ladder → D(T) → Arrhenius Ea, σ(300 K), attempt frequency.

        Put --temperatures last or quote its value; unquoted numbers after it are taken
        as temperatures.
        """
        from ssbflow.workflows.calc import CalcRelaxMaker
        from ssbflow.workflows.diffusion import DiffusionMaker

        numbers, rest = _split_numbers([structure, *ctx.args])
        if len(rest) != 1:
            raise InputError(
                f"give exactly one STRUCTURE, got {rest or 'none'}; "
                "write e.g. ssbflow diffusion Li3PS4 --species Li --temperatures 600 800"
            )
        auto = (temperatures or "").strip().lower() == "auto"
        if auto and numbers:
            raise InputError(
                f"--temperatures auto takes no temperatures, got {' '.join(numbers)}; give "
                "either auto or a list"
            )
        temps = [] if auto else parse_temperatures(temperatures, numbers)
        if auto and target_precision is None:
            raise InputError(
                "--temperatures auto needs --target-precision (e.g. 0.1): the ladder steps down "
                "while D* can be measured to it"
            )
        require_positive(max_duration_ps, "--max-duration-ps")
        require_positive(chunk_ps, "--chunk-ps")
        if parallel is not None and parallel < 1:
            raise InputError(f"--parallel must be >= 1, got {parallel}")
        require_positive(timestep_fs, "--timestep-fs", maximum=5)
        require_positive(duration_ps, "--duration-ps")
        require_positive(sample_interval_fs, "--sample-interval-fs")
        require_positive(supercell_min_length, "--supercell-min-length", maximum=100)
        settings = load_settings(data_dir)
        maker = DiffusionMaker(
            calculator_name=calculator or settings.default_calculator,
            calculator_kwargs=parse_calculator_kwargs(calculator_kwargs),
            temperatures_K=tuple(temps),
            duration_ps=duration_ps,
            equilibration_ps=equilibration_ps,
            time_step_fs=timestep_fs,
            sample_interval_fs=sample_interval_fs,
            supercell_min_length_A=supercell_min_length,
            thermostat=thermostat,
            relax_maker=CalcRelaxMaker() if relax else None,
            seed=seed,
            min_msd_increase_A2=min_msd,
            ion_charge=ion_charge,
            haven_ratio=haven_ratio,
            jump_distance_A=jump_distance,
            target_precision=target_precision,
            max_duration_ps=max_duration_ps,
            chunk_ps=chunk_ps,
            max_total_ps=max_total_ps,
            auto_temperatures=auto,
            auto_start_K=auto_start,
            auto_min_K=auto_min,
            auto_step_inv_K=auto_step,
            auto_max_temperatures=auto_max_temperatures,
            breakdown_lindemann=breakdown_lindemann,
            fit_start_ps=fit_start_ps,
            device=device,
            concurrent_temperatures=_local_parallelism(ctx, parallel, len(temps)),
            checkpoint_dir=str((settings.data_dir / "md-checkpoints").resolve())
            if resume
            else None,
        )
        maker.validate()  # bad settings fail before the structure is read
        bulk = load_structure_arg(rest[0])
        system = Path(rest[0]).stem if Path(rest[0]).is_file() else rest[0]
        flow = maker.make(bulk, species, system=system)
        from ssbflow.execution.runner import FlowFailedError

        try:
            responses = run_or_submit(ctx, flow, settings)
        except FlowFailedError as exc:
            # an MD job raised: the analysis still stored a failed summary (issue 10)
            doc = _stored_summary(settings, flow)
            if doc is None:
                raise exc from None
            doc["failure_reason"] = f"{doc.get('failure_reason')} ({exc})"
        else:
            if responses is None:
                return None
            doc = _find_document(responses)
        if doc.get("status") == "failed":  # one line; the summary itself is stored
            reason = " ".join(str(doc.get("failure_reason")).split())
            sys.stderr.write(f"ssbflow: error: diffusion study failed: {reason}\n")
        out_dir = output or Path(f"diffusion-{doc['formula']}-{species}")
        plots = _write_outputs(doc, out_dir, f"{doc['formula']} ({species})")
        if as_json:
            emit_json(_json_view(doc, plots))
        else:
            _print_table(doc, f"{species} diffusion in {doc['formula']} ({doc['calculator']})")
            Console().print(f"results and plots in {out_dir}")
        return 1 if doc.get("status") == "failed" else 0

    @app.command("diffusion-analyze")
    def diffusion_analyze(
        trajectories: list[str] = typer.Argument(
            ..., help="Trajectory files (extxyz, .traj, XDATCAR), one per temperature."
        ),
        species: str = typer.Option(..., "--species", help="Mobile species, e.g. Li."),
        temperatures: str = typer.Option(..., "--temperatures", help=TEMPERATURES_HELP),
        timestep_fs: float = typer.Option(
            None, "--timestep-fs", help="Time between frames (fs) when files carry no time_fs."
        ),
        haven_ratio: float = HAVEN_RATIO_OPTION,
        ion_charge: int = ION_CHARGE_OPTION,
        jump_distance: float = JUMP_DISTANCE_OPTION,
        min_msd: float = MIN_MSD_OPTION,
        fit_start_fraction: float = typer.Option(
            0.1, "--fit-start", help="Start of the fit window (fraction of the trajectory)."
        ),
        seed: int = typer.Option(0, "--seed", help="MCMC seed."),
        output: Path = typer.Option(None, "--output", help="Folder for results and plots."),
        as_json: bool = JSON_OPTION,
    ) -> int:
        """D, Ea, σ(300 K) and ν0 from existing trajectories (nothing is stored).

        Temperatures are matched to the files in order.
        """
        from ssbflow.analysis.diffusion import (
            collective_diffusivity,
            nearest_neighbour_distance_A,
            tracer_diffusivity,
        )
        from ssbflow.workflows.diffusion import summarize_diffusion

        numbers, files = _split_numbers(list(trajectories))
        temps = parse_temperatures(temperatures, numbers)
        if timestep_fs is not None:
            require_positive(timestep_fs, "--timestep-fs")
        if not files:
            raise InputError("give at least two trajectory files, one per temperature")
        if len(temps) != len(files):
            raise InputError(
                f"{len(files)} trajectories but {len(temps)} temperatures; give one "
                "temperature per file, in the same order"
            )
        if len(files) < 2:
            raise InputError(
                "an Arrhenius fit needs trajectories at two or more temperatures; got one"
            )
        if len(set(temps)) != len(temps):
            raise InputError(f"temperatures must be distinct, got {temps}")
        loaded = [read_trajectory(Path(f), timestep_fs) for f in files]
        from ssbflow.validation import check_same_system

        check_same_system(
            [(str(f), arrays["symbols"]) for f, (arrays, _) in zip(files, loaded, strict=True)]
        )
        results, collective, skipped = [], [], []
        for (arrays, interval_ps), temp in zip(loaded, temps, strict=True):
            args = (arrays["positions_A"], arrays["cells_A"], arrays["symbols"], species)
            options = {
                "frame_interval_ps": interval_ps,
                "temperature_K": temp,
                "fit_start_fraction": fit_start_fraction,
                "seed": seed,
            }
            results.append(tracer_diffusivity(*args, min_msd_increase_A2=min_msd, **options))
            try:
                collective.append(collective_diffusivity(*args, **options))
            except InputError as exc:
                skipped.append(f"collective diffusivity not computed at {temp:g} K: {exc}")
        first = loaded[0][0]
        jump = jump_distance
        if jump is None:
            jump = nearest_neighbour_distance_A(
                first["positions_A"][0],
                first["cells_A"][0],
                [i for i, s in enumerate(first["symbols"]) if s == species],
            )
        require_positive(jump, "--jump-distance")
        doc = summarize_diffusion(
            results,
            jump_distance_A=float(jump),
            ion_charge=ion_charge,
            haven_ratio=haven_ratio,
            collective=collective,
        )
        doc["warnings"] = [*doc.get("warnings", []), *skipped]
        from pymatgen.core import Composition

        formula = Composition("".join(first["symbols"])).reduced_formula
        doc.update(species=species, formula=formula, status="successful")
        out_dir = output or Path(f"diffusion-{formula}-{species}")
        plots = _write_outputs(doc, out_dir, f"{formula} ({species})")
        if as_json:
            emit_json(_json_view(doc, plots))
        else:
            _print_table(doc, f"{species} diffusion in {formula} (from trajectories)")
            Console().print(f"results and plots in {out_dir}")
        return 0


def _local_parallelism(ctx: typer.Context, requested: int | None, n_temperatures: int) -> int:
    """Temperatures run side by side in this process's job (1 when submitting: FireWorks
    runs each temperature as its own job). Default: one per core, as measured faster than
    one run using every core (benchmarks/results/diffusion.md)."""
    from ssbflow.commands._common import get_mode

    if get_mode(ctx).submit:
        return 1
    if requested is not None:
        return requested
    from ssbflow.workflows.diffusion import usable_cores

    return max(1, min(usable_cores(), n_temperatures))


def _stored_summary(settings: Any, flow: Any) -> dict[str, Any] | None:
    """The diffusion summary a failed run stored: the flow's output (explicit ladder), or
    else the newest diffusion document of a job hosted by the flow (the automatic ladder
    adds its analysis at run time). ``None`` when there is none."""
    from ssbflow.commands._common import load_output

    try:
        doc = load_output(settings, flow.output.uuid)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("result_type") == "diffusion":
        return doc
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    try:
        found = store.query_one(
            {"hosts": flow.uuid, "output.result_type": "diffusion"},
            properties=["uuid"],
            sort={"completed_at": -1},
        )
    finally:
        store.close()
    return load_output(settings, found["uuid"]) if found else None


def _find_document(responses: dict) -> dict[str, Any]:
    """The DiffusionDocument among a local run's responses, as a dict."""
    from ssbflow.workflows.diffusion import DiffusionDocument

    for by_index in responses.values():
        for response in by_index.values():
            output = getattr(response, "output", None)
            if isinstance(output, DiffusionDocument):
                from monty.json import jsanitize

                return jsanitize(output, strict=True, enum_values=True)
    raise RuntimeError("the diffusion flow finished without a DiffusionDocument")
