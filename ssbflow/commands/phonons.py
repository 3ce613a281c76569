"""``ssbflow phonons``: harmonic phonons → Debye temperatures, band centre, thermal properties."""

from __future__ import annotations

import dataclasses
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
    fmt,
    load_settings,
    parse_calculator_kwargs,
    print_warnings,
    run_command_flow,
    write_structures,
)
from ssbflow.errors import InputError

#: Keys of the --json object, in this order.
JSON_KEYS = (
    "status",
    "failure_reason",
    "formula",
    "calculator",
    "debye_temperature_K",
    "debye_temperature_acoustic_K",
    "debye_frequency_THz",
    "debye_frequency_acoustic_THz",
    "mobile_species",
    "mobile_ion_band_center_THz",
    "heat_capacity_300K_J_per_K_mol",
    "entropy_300K_J_per_K_mol",
    "n_imaginary_modes",
    "min_frequency_THz",
    "min_frequency_qpoint",
    "dynamically_stable",
    "mesh",
    "supercell_matrix",
    "n_displacements",
    "diffusion_comparison",
    "warnings",
)

#: Longest supercell minimum length accepted on the command line, Å.
MAX_SUPERCELL_LENGTH_A = 50.0


def _print_summary(doc: dict[str, Any], plot: Path | None, band_plot: Path | None) -> None:
    console = Console()
    if doc.get("status") != "successful" and doc.get("min_frequency_THz") is None:
        console.print(f"[red]phonons of {doc['formula']} failed[/red]; stored as failed")
        console.print(f"uuid: {doc['uuid']}")
        return
    table = Table(title=f"Phonons of {doc['formula']} ({doc['calculator']})")
    table.add_column("quantity")
    table.add_column("value")
    table.add_column("definition")
    rows = [
        ("Debye temperature", f"{fmt(doc.get('debye_temperature_K'), '.1f')} K", "moment"),
        (
            "Debye temperature",
            f"{fmt(doc.get('debye_temperature_acoustic_K'), '.1f')} K",
            "low-frequency ν² fit",
        ),
        ("Debye frequency", f"{fmt(doc.get('debye_frequency_THz'), '.3f')} THz", "moment"),
        (
            "mobile-ion band centre",
            f"{fmt(doc.get('mobile_ion_band_center_THz'), '.3f')} THz",
            ", ".join(doc.get("mobile_species") or []) or "no mobile species",
        ),
        (
            "C_v (300 K)",
            f"{fmt(doc.get('heat_capacity_300K_J_per_K_mol'), '.2f')} J/K/mol",
            "per formula unit",
        ),
        (
            "S_vib (300 K)",
            f"{fmt(doc.get('entropy_300K_J_per_K_mol'), '.2f')} J/K/mol",
            "per formula unit",
        ),
        (
            "imaginary modes",
            str(doc.get("n_imaginary_modes")),
            f"min {doc.get('min_frequency_THz'):.3f} THz",
        ),
    ]
    comparison = doc.get("diffusion_comparison")
    if comparison:
        rows.append(
            (
                "Arrhenius attempt frequency",
                f"{fmt(comparison.get('attempt_frequency_THz'), '.3f')} THz",
                f"diffusion result {comparison['diffusion_uuid'][:8]}",
            )
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print_warnings(console, doc)
    if plot is not None:
        console.print(f"DOS plot: {plot}")
    if band_plot is not None:
        console.print(f"band-structure plot: {band_plot}")
    console.print(f"uuid: {doc['uuid']}")


def phonons(
    ctx: typer.Context,
    structure: str = typer.Argument(..., help="Library phase name or structure file."),
    calculator: str | None = typer.Option(
        None, "--calculator", help="Calculator name (default: settings default_calculator)."
    ),
    calculator_kwargs: str | None = CALCULATOR_KWARGS_OPTION,
    supercell_min_length: float = typer.Option(
        10.0, "--supercell-min-length", help="Minimum supercell side (inscribed cube), Å."
    ),
    mesh: tuple[int, int, int] | None = typer.Option(
        None, "--mesh", help="q-point mesh N N N for DOS and thermal properties."
    ),
    mobile_species: list[str] | None = typer.Option(
        None, "--mobile-species", help="Mobile ion species (repeatable; default Li/Na/K)."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Fail (exit 1) for dynamically unstable structures."
    ),
    no_relax: bool = typer.Option(False, "--no-relax", help="Skip the relaxation."),
    output: Path = typer.Option(
        Path("."), "--output", help="Folder for the DOS plot and relaxed structure."
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Harmonic phonons: Debye temperature/frequency, mobile-ion band centre, C_v, S."""
    from ssbflow.structures.library import load_structure
    from ssbflow.workflows.phonons import PhononFlowMaker

    settings = load_settings(data_dir)
    kwargs = parse_calculator_kwargs(calculator_kwargs)
    if not (0 < supercell_min_length <= MAX_SUPERCELL_LENGTH_A):
        raise InputError(
            f"--supercell-min-length must be in (0, {MAX_SUPERCELL_LENGTH_A:g}] Å, got "
            f"{supercell_min_length}; 10 Å is usual"
        )
    pmg_structure = load_structure(structure)
    maker = dataclasses.replace(
        PhononFlowMaker.from_calculator(
            calculator or settings.default_calculator, kwargs, relax=not no_relax
        ),
        supercell_min_length_A=supercell_min_length,
        mesh=tuple(mesh) if mesh else None,
        mobile_species=tuple(mobile_species) if mobile_species else None,
        strict=strict,
    )
    flow = maker.make(pmg_structure)  # validates; raises InputError before anything runs

    uuid = flow.output.uuid
    # a failed job still leaves the summary job's failed document (see `summarize_phonons`)
    outcome = run_command_flow(ctx, flow, settings, [uuid], progress=not as_json)
    if outcome is None:  # submitted
        return 0
    job_error = str(outcome.failure) if outcome.failure is not None else None
    doc = outcome.document
    if doc is None:
        typer.echo(f"ssbflow: error: phonon calculation failed: {job_error}", err=True)
        return 1
    if job_error and doc.get("status") != "successful":
        doc["failure_reason"] = f"{doc.get('failure_reason')} ({job_error})"
    doc["uuid"] = uuid
    plot, band_plot = _write_outputs(doc, output)
    if as_json:
        payload = {key: doc.get(key) for key in JSON_KEYS}
        payload["uuid"] = uuid
        payload["plot"] = str(plot) if plot else None
        payload["band_plot"] = str(band_plot) if band_plot else None
        emit_json(payload)
    else:
        _print_summary(doc, plot, band_plot)
    if doc.get("status") != "successful":
        typer.echo(f"ssbflow: error: {doc.get('failure_reason')}", err=True)
        return 1
    return 0


def _write_outputs(doc: dict[str, Any], output: Path) -> tuple[Path | None, Path | None]:
    """DOS and band plots and the relaxed structure of a successful result (else nothing)."""
    if doc.get("status") != "successful":
        return None, None
    from ssbflow.plots.phonons import plot_phonon_bands, plot_phonon_document

    plot = plot_phonon_document(doc, output / f"phonon_dos_{doc['formula']}.png")
    band_plot = None
    if doc.get("band_data"):
        band_plot = plot_phonon_bands(
            doc["band_data"],
            output / f"phonon_bands_{doc['formula']}.png",
            title=f"{doc['formula']} phonons ({doc['calculator']})",
        )
    write_structures({f"{doc['formula']}_phonon_relaxed": doc["structures"]["relaxed"]}, output)
    return plot, band_plot


def register(app: typer.Typer) -> None:
    """Add the ``phonons`` command."""
    app.command("phonons")(phonons)
