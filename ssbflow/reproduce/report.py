"""The Markdown report of a ``ssbflow reproduce`` run (``report.md`` and ``parity.png``).

`write_report` joins one block of lines per section: header, summary, numeric rows (with
their parity plots), ordering claims, systems and the sources' definitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssbflow.reproduce.runs import EntryResult, ReproduceResult, TaskResult

#: The numbers a system's row of the "Systems" table shows, in this order.
_KEY_RESULTS = (
    "surface_energy_J_per_m2",
    "work_of_adhesion_J_per_m2",
    "interface_energy_J_per_m2",
    "contact_angle_deg",
    "reduction_limit_V",
    "oxidation_limit_V",
    "reaction_energy_eV_per_atom",
    "strain_percent",
    "n_atoms",
)


def format_number(value: float | None, digits: int = 3) -> str:
    """A number for a report cell with ``digits`` decimals; "—" for a missing value."""
    return "—" if value is None else f"{value:.{digits}f}"


def _md_escape(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _header(result: ReproduceResult) -> list[str]:
    s = result.summary
    rigid = "; rigid (unrelaxed) slabs for every surface row" if result.rigid_slabs else ""
    note = f"**{result.comparison_note}**" if result.is_ml_potential else result.comparison_note
    return [
        "# ssbflow reproduce: computed vs. published",
        "",
        f"- Calculator: **{result.calculator}** — level of theory: **{result.level_of_theory}**",
        f"- Reference file: `{result.reference_file}`; max atoms per structure: "
        f"{result.max_atoms}{rigid}",
        f"- Systems: {s.n_systems} ({s.n_systems_reused} reused from the store, "
        f"{s.n_systems_failed} failed, {s.n_systems_not_reproducible} not reproducible); "
        f"wall time {result.wall_time_s:.1f} s",
        "",
        f"> {note}",
        "",
    ]


def _summary(result: ReproduceResult) -> list[str]:
    s = result.summary
    lines = ["## Summary", ""]
    if s.n_numeric:
        lines += _error_tables(result)
    else:
        lines.append(
            f"No numeric row was computed ({s.n_numeric_total} numeric rows selected): "
            "error statistics are undefined."
        )
    return [
        *lines,
        "",
        f"Ordering claims: **{s.orderings_passed} of {s.orderings_total} passed**"
        f" ({s.orderings_not_evaluated} not evaluated).",
        "",
    ]


def _error_tables(result: ReproduceResult) -> list[str]:
    """Error statistics per unit, then per reference group."""
    s = result.summary
    lines = [
        "| unit | n | MAE | RMSE | max abs error | mean signed error |",
        "|---|---|---|---|---|---|",
    ]
    for unit, st in s.by_unit.items():
        lines.append(
            f"| {unit} | {st['n']} | {format_number(st['mae'])} | {format_number(st['rmse'])} | "
            f"{format_number(st['max_abs_error'])} | {format_number(st['mean_signed_error'])} |"
        )
    lines += [
        "",
        f"By reference group (computed: {result.level_of_theory}; a project value is "
        "ssbflow's own earlier number, not a published one):",
        "",
        "| unit | reference | published level of theory | rows | n | MAE | RMSE | max abs error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in s.by_group.values():
        lot = _md_escape(str(g["published_level_of_theory"]))
        lines.append(
            f"| {g['unit']} | {g['provenance']} | {lot} | {g['ids']} | {g['n']} | "
            f"{format_number(g['mae'])} | {format_number(g['rmse'])} | {format_number(g['max_abs_error'])} |"  # type: ignore[arg-type]
        )
    return lines


def _numeric_row(e: EntryResult) -> str:
    rel = "—" if e.relative_difference is None else f"{100 * e.relative_difference:+.1f} %"
    status = e.status + (f": {_md_escape(e.reason)}" if e.reason else "")
    computed = e.computed if isinstance(e.computed, float) else None
    return (
        f"| {e.id} | {e.quantity} ({e.unit}) | {format_number(float(e.published))} | "
        f"{format_number(computed)} | {format_number(e.difference)} | {rel} | {status} | "
        f"{_md_escape(e.comparison)} | {e.provenance} | {_md_escape(e.source)} |"
    )


def _numeric_rows(result: ReproduceResult, report_dir: Path, written: list[Path]) -> list[str]:
    """The numeric rows' table and a parity plot per unit (appended to ``written``)."""
    numeric = [e for e in result.entries if e.kind == "numeric"]
    if not numeric:
        return []
    lines = [
        "## Numeric rows",
        "",
        "| id | quantity | reference | computed | difference | rel. difference | status "
        "| level of theory (computed vs. reference) | reference kind | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_numeric_row(e) for e in numeric),
        "",
    ]
    done = [e for e in numeric if isinstance(e.computed, float)]
    units = sorted({e.unit for e in done})
    for unit in units:
        path = _parity_plot(result, [e for e in done if e.unit == unit], unit, report_dir, units)
        written.append(path)
        lines += [f"![parity plot ({unit})]({path.name})", ""]
    return lines


