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
    load_settings,
    parse_calculator_kwargs,
)


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
                        "quoted_by": r.quoted_by,
                        "read_at_url": r.read_at_url,
                    }
                    for r in rows
                ]
            }
        )
        return
    table = Table(title=f"ssbflow reference set ({len(rows)} rows)")
    for col in ("id", "kind", "quantity", "published", "unit", "level of theory", "source"):
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
            f"{r.authors.split(';')[0]} ({r.year}) doi:{r.doi}, {r.locator}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command."""

    @app.command("reproduce")
    def reproduce_cmd(
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
            help="Your own reference CSV (same columns as the shipped set); default: shipped set.",
        ),
        data_dir: Path = DATA_DIR_OPTION,
    ) -> None:
        """Run ssbflow on published interfaces and set computed beside published values.

        Numeric rows get differences and MAE/RMSE/max error; ordering rows (published
        rankings) pass or fail. Results are stored tagged 'reference:<ID>' and reused on
        reruns.
        """
        from ssbflow.errors import InputError
        from ssbflow.reference import load_reference_set, select_rows
        from ssbflow.reproduce import ReproduceOptions, reproduce, write_report

        rows = select_rows(load_reference_set(reference), only)
        if list_only:
            _list_rows(rows, as_json)
            return
        kwargs = parse_calculator_kwargs(calculator_kwargs)
        if max_atoms < 2:
            raise InputError(f"--max-atoms must be at least 2, got {max_atoms}")
        settings = load_settings(data_dir)
        options = ReproduceOptions(
            calculator=calculator or settings.default_calculator,
            calculator_kwargs=kwargs,
            max_atoms=max_atoms,
        )
        err = Console(stderr=True)

        def progress(k: int, n: int, res) -> None:
            reason = f" — {res.reason}" if res.reason else ""
            err.print(
                f"[{k}/{n}] {res.label} ({res.kind}): {res.status}, {res.wall_time_s:.1f} s{reason}"
            )

        result = reproduce(
            rows,
            options,
            settings,
            reference_file=str(reference) if reference else "ssbflow/data/reference_set.csv",
            progress=progress,
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
            computed = f"{e.computed:.3f}" if isinstance(e.computed, float) else "—"
            diff = f"{e.difference:+.3f}" if e.difference is not None else "—"
            published = f"{float(e.published):.3f} {e.unit}"
        else:
            computed = "; ".join(
                f"{m.label}={m.value:.3f}" if m.value is not None else f"{m.label}: {m.status}"
                for m in e.members
            )
            diff = ""
            published = str(e.published)
        status = e.status + (f" ({e.reason})" if e.reason else "")
        table.add_row(e.id, e.quantity, published, computed, diff, status, e.source_level_of_theory)
    console.print(table)
    s = result.summary
    if s.n_numeric:
        console.print(
            f"numeric rows: n={s.n_numeric} MAE={s.mae:.3f} RMSE={s.rmse:.3f} "
            f"max error={s.max_abs_error:.3f} {s.unit}"
        )
    else:
        console.print(f"numeric rows: none computed ({s.n_numeric_total} selected)")
    console.print(
        f"ordering claims: {s.orderings_passed}/{s.orderings_total} passed, "
        f"{s.orderings_not_evaluated} not evaluated"
    )
