"""Benchmark: the full reference set with CHGNet, then a rerun that reuses stored results.

Writes benchmarks/results/reproduce.json and benchmarks/results/reproduce.md, plus the
Markdown report and parity plot of the first run in benchmarks/results/reproduce_report/.

The shipped published set and the project's own reference values
(``ssbflow/data/project_reference.csv``) are both run unless ``--published-only``.

Usage: python benchmarks/reproduce.py [--calculator chgnet] [--calculator-kwargs JSON]
    [--max-atoms 200] [--rigid-slabs] [--published-only] [--only ID ...]
    [--name NAME] (NAME != "reproduce": results go to results/reproduce_report/NAME/ only)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from ssbflow.reproduce import ReproduceOptions, reproduce, write_report
from ssbflow.reproduce.reference import load_default_reference, select_rows
from ssbflow.settings import get_settings

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--max-atoms", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--calculator-kwargs", default="{}")
    parser.add_argument("--rigid-slabs", action="store_true")
    parser.add_argument("--published-only", action="store_true")
    parser.add_argument("--name", default="reproduce")
    args = parser.parse_args()

    rows = select_rows(load_default_reference(not args.published_only), args.only)
    options = ReproduceOptions(
        calculator=args.calculator,
        calculator_kwargs=json.loads(args.calculator_kwargs),
        max_atoms=args.max_atoms,
        rigid_slabs=args.rigid_slabs,
    )
    with tempfile.TemporaryDirectory(prefix="ssbflow-bench-") as tmp:
        settings = get_settings(data_dir=Path(tmp) / "data")

        def log(k, n, res):
            print(
                f"[{k}/{n}] {res.label}: {res.status} {res.wall_time_s:.1f} s"
                + (f" ({res.reason})" if res.reason else ""),
                flush=True,
            )

        t0 = time.perf_counter()
        first = reproduce(rows, options, settings, progress=log)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = reproduce(rows, options, settings, progress=log)
        t_second = time.perf_counter() - t0

    out = RESULTS if args.name == "reproduce" else RESULTS / "reproduce_report" / args.name
    report_dir = RESULTS / "reproduce_report" if args.name == "reproduce" else out
    out.mkdir(parents=True, exist_ok=True)
    report_files = write_report(first, report_dir)
    s = first.summary
    per_system = [
        {
            "system": a.label,
            "status_first": a.status,
            "time_first_s": a.wall_time_s,
            "status_rerun": b.status,
            "time_rerun_s": b.wall_time_s,
            "reason": a.reason,
        }
        for a, b in zip(first.systems, second.systems, strict=True)
    ]
    completed = [p for p in per_system if p["status_first"] == "computed"]
    payload = {
        "benchmark": "reproduce",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "calculator": first.calculator,
        "calculator_kwargs": options.calculator_kwargs,
        "level_of_theory": first.level_of_theory,
        "max_atoms": options.max_atoms,
        "rigid_slabs": options.rigid_slabs,
        "n_rows": len(rows),
        "n_systems": s.n_systems,
        "wall_time_first_run_s": t_first,
        "wall_time_rerun_s": t_second,
        "rerun_over_first_ratio": t_second / t_first if t_first > 0 else None,
        "rerun_reused_systems": second.summary.n_systems_reused,
        "rerun_time_for_completed_systems_s": sum(
            p["time_rerun_s"] for p in per_system if p["status_first"] == "computed"
        ),
        "first_time_for_completed_systems_s": sum(p["time_first_s"] for p in completed),
        "summary": s.model_dump(),
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "status": e.status,
                "published": e.published,
                "computed": e.computed,
                "unit": e.unit,
                "difference": e.difference,
                "provenance": e.provenance,
                "comparison": e.comparison,
                "reason": e.reason,
            }
            for e in first.entries
        ],
        "systems": per_system,
        "report_files": [str(p) for p in report_files],
    }
    name = "reproduce" if args.name == "reproduce" else "benchmark"
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    lines = [
        f"# reproduce benchmark ({first.calculator}, {os.cpu_count()} cores)",
        "",
        "| run | wall time (s) | systems reused |",
        "|---|---|---|",
        f"| first (computes) | {t_first:.1f} | {s.n_systems_reused} of {s.n_systems} |",
        f"| rerun (same store) | {t_second:.1f} | {second.summary.n_systems_reused} of {s.n_systems} |",
        "",
        f"Rerun / first = {payload['rerun_over_first_ratio']:.4f}. "
        f"Numeric rows computed: {s.n_numeric}"
        + (
            f" (MAE {s.mae:.3f}, RMSE {s.rmse:.3f}, max {s.max_abs_error:.3f} {s.unit})"
            if s.n_numeric
            else " (none computed: statistics undefined)"
        )
        + f". Ordering claims: {s.orderings_passed}/{s.orderings_total} passed, "
        f"{s.orderings_not_evaluated} not evaluated.",
        "",
    ]
    if s.by_group:
        lines += [
            "| unit | reference | published level of theory | rows | n | MAE | max abs error |",
            "|---|---|---|---|---|---|---|",
        ]
        for g in s.by_group.values():
            lines.append(
                f"| {g['unit']} | {g['provenance']} | {g['published_level_of_theory']} | "
                f"{g['ids']} | {g['n']} | {g['mae']:.3f} | {g['max_abs_error']:.3f} |"
            )
        lines.append("")
    lines += ["| row | result | computed | reference | reason |", "|---|---|---|---|---|"]
    for e in first.entries:
        value = f"{e.computed:.3f}" if isinstance(e.computed, float) else ""
        ref = f"{e.published} ({e.provenance})" if e.kind == "numeric" else ""
        lines.append(
            f"| {e.id} | {e.status} | {value} | {ref} | {(e.reason or '').replace('|', '/')} |"
        )
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
