"""``ssbflow diffusion`` (MD + analysis) and ``ssbflow diffusion-analyze`` (analysis only)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import (
    CALCULATOR_KWARGS_OPTION,
    DATA_DIR_OPTION,
    JSON_OPTION,
    emit_json,
    json_safe,
    load_settings,
    parse_calculator_kwargs,
    require_positive,
    run_command_flow,
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
    """Deprecated: use `ssbflow.workflows.trajectory.read_trajectory`."""
    import warnings

    from ssbflow.workflows.trajectory import read_trajectory as _read

    warnings.warn(
        "ssbflow.commands.diffusion.read_trajectory is deprecated; use "
        "ssbflow.workflows.trajectory.read_trajectory",
        DeprecationWarning,
        stacklevel=2,
    )
    return _read(path, timestep_fs)


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
    results.write_text(json.dumps(json_safe(doc), indent=2, default=str))
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


def _json_view(doc: dict[str, Any], plots: list[Path]) -> dict[str, Any]:
    out = {k: doc.get(k) for k in JSON_KEYS}
    out.update({k: doc.get(k) for k in EXTRA_JSON_KEYS if k in doc})
    out["files"] = [str(p) for p in plots]
    return out


def diffusion(
    ctx: typer.Context,
    structure: str = typer.Argument(..., help="Library phase name or structure file."),
    species: str = typer.Option(..., "--species", help="Mobile species, e.g. Li."),
    temperatures: str = typer.Option("600 800 1000 1200", "--temperatures", help=TEMPERATURES_HELP),
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
        checkpoint_dir=str((settings.data_dir / "md-checkpoints").resolve()) if resume else None,
    )
    maker.validate()  # bad settings fail before the structure is read
    bulk = load_structure_arg(rest[0])
    system = Path(rest[0]).stem if Path(rest[0]).is_file() else rest[0]
    flow = maker.make(bulk, species, system=system)
    doc = _run_study(ctx, flow, settings)
    if doc is None:  # submitted
        return None
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
    from ssbflow.workflows.diffusion import analyze_trajectory_files

    numbers, files = _split_numbers(list(trajectories))
    temps = parse_temperatures(temperatures, numbers)
    if timestep_fs is not None:
        require_positive(timestep_fs, "--timestep-fs")
    doc = analyze_trajectory_files(
        files,
        temps,
        species,
        timestep_fs=timestep_fs,
        fit_start_fraction=fit_start_fraction,
        min_msd_increase_A2=min_msd,
        seed=seed,
        jump_distance_A=jump_distance,
        ion_charge=ion_charge,
        haven_ratio=haven_ratio,
    )
    formula = doc["formula"]
    out_dir = output or Path(f"diffusion-{formula}-{species}")
    plots = _write_outputs(doc, out_dir, f"{formula} ({species})")
    if as_json:
        emit_json(_json_view(doc, plots))
    else:
        _print_table(doc, f"{species} diffusion in {formula} (from trajectories)")
        Console().print(f"results and plots in {out_dir}")
    return 0


def _run_study(ctx: typer.Context, flow: Any, settings: Any) -> dict[str, Any] | None:
    """Run (or submit) a diffusion flow; its stored summary, ``None`` when submitted.

    When an MD job raised, the analysis still stored a failed summary (issue 10): its
    failure reason then names the job's error too. No summary at all re-raises the
    failure.
    """
    from ssbflow.workflows.diffusion import summary_uuid_of

    outcome = run_command_flow(ctx, flow, settings, summary_uuids=[summary_uuid_of(flow)])
    if outcome is None:
        return None
    doc = outcome.document
    if doc is None:
        if outcome.failure is not None:
            raise outcome.failure from None
        raise RuntimeError("the diffusion flow finished without a DiffusionDocument")
    if outcome.failure is not None:
        doc["failure_reason"] = f"{doc.get('failure_reason')} ({outcome.failure})"
    return doc


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


def register(app: typer.Typer) -> None:
    """Add ``diffusion`` and ``diffusion-analyze``."""
    app.command(
        "diffusion", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
    )(diffusion)
    app.command("diffusion-analyze")(diffusion_analyze)
