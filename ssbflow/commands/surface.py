"""``ssbflow surface``: converged surface energies of every plane and termination, Wulff shape."""

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
    parse_miller,
    print_warnings,
    require_positive,
    run_command_flow,
)
from ssbflow.errors import InputError


def surface_summary_json(doc: dict[str, Any], uuid: str, plot: Path | None) -> dict[str, Any]:
    """The ``--json`` object of ``ssbflow surface``."""
    rows = []
    for s in doc.get("surface_energies") or []:
        rows.append(
            {
                "miller": list(s.get("miller") or []),
                "termination": s.get("termination"),
                "termination_chemistry": s.get("termination_chemistry"),
                "status": s.get("status"),
                "failure_reason": s.get("failure_reason"),
                "surface_energy_J_per_m2": s.get("surface_energy_J_per_m2"),
                "stderr_J_per_m2": s.get("surface_energy_stderr_J_per_m2"),
                "thickness_A": s.get("thickness_A"),
                "thicknesses_A": s.get("thicknesses_A"),
                "surface_energies_series_J_per_m2": s.get("surface_energies_J_per_m2"),
                "converged": s.get("converged"),
                "tolerance_J_per_m2": s.get("tolerance_J_per_m2"),
                "symmetric": s.get("symmetric"),
                "stoichiometric": s.get("stoichiometric"),
                "polar": s.get("polar"),
                "delta_mu_metal_eV": s.get("delta_mu_metal_eV"),
                "metal_element": s.get("metal_element"),
                "dgamma_d_delta_mu_metal_J_per_m2_per_eV": s.get(
                    "dgamma_d_delta_mu_metal_J_per_m2_per_eV"
                ),
            }
        )
    return {
        "status": doc.get("status"),
        "failure_reason": doc.get("failure_reason"),
        "system": doc.get("system"),
        "formula": doc.get("formula"),
        "surface_energies": rows,
        "weighted_surface_energy_J_per_m2": doc.get("weighted_surface_energy_J_per_m2"),
        "area_fractions": doc.get("area_fractions") or {},
        "shape_anisotropy": doc.get("shape_anisotropy"),
        "shape_factor": doc.get("shape_factor"),
        "miller_cell": doc.get("miller_cell"),
        "calculator": doc.get("calculator"),
        "level_of_theory": (doc.get("provenance") or {}).get("level_of_theory"),
        "warnings": doc.get("warnings") or [],
        "plot": str(plot) if plot else None,
        "uuid": uuid,
    }


def _print_table(out: dict[str, Any], doc: dict[str, Any]) -> None:
    console = Console()
    table = Table(
        title=f"{out['system']} surface energies ({out['calculator']}; {out['miller_cell']})"
    )
    for col in (
        "plane",
        "termination",
        "γ (J/m²)",
        "±",
        "thickness (Å)",
        "converged",
        "symmetric",
        "stoich.",
        "Wulff area",
    ):
        table.add_column(col)
    fractions = out["area_fractions"]
    for s in out["surface_energies"]:
        key = ",".join(str(v) for v in s["miller"])
        gamma = fmt(s["surface_energy_J_per_m2"])
        if s["status"] != "successful":
            gamma = "— (" + ("polar" if s.get("polar") else "failed") + ")"
        table.add_row(
            key,
            s["termination"] or "",
            gamma,
            fmt(s["stderr_J_per_m2"]),
            fmt(s["thickness_A"], ".1f"),
            str(s["converged"]),
            str(s["symmetric"]),
            str(s["stoichiometric"]),
            fmt(fractions.get(key)),
        )
    console.print(table)
    console.print(
        f"Wulff-weighted surface energy: {fmt(out['weighted_surface_energy_J_per_m2'])} J/m²; "
        f"shape anisotropy {fmt(out['shape_anisotropy'])}"
    )
    off = [s for s in out["surface_energies"] if s["stoichiometric"] is False and s["symmetric"]]
    if off:
        console.print(
            "off-stoichiometric terminations: γ at Δμ_M = "
            f"{off[0]['delta_mu_metal_eV']} eV for M = {off[0]['metal_element']} (0: metal-rich); "
            "γ(Δμ) = γ + slope·Δμ with the slope in --json"
        )
    print_warnings(console, doc)
    if out["plot"]:
        console.print(f"Wulff shape: {out['plot']}")
    console.print(f"uuid: {out['uuid']}")


def _check_options(
    max_index: int,
    has_millers: bool,
    tolerance: float,
    min_thickness: float,
    max_thickness: float,
    vacuum: float,
    delta_mu: float,
) -> None:
    """InputError for option values the surface workflow cannot use."""
    if not has_millers and not 1 <= max_index <= 3:
        raise InputError(f"--max-index {max_index} must be 1, 2 or 3")
    require_positive(tolerance, "--tolerance", 1.0)
    require_positive(min_thickness, "--min-thickness", 100)
    require_positive(max_thickness, "--max-thickness", 200)
    require_positive(vacuum, "--vacuum", 100)
    if min_thickness >= max_thickness:
        raise InputError("--min-thickness must be below --max-thickness")
    if delta_mu > 0:
        raise InputError("--delta-mu must be ≤ 0 eV (0 is the metal-rich limit)")


