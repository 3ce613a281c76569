"""``ssbflow reproduce``: compute the reference set and compare with published findings."""

from __future__ import annotations

from pathlib import Path

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
)
from ssbflow.console import stderr_console
from ssbflow.errors import InputError


def _list_rows(rows, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "entries": [
                    {
                        "id": r.id,
                        "kind": r.kind,
                        "quantity": r.quantity,
                        "published": r.value if r.kind == "numeric" else r.claim,
                        "unit": r.unit,
                        "systems": [m.label for m in r.members()],
                        "level_of_theory": r.level_of_theory,
                        "source": r.source,
                        "doi": r.doi,
                        "verification": r.verification,
                        "provenance": r.provenance,
                        "quoted_by": r.quoted_by,
                        "read_at_url": r.read_at_url,
                    }
                    for r in rows
                ]
            }
        )
        return
    table = Table(title=f"ssbflow reference set ({len(rows)} rows)")
    for col in (
        "id",
        "kind",
        "quantity",
        "value/claim",
        "unit",
        "level of theory",
        "reference",
        "source",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        published = f"{r.value:g}" if r.kind == "numeric" and r.value is not None else r.claim
        table.add_row(
            r.id,
            r.kind,
            r.quantity,
            published or "",
            r.unit,
            r.level_of_theory,
            r.provenance,
            f"{r.authors.split(';')[0]} ({r.year})"
            + (f" doi:{r.doi}" if r.doi else "")
            + f", {r.locator}",
        )
    Console().print(table)


def _check_max_atoms(max_atoms: int) -> None:
    if max_atoms < 2:
        raise InputError(f"--max-atoms must be at least 2, got {max_atoms}")


def _load_rows(reference: Path | None, published_only: bool, only: list[str] | None) -> list:
    """The selected rows of the given reference file, or of the shipped set."""
    from ssbflow.reproduce.reference import (
        load_default_reference,
        load_reference_set,
        select_rows,
    )

    if reference is not None:
        rows = load_reference_set(reference)
    else:
        rows = load_default_reference(include_project=not published_only)
    return select_rows(rows, only)


def _reference_label(reference: Path | None, published_only: bool) -> str:
    """The reference file(s) as the report names them."""
    if reference:
        return str(reference)
    return "ssbflow/data/reference_set.csv" + (
        "" if published_only else " + ssbflow/data/project_reference.csv"
    )


def _write_vasp_inputs(rows: list, out_dir: Path, max_atoms: int, as_json: bool) -> None:
    from ssbflow.reproduce import write_vasp_inputs

    _check_max_atoms(max_atoms)
    written = write_vasp_inputs(rows, out_dir, max_atoms=max_atoms)
    if as_json:
        emit_json({"written": [str(p) for p in written]})
    else:
        Console().print(f"wrote {len(written) - 1} VASP input folders and {written[-1]}")


def _print_progress(k: int, n: int, res) -> None:
    """One line on stderr after each system."""
    reason = f" — {res.reason}" if res.reason else ""
    stderr_console.print(
        f"[{k}/{n}] {res.label} ({res.kind}): {res.status}, {res.wall_time_s:.1f} s{reason}"
    )


def reproduce_command(
    only: list[str] = typer.Option(
        None, "--only", help="Reference row id to run (repeat for several); default: all."
    ),
    calculator: str = typer.Option(
        None, "--calculator", help="Calculator name (default: settings.default_calculator)."
    ),
    calculator_kwargs: str = CALCULATOR_KWARGS_OPTION,
    max_atoms: int = typer.Option(
        200, "--max-atoms", help="Largest interface/slab to build; larger cells are reported."
    ),
    report: Path = typer.Option(
        None, "--report", help="Write report.md and parity PNGs into this folder."
    ),
    as_json: bool = JSON_OPTION,
    list_only: bool = typer.Option(
        False, "--list", help="Print the reference set and exit (runs nothing)."
    ),
    reference: Path = typer.Option(
        None,
        "--reference",
        help="Your own reference CSV (same columns as the shipped set); default: the "
        "shipped published set plus the project's own values.",
    ),
    published_only: bool = typer.Option(
        False,
        "--published-only",
        help="Leave out the project's own reference values (numbers ssbflow computed "
        "earlier, e.g. GPAW benchmarks); keep published findings only.",
    ),
    rigid_slabs: bool = typer.Option(
        False,
        "--rigid-slabs",
        help="Unrelaxed slabs for every surface row (one single point per slab; for "
        "slabs of hundreds of atoms). Rows marked 'ideal' are always rigid.",
    ),
    vasp_inputs: Path = typer.Option(
        None,
        "--write-vasp-inputs",
        help="Write VASP inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec, manifest.json) for "
        "the selected surface-energy rows into this folder and exit (runs nothing).",
    ),
    data_dir: Path = DATA_DIR_OPTION,
) -> None:
    """Run ssbflow on published interfaces and set computed beside published values.

    Numeric rows get differences and MAE/RMSE/max error; ordering rows (published
    rankings) pass or fail. Results are stored tagged 'reference:<ID>' and reused on
    reruns.
    """
    from ssbflow.reproduce import ReproduceOptions, reproduce, write_report

    rows = _load_rows(reference, published_only, only)
    if list_only:
        _list_rows(rows, as_json)
        return
    if vasp_inputs is not None:
        _write_vasp_inputs(rows, vasp_inputs, max_atoms, as_json)
        return
    kwargs = parse_calculator_kwargs(calculator_kwargs)
    _check_max_atoms(max_atoms)
    settings = load_settings(data_dir)
    options = ReproduceOptions(
        calculator=calculator or settings.default_calculator,
        calculator_kwargs=kwargs,
        max_atoms=max_atoms,
        rigid_slabs=rigid_slabs,
    )
    result = reproduce(
        rows,
        options,
        settings,
        reference_file=_reference_label(reference, published_only),
        progress=_print_progress,
    )
    written = write_report(result, report) if report is not None else []
    if as_json:
        payload = result.model_dump(mode="json")
        payload["report_files"] = [str(p) for p in written]
        emit_json(payload)
        return
    _print_result(result)
    for path in written:
        Console().print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command."""
    app.command("reproduce")(reproduce_command)


def _print_result(result) -> None:
    console = Console()
    if result.is_ml_potential:
        console.print(f"[bold]{result.comparison_note}[/bold]")
    table = Table(title=f"computed ({result.level_of_theory}) vs. published")
    for col in (
        "id",
        "quantity",
        "published",
        "computed",
        "difference",
        "status",
        "published level of theory",
    ):
        table.add_column(col, overflow="fold")
    for e in result.entries:
        if e.kind == "numeric":
            computed = fmt(e.computed if isinstance(e.computed, float) else None)
            diff = fmt(e.difference, "+.3f")
            published = f"{float(e.published):.3f} {e.unit}"
        else:
            computed = "; ".join(
                f"{m.label}={m.value:.3f}" if m.value is not None else f"{m.label}: {m.status}"
                for m in e.members
            )
            diff = ""
            published = str(e.published)
        status = e.status + (f" ({e.reason})" if e.reason else "")
        lot = e.source_level_of_theory + (" [project value]" if e.provenance != "published" else "")
        table.add_row(e.id, e.quantity, published, computed, diff, status, lot)
    console.print(table)
    s = result.summary
    if s.n_numeric:
        for unit, st in s.by_unit.items():
            console.print(
                f"numeric rows ({unit}): n={st['n']} MAE={st['mae']:.3f} RMSE={st['rmse']:.3f} "
                f"max error={st['max_abs_error']:.3f}"
            )
        for st in s.by_group.values():
            console.print(
                f"  {st['provenance']} [{st['published_level_of_theory']}] ({st['ids']}): "
                f"n={st['n']} MAE={st['mae']:.3f} {st['unit']}"
            )
    else:
        console.print(f"numeric rows: none computed ({s.n_numeric_total} selected)")
    console.print(
        f"ordering claims: {s.orderings_passed}/{s.orderings_total} passed, "
        f"{s.orderings_not_evaluated} not evaluated"
    )
