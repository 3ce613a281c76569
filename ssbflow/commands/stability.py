"""``ssbflow stability``: does the electrolyte survive the metal? Hull, reaction, window."""

from __future__ import annotations

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
)

#: Keys of the --json object, in this order (plus uuid and the plot paths).
JSON_KEYS = (
    "status",
    "failure_reason",
    "metal",
    "electrolyte",
    "formula",
    "chemical_system",
    "calculator",
    "energy_above_hull_eV_per_atom",
    "decomposition",
    "reaction_energy_eV_per_atom",
    "mixing_ratio",
    "reaction",
    "products",
    "products_at_minimum",
    "reduction_limit_V",
    "reduction_onset_V",
    "oxidation_limit_V",
    "reduction_reaction",
    "oxidation_reaction",
    "window_convention",
    "interphase_class",
    "interphase_description",
    "interphase_reasons",
    "stable_phases",
    "missing_phases",
    "phase_energies_eV_per_atom",
    "energy_note",
    "warnings",
)


def _print_summary(doc: dict[str, Any], plots: list[Path]) -> None:
    console = Console()
    metal = doc["metal"]
    table = Table(
        title=f"{metal} vs {doc['electrolyte']} ({doc['formula']}): thermodynamic stability "
        f"({doc['calculator']}, {doc['chemical_system']} phase diagram)"
    )
    table.add_column("quantity")
    table.add_column("value")
    table.add_column("meaning")
    e_hull = doc.get("energy_above_hull_eV_per_atom")
    decomposition = doc.get("decomposition") or {}
    rows = [
        (
            "energy above hull",
            f"{fmt(None if e_hull is None else 1000 * e_hull, '.0f')} meV/atom",
            "on the hull"
            if e_hull is not None and e_hull < 1e-6
            else "decomposes to " + " + ".join(decomposition),
        ),
        (
            "reaction energy with " + metal,
            f"{fmt(doc.get('reaction_energy_eV_per_atom'))} eV/atom",
            doc.get("reaction") or "",
        ),
        (
            "mixing ratio",
            fmt(doc.get("mixing_ratio")),
            "atom fraction of electrolyte at the minimum",
        ),
        (
            f"products (in equilibrium with {metal})",
            " + ".join(doc.get("products") or []) or "none",
            "interphase at the metal-rich limit",
        ),
        (
            "reduction limit",
            f"{fmt(doc.get('reduction_limit_V'), '.2f')} V vs {metal}/{metal}+",
            doc.get("reduction_reaction")
            if (doc.get("reduction_onset_V") or -1.0) > 0
            else "not reduced above plating (0 V)",
        ),
        (
            "reduction onset",
            f"{fmt(doc.get('reduction_onset_V'), '.3f', 'below -1')} V vs {metal}/{metal}+",
            "signed (negative: below plating, not reduced by the metal)"
            + (f": {doc['reduction_reaction']}" if doc.get("reduction_reaction") else ""),
        ),
        (
            "oxidation limit",
            f"{fmt(doc.get('oxidation_limit_V'), '.2f', 'none in library')} V vs {metal}/{metal}+",
            doc.get("oxidation_reaction") or "",
        ),
        (
            "interphase class",
            str(doc.get("interphase_class")),
            doc.get("interphase_description") or "",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for reason in doc.get("interphase_reasons") or []:
        console.print(f"  {reason}")
    print_warnings(console, doc)
    if doc.get("energy_note"):
        console.print(f"[dim]energies: {doc['energy_note']}[/dim]")
    for plot in plots:
        console.print(f"plot: {plot}")
    console.print(f"uuid: {doc['uuid']}")


def stability(
    ctx: typer.Context,
    metal: str = typer.Argument(..., help="Elemental metal (library name), e.g. Li."),
    electrolyte: str = typer.Argument(..., help="Electrolyte (library name), e.g. Li3PS4."),
    calculator: str | None = typer.Option(
        None, "--calculator", help="Calculator name (default: settings default_calculator)."
    ),
    calculator_kwargs: str | None = CALCULATOR_KWARGS_OPTION,
    max_atoms: int = typer.Option(
        200, "--max-atoms", help="Largest (primitive) cell relaxed; larger phases refuse."
    ),
    output: Path = typer.Option(
        Path("."), "--output", help="Folder for the phase-diagram and reaction-curve PNGs."
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Electrolyte vs metal: energy above hull, reaction energy, products, window, class.

    Relaxes every library phase of the metal-electrolyte chemical system with one
    calculator, builds the phase diagram, and reports the electrolyte's energy above
    hull, its most negative reaction energy with the metal (pymatgen
    InterfacialReactivity), the phases in equilibrium with the metal, the reduction and
    oxidation limits vs M/M+ (grand potential with the metal open) and the interphase
    class. Thermodynamics only (no kinetics).
    """
    from ssbflow.workflows.stability import StabilityMaker

    settings = load_settings(data_dir)
    kwargs = parse_calculator_kwargs(calculator_kwargs)
    maker = StabilityMaker.from_calculator(
        calculator or settings.default_calculator, kwargs, max_atoms=max_atoms
    )
    flow = maker.make(metal, electrolyte)  # validates; InputError before anything runs
    uuid = flow.output.uuid
    outcome = run_command_flow(ctx, flow, settings, [uuid], progress=not as_json)
    if outcome is None:  # submitted
        return 0
    if outcome.failure is not None or outcome.document is None:
        typer.echo(f"ssbflow: error: stability calculation failed: {outcome.reason}", err=True)
        return 1
    doc = outcome.document
    doc["uuid"] = uuid
    plots: list[Path] = []
    if doc.get("status") == "successful":
        from ssbflow.plots.stability import plot_phase_diagram, plot_reaction_curve

        tag = f"{doc['metal']}_{doc['electrolyte']}"
        plots.append(
            plot_reaction_curve(
                doc["reaction_curve"],
                output / f"stability_reaction_{tag}.png",
                doc["metal"],
                doc["formula"],
                products=doc.get("products") or [],
                title=f"{doc['metal']} + {doc['formula']} ({doc['calculator']})",
            )
        )
        plots.append(
            plot_phase_diagram(
                doc["phase_energies_eV_per_atom"],
                doc["phase_formulas"],
                output / f"stability_phase_diagram_{tag}.png",
                doc["metal"],
                highlight=doc["electrolyte"],
            )
        )
    if as_json:
        payload = {key: doc.get(key) for key in JSON_KEYS}
        payload["uuid"] = uuid
        payload["plots"] = [str(p) for p in plots]
        emit_json(payload)
    else:
        _print_summary(doc, plots)
    if doc.get("status") != "successful":
        typer.echo(f"ssbflow: error: {doc.get('failure_reason')}", err=True)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    """Add the ``stability`` command."""
    app.command("stability")(stability)


def stability_line(metal: str, electrolyte: str, block: dict[str, Any]) -> str:
    """One sentence for another summary: does this contact react, and to what."""
    if block.get("status") != "successful":
        return f"stability: not available ({block.get('status')})"
    energy = block.get("reaction_energy_eV_per_atom")
    if not energy:
        return (
            f"stability: {metal} and {electrolyte} do not react (thermodynamics, "
            f"{block.get('calculator')}); reduction limit "
            f"{fmt(block.get('reduction_limit_V'), '.2f')} V vs {metal}/{metal}+"
        )
    return (
        f"stability: this contact reacts ({energy:.3f} eV/atom at x = "
        f"{fmt(block.get('mixing_ratio'))}) to form {' + '.join(block.get('products') or [])}"
        f" ({block.get('interphase_class')}); reduction limit "
        f"{fmt(block.get('reduction_limit_V'), '.2f')} V vs {metal}/{metal}+"
    )