def _parity_plot(
    result: ReproduceResult,
    group: list[EntryResult],
    unit: str,
    report_dir: Path,
    units: list[str],
) -> Path:
    """``parity.png`` (one unit) or ``parity_<unit>.png`` of the computed rows of ``unit``."""
    from ssbflow.plots.parity import plot_parity

    if len(units) == 1:
        path = report_dir / "parity.png"
    else:
        path = report_dir / f"parity_{unit.replace('/', '_per_').replace('^', '')}.png"
    plot_parity(
        [e.id for e in group],
        [float(e.published) for e in group],
        [float(e.computed) for e in group],  # type: ignore[arg-type]
        unit,
        path,
        title=f"{result.level_of_theory} vs. published",
        quantity_labels=[e.quantity for e in group],
    )
    return path


def _ordering_row(e: EntryResult) -> str:
    vals = "; ".join(
        f"{m.label} = {format_number(m.value)}" if m.value is not None else f"{m.label}: {m.status}"
        for m in e.members
    ) or str(e.computed)
    result_text = e.status.upper() if e.status in ("passed", "failed") else e.status
    if e.reason:
        result_text += f" ({_md_escape(e.reason)})"
    return (
        f"| {e.id} | {_md_escape(str(e.published))} ({e.quantity}, {e.unit}) | {vals} | "
        f"{result_text} | {_md_escape(e.comparison)} | {_md_escape(e.source)} |"
    )


def _orderings(result: ReproduceResult) -> list[str]:
    orderings = [e for e in result.entries if e.kind in ("ordering", "products")]
    if not orderings:
        return []
    return [
        "## Ordering claims",
        "",
        "| id | published claim | computed values | result "
        "| level of theory (computed vs. published) | source |",
        "|---|---|---|---|---|---|",
        *(_ordering_row(e) for e in orderings),
        "",
    ]


def _key_results(doc: dict[str, Any]) -> str:
    """``name = value`` of the system's key numbers (floats with 3 decimals)."""
    return ", ".join(
        f"{k} = {doc[k]:.3f}" if isinstance(doc[k], float) else f"{k} = {doc[k]}"
        for k in _KEY_RESULTS
        if doc.get(k) is not None
    )


def _system_row(t: TaskResult) -> str:
    key_text = _key_results(t.document or {})
    return (
        f"| {t.label} | {t.kind} | {t.status} | {_md_escape(t.facets_used) or '—'} | "
        f"{key_text or '—'} | {t.wall_time_s:.1f} | {_md_escape(t.reason) or ''} |"
    )


def _systems(result: ReproduceResult) -> list[str]:
    return [
        "## Systems",
        "",
        "| system | workflow | status | facets used | key results | wall time (s) | reason |",
        "|---|---|---|---|---|---|---|",
        *(_system_row(t) for t in result.systems),
    ]


def _definitions(result: ReproduceResult) -> list[str]:
    return [
        "",
        "## Definitions used by the sources",
        "",
        *(
            f"- **{e.id}** ({e.source_level_of_theory}): {_md_escape(e.definition)}"
            for e in result.entries
        ),
        "",
    ]


def write_report(result: ReproduceResult, report_dir: Path) -> list[Path]:
    """Write ``report.md`` (and ``parity.png`` when numeric rows were computed).

    Returns
    -------
    list of pathlib.Path
        The files written: ``report.md`` first, then the parity plots.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    plots: list[Path] = []
    lines = [
        *_header(result),
        *_summary(result),
        *_numeric_rows(result, report_dir, plots),
        *_orderings(result),
        *_systems(result),
        *_definitions(result),
    ]
    md = report_dir / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return [md, *plots]
