"""The Markdown report of a ``ssbflow reproduce`` run (``report.md`` and ``parity.png``)."""

from __future__ import annotations

from pathlib import Path

from ssbflow.reproduce.runs import ReproduceResult


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}"


def _md_escape(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def write_report(result: ReproduceResult, report_dir: Path) -> list[Path]:
    """Write ``report.md`` (and ``parity.png`` when numeric rows were computed).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from ssbflow.plots.parity import plot_parity

    report_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    s = result.summary
    lines = [
        "# ssbflow reproduce: computed vs. published",
        "",
        f"- Calculator: **{result.calculator}** — level of theory: **{result.level_of_theory}**",
        f"- Reference file: `{result.reference_file}`; max atoms per structure: {result.max_atoms}"
        + ("; rigid (unrelaxed) slabs for every surface row" if result.rigid_slabs else ""),
        f"- Systems: {s.n_systems} ({s.n_systems_reused} reused from the store, "
        f"{s.n_systems_failed} failed, {s.n_systems_not_reproducible} not reproducible); "
        f"wall time {result.wall_time_s:.1f} s",
        "",
    ]
    if result.is_ml_potential:
        lines += [f"> **{result.comparison_note}**", ""]
    else:
        lines += [f"> {result.comparison_note}", ""]
    lines += ["## Summary", ""]
    if s.n_numeric:
        lines += [
            "| unit | n | MAE | RMSE | max abs error | mean signed error |",
            "|---|---|---|---|---|---|",
        ]
        for unit, st in s.by_unit.items():
            lines.append(
                f"| {unit} | {st['n']} | {_fmt(st['mae'])} | {_fmt(st['rmse'])} | "
                f"{_fmt(st['max_abs_error'])} | {_fmt(st['mean_signed_error'])} |"
            )
        lines += [
            "",
            f"By reference group (computed: {result.level_of_theory}; a project value is "
            "ssbflow's own earlier number, not a published one):",
            "",
            "| unit | reference | published level of theory | rows | n | MAE | RMSE | max abs error |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for st in s.by_group.values():
            lines.append(
                f"| {st['unit']} | {st['provenance']} | {_md_escape(str(st['published_level_of_theory']))} "
                f"| {st['ids']} | {st['n']} | {_fmt(st['mae'])} | {_fmt(st['rmse'])} | "  # type: ignore[arg-type]
                f"{_fmt(st['max_abs_error'])} |"  # type: ignore[arg-type]
            )
    else:
        lines.append(
            f"No numeric row was computed ({s.n_numeric_total} numeric rows selected): "
            "error statistics are undefined."
        )
    lines += [
        "",
        f"Ordering claims: **{s.orderings_passed} of {s.orderings_total} passed**"
        f" ({s.orderings_not_evaluated} not evaluated).",
        "",
    ]
    numeric = [e for e in result.entries if e.kind == "numeric"]
    if numeric:
        lines += [
            "## Numeric rows",
            "",
            "| id | quantity | reference | computed | difference | rel. difference | status "
            "| level of theory (computed vs. reference) | reference kind | source |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in numeric:
            rel = "—" if e.relative_difference is None else f"{100 * e.relative_difference:+.1f} %"
            status = e.status + (f": {_md_escape(e.reason)}" if e.reason else "")
            computed = e.computed if isinstance(e.computed, float) else None
            lines.append(
                f"| {e.id} | {e.quantity} ({e.unit}) | {_fmt(float(e.published))} | "
                f"{_fmt(computed)} | {_fmt(e.difference)} | {rel} | {status} | "
                f"{_md_escape(e.comparison)} | {e.provenance} | {_md_escape(e.source)} |"
            )
        lines.append("")
        done = [e for e in numeric if isinstance(e.computed, float)]
        if done:
            png = report_dir / "parity.png"
            units = sorted({e.unit for e in done})
            for unit in units:
                group = [e for e in done if e.unit == unit]
                path = (
                    png
                    if len(units) == 1
                    else report_dir / f"parity_{unit.replace('/', '_per_').replace('^', '')}.png"
                )
                plot_parity(
                    [e.id for e in group],
                    [float(e.published) for e in group],
                    [float(e.computed) for e in group],  # type: ignore[arg-type]
                    unit,
                    path,
                    title=f"{result.level_of_theory} vs. published",
                    quantity_labels=[e.quantity for e in group],
                )
                written.append(path)
                lines += [f"![parity plot ({unit})]({path.name})", ""]
    orderings = [e for e in result.entries if e.kind in ("ordering", "products")]
    if orderings:
        lines += [
            "## Ordering claims",
            "",
            "| id | published claim | computed values | result | level of theory (computed vs. published) | source |",
            "|---|---|---|---|---|---|",
        ]
        for e in orderings:
            vals = "; ".join(
                f"{m.label} = {_fmt(m.value)}" if m.value is not None else f"{m.label}: {m.status}"
                for m in e.members
            ) or str(e.computed)
            result_text = e.status.upper() if e.status in ("passed", "failed") else e.status
            if e.reason:
                result_text += f" ({_md_escape(e.reason)})"
            lines.append(
                f"| {e.id} | {_md_escape(str(e.published))} ({e.quantity}, {e.unit}) | {vals} | "
                f"{result_text} | {_md_escape(e.comparison)} | {_md_escape(e.source)} |"
            )
        lines.append("")
    lines += [
        "## Systems",
        "",
        "| system | workflow | status | facets used | key results | wall time (s) | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in result.systems:
        doc = t.document or {}
        keys = [
            k
            for k in (
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
            if doc.get(k) is not None
        ]
        key_text = ", ".join(
            f"{k} = {doc[k]:.3f}" if isinstance(doc[k], float) else f"{k} = {doc[k]}" for k in keys
        )
        lines.append(
            f"| {t.label} | {t.kind} | {t.status} | {_md_escape(t.facets_used) or '—'} | "
            f"{key_text or '—'} | {t.wall_time_s:.1f} | {_md_escape(t.reason) or ''} |"
        )
    lines += [
        "",
        "## Definitions used by the sources",
        "",
    ]
    for e in result.entries:
        lines.append(f"- **{e.id}** ({e.source_level_of_theory}): {_md_escape(e.definition)}")
    lines.append("")
    md = report_dir / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    written.insert(0, md)
    return written
