"""``ssbflow calibrate``: ML potentials against a DFT reference on a fixed rigid set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ssbflow.commands._common import DATA_DIR_OPTION, JSON_OPTION, emit_json, fmt, load_settings
from ssbflow.errors import InputError

DEFAULT_CALCULATORS = "chgnet,sevennet"
QUANTITY_TITLES = {
    "gamma_metal": "γ metal",
    "gamma_electrolyte": "γ electrolyte",
    "work_of_adhesion": "W_ad",
}


def parse_calculators(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``--calculators`` 'chgnet,sevennet-l3i5' -> [(name, kwargs), ...] (InputError)."""
    from ssbflow.calculators import resolve_variant

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InputError("--calculators is empty; give e.g. chgnet,sevennet")
    out = []
    for part in parts:
        try:
            out.append(resolve_variant(part))
        except InputError as exc:
            raise InputError(f"--calculators: {exc}") from exc
    return out


def parse_reference(text: str) -> tuple[str, dict[str, Any]]:
    """``--reference`` 'gpaw:standard' -> ("gpaw", {"preset": "standard"}) (InputError)."""
    from ssbflow.calculators import resolve_variant

    try:
        return resolve_variant(text)
    except InputError as exc:
        raise InputError(f"--reference: {exc}") from exc


def parse_gaps(text: str) -> list[float]:
    """``--gaps`` '2.0' or '1.6,2.0,2.5,3.2' -> gaps in Å (InputError)."""
    import math

    try:
        gaps = [float(g) for g in text.split(",") if g.strip()]
    except ValueError as exc:
        raise InputError(
            f"--gaps '{text}' is not a list of numbers, e.g. 2.0 or 1.6,2,2.5,3.2"
        ) from exc
    if not gaps or any(not math.isfinite(g) or not 0.5 <= g <= 6.0 for g in gaps):
        raise InputError(f"--gaps '{text}': give gaps between 0.5 and 6 Å")
    if len(gaps) in (2, 3):
        raise InputError("--gaps: give one gap (W_ad at that gap) or at least 4 (UBER fit)")
    return gaps


def _mae(scores: dict[str, Any], quantity: str) -> str:
    """The mean absolute error of ``quantity`` for a table cell ("—" when not scored)."""
    return fmt(scores[quantity]["mae"]) if scores.get(quantity) else "—"


def print_summary(result: dict[str, Any]) -> None:
    """Rich tables: values per item, scores per potential."""
    console = Console()
    labels = list(result["potentials"])
    ref = result["reference"]["label"]
    table = Table(title=f"calibration set: J/m², reference {ref}")
    table.add_column("item")
    table.add_column("quantity")
    table.add_column(ref)
    for lab in labels:
        table.add_column(lab)
    for row in result["items"]:
        table.add_row(
            row["label"],
            QUANTITY_TITLES.get(row["quantity"], row["quantity"]),
            fmt(row["reference"]["value"]),
            *[fmt(row["predicted"][lab]["value"]) for lab in labels],
        )
    console.print(table)
    scores = Table(title=f"errors against {ref} (J/m²)")
    for col in (
        "potential",
        "MAE γ metal",
        "MAE γ electrolyte",
        "MAE W_ad",
        "max |err|",
        "W_ad sign",
        "rank (pairwise)",
        "time/structure",
    ):
        scores.add_column(col)
    for lab in labels:
        pot = result["potentials"][lab]
        s = pot["scores"]

        ranks = [s[q]["pairwise_order_agreement"] for q in s if s.get(q)]
        ranks = [r for r in ranks if r is not None]
        w = s.get("work_of_adhesion")
        rel = pot["time_relative_to_baseline"]
        scores.add_row(
            lab,
            _mae(s, "gamma_metal"),
            _mae(s, "gamma_electrolyte"),
            _mae(s, "work_of_adhesion"),
            fmt(pot["max_abs_error_J_per_m2"]),
            fmt(w["sign_agreement"], ".2f") if w else "—",
            fmt(sum(ranks) / len(ranks), ".2f") if ranks else "—",
            f"{fmt(pot['time_per_structure_s'], '.2f')} s"
            + (f" ({rel:.1f}×)" if rel is not None else ""),
        )
    console.print(scores)
    r = result["reference"]
    console.print(
        f"reference single points: {r['n_single_points_computed']} computed, "
        f"{r['n_single_points_cached']} from the results store, {r['n_failed']} failed"
    )
    for warning in result.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def calibrate(
    calculators: str = typer.Option(
        DEFAULT_CALCULATORS,
        "--calculators",
        help="Comma-separated potentials: chgnet, chgnet-r2scan, sevennet, sevennet-l3i5, "
        "sevennet-mf-0, emt, ...",
    ),
    reference: str = typer.Option(
        "gpaw:standard", "--reference", help="Reference: gpaw:fast|standard|accurate."
    ),
    gaps: str = typer.Option(
        "2.5", "--gaps", help="Interfacial gap(s) of the W_ad items, Å: one, or ≥ 4 (UBER)."
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Folder for DFT output files (default: data dir/runs)."
    ),
    output: Path | None = typer.Option(
        None, "--output", help="Folder for calibrate.json and a parity plot (optional)."
    ),
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Errors of ML potentials against DFT on fixed rigid surfaces and interfaces."""
    from ssbflow.calculators import check_calculator
    from ssbflow.workflows import calibrate as wf

    calcs = parse_calculators(calculators)
    ref = parse_reference(reference)
    gap_list = parse_gaps(gaps)
    settings = load_settings(data_dir)
    phases = {s.phase for s in wf.DEFAULT_SURFACES}
    phases |= {a.metal for a in wf.DEFAULT_ADHESION} | {a.electrolyte for a in wf.DEFAULT_ADHESION}
    from ssbflow.structures.library import get_phase

    elements = sorted({el.symbol for p in phases for el in get_phase(p).composition.elements})
    for name, kwargs in [*calcs, ref]:
        check_calculator(name, elements, kwargs)
    items = wf.default_items(gap_list)
    cache = wf.EnergyCache.from_settings(settings)
    folder = work_dir or settings.data_dir / "runs" / "calibrate"
    try:
        result = wf.calibrate(
            items,
            calcs,
            ref,
            cache=cache,
            work_dir=folder,
            log=lambda line: typer.echo(line, err=True),
        )
    finally:
        cache.close()
    if output is not None:
        write_outputs(result, output)
    if as_json:
        emit_json(result)
    else:
        print_summary(result)
    return 0


def register(app: typer.Typer) -> None:
    """Add the ``calibrate`` command."""
    app.command("calibrate")(calibrate)


def write_outputs(result: dict[str, Any], output: Path) -> list[Path]:
    """``calibrate.json`` and ``calibrate_parity.png`` in ``output``."""
    import json

    from ssbflow.plots.parity import plot_calibration_parity

    output.mkdir(parents=True, exist_ok=True)
    path = output / "calibrate.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    written = [path]
    with_values = any(row["reference"]["value"] is not None for row in result["items"])
    if with_values:
        written.append(plot_calibration_parity(result, output / "calibrate_parity.png"))
    return written