def _parse_chemical_potentials(
    items: list[str], elements: list[str], phase: str
) -> dict[str, float]:
    """``--chemical-potential ELEMENT=VALUE`` items -> {element: μ in eV/atom}."""
    fixed_mu: dict[str, float] = {}
    for item in items:
        el, sep, value = item.partition("=")
        try:
            fixed_mu[el.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or el.strip() not in elements:
            raise InputError(
                f"--chemical-potential '{item}': write ELEMENT=VALUE in eV/atom with an "
                f"element of {phase}, e.g. {elements[-1]}=-4.0"
            )
    return fixed_mu


def _metal_bulk(metal_name: str | None, elements: list[str], phase: str) -> Any:
    """The library bulk of the metal that fixes μ of off-stoichiometric slabs (or None)."""
    from ssbflow.structures.library import load_structure

    if metal_name is None or len(elements) <= 1:
        return None
    if metal_name not in elements:
        raise InputError(f"--metal {metal_name} is not an element of {phase}")
    return load_structure(metal_name)


def _wulff_plot(doc: dict[str, Any], output: Path, name: str) -> Path | None:
    """The Wulff-shape PNG of a surface study, when it has a Wulff shape."""
    if not doc.get("wulff_miller") or doc.get("weighted_surface_energy_J_per_m2") is None:
        return None
    from ssbflow.plots.wulff import plot_wulff_shape

    return plot_wulff_shape(
        doc["lattice"],
        doc["wulff_miller"],
        doc["wulff_surface_energies_J_per_m2"],
        output / f"wulff_{name}_{doc['calculator']}.png",
        title=f"{doc['formula']} Wulff shape ({doc['calculator']})",
    )


def surface_command(
    ctx: typer.Context,
    phase: str = typer.Argument(..., help="Library phase name or structure file."),
    miller: list[str] | None = typer.Option(
        None, "--miller", help="Plane, e.g. 1,1,1 (repeatable; conventional cell)."
    ),
    max_index: int = typer.Option(
        1, "--max-index", help="Every distinct plane up to this index (without --miller)."
    ),
    calculator: str | None = typer.Option(
        None, "--calculator", help="chgnet (default), sevennet, emt, gpaw, or module:Class."
    ),
    calculator_kwargs: str | None = CALCULATOR_KWARGS_OPTION,
    tolerance: float = typer.Option(
        0.01, "--tolerance", help="Thickness convergence: stop when |Δγ| < this, J/m²."
    ),
    min_thickness: float = typer.Option(6.0, "--min-thickness", help="Thinnest slab, Å."),
    max_thickness: float = typer.Option(
        25.0, "--max-thickness", help="Thickest slab (stop unconverged), Å."
    ),
    vacuum: float = typer.Option(15.0, "--vacuum", help="Vacuum, Å."),
    metal: str | None = typer.Option(
        None,
        "--metal",
        help="Metal fixing μ of off-stoichiometric slabs (default: Li/Na/K of the phase).",
    ),
    delta_mu: float = typer.Option(
        0.0, "--delta-mu", help="Δμ of the metal, eV (≤ 0; 0 = metal-rich limit)."
    ),
    chemical_potential: list[str] | None = typer.Option(
        None,
        "--chemical-potential",
        help="μ of an element the bulk does not fix, eV/atom, e.g. S=-4.1 (repeatable; "
        "multinary phases).",
    ),
    output: Path = typer.Option(Path("."), "--output", help="Folder for the Wulff PNG."),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Converged surface energies of every plane and termination, and the Wulff shape."""
    from ssbflow.calculators import check_calculator
    from ssbflow.structures.library import load_structure
    from ssbflow.validation import check_output_dir
    from ssbflow.workflows.surface import SurfaceStudyMaker, default_metal_element

    settings = load_settings(data_dir)
    check_output_dir(output, "--output")
    millers = [parse_miller(m, "--miller") for m in miller or []]
    _check_options(
        max_index, bool(millers), tolerance, min_thickness, max_thickness, vacuum, delta_mu
    )
    bulk = load_structure(phase)
    elements = [el.symbol for el in bulk.composition.elements]
    fixed_mu = _parse_chemical_potentials(chemical_potential or [], elements, phase)
    metal_name = metal or default_metal_element(elements)
    metal_bulk = _metal_bulk(metal_name, elements, phase)
    calc = calculator or settings.default_calculator
    kwargs = parse_calculator_kwargs(calculator_kwargs)
    calc = check_calculator(calc, set(elements), kwargs)
    maker = SurfaceStudyMaker.from_calculator(
        calc,
        kwargs,
        millers=millers or None,
        max_index=max_index,
        surface_settings={
            "tolerance_J_per_m2": tolerance,
            "min_thickness_A": min_thickness,
            "max_thickness_A": max_thickness,
            "vacuum_A": vacuum,
            "metal_element": metal_name,
            "delta_mu_metal_eV": delta_mu,
            "chemical_potentials_eV": fixed_mu,
        },
    )
    name = Path(phase).stem if Path(phase).is_file() else phase
    flow = maker.make(bulk, metal_bulk, name=name)  # raises InputError before running
    uuid = flow.jobs[-1].uuid
    outcome = run_command_flow(ctx, flow, settings, [uuid], progress=not as_json)
    if outcome is None:
        return 0
    if outcome.failure is not None or outcome.document is None:
        typer.echo(f"ssbflow: error: surface calculation failed: {outcome.reason}", err=True)
        return 1
    doc = outcome.document
    out = surface_summary_json(doc, uuid, _wulff_plot(doc, output, name))
    if as_json:
        emit_json(out)
    else:
        _print_table(out, doc)
    if doc.get("status") != "successful":
        typer.echo(f"ssbflow: error: {doc.get('failure_reason')}", err=True)
        return 1
    return 0


def register(app: typer.Typer) -> None:
    """Add the ``surface`` command."""
    app.command("surface")(surface_command)
