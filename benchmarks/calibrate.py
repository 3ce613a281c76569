"""Calibration of the offline ML potentials against GPAW PBE on a fixed rigid set.

Runs `ssbflow.workflows.calibrate.calibrate` (the code behind ``ssbflow calibrate``) with
CHGNet 0.3.0, CHGNet r2SCAN, SevenNet-0, SevenNet-l3i5 and SevenNet-MF-0 (PBE head)
against GPAW on the default set: surface energies of Li(100)/(110)/(111), Na(100)/(110),
K(100)/(110), Li2O(111), LiF(100), LiCl(100), Li2S(111), Na2O(111) (two-slab series) and
the rigid works of adhesion of Li/Li2O, Li/LiF, Li/Li2S and Na/Na2O at a 2.5 Å gap, all
from the library bulks (Materials Project PBE lattices) and identical for every
calculator. GPAW energies are cached in the results store (``--data-dir``), so a rerun
only computes what is missing.

Writes benchmarks/results/calibrate.json, calibrate.md and calibrate.png (parity plot).

Usage: python benchmarks/calibrate.py [--reference gpaw:fast] [--calculators ...]
       [--data-dir DIR] [--max-seconds 1500]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ALL = "chgnet,chgnet-r2scan,sevennet,sevennet-l3i5,sevennet-mf-0"
TITLES = {
    "gamma_metal": "γ metal",
    "gamma_electrolyte": "γ electrolyte",
    "work_of_adhesion": "W_ad",
}


def _f(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mean_rank(scores: dict) -> float | None:
    vals = [s["pairwise_order_agreement"] for s in scores.values() if s]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def markdown(result: dict) -> str:
    """The results table (source of the README table) and the per-item values."""
    ref = result["reference"]
    labels = list(result["potentials"])
    lines = [
        f"# Calibration of ML potentials against {ref['label']}, rigid structures",
        "",
        "| potential | MAE γ metal (J/m²) | MAE γ electrolyte (J/m²) | MAE W_ad (J/m²) | "
        "max \\|error\\| (J/m²) | W_ad sign agreement | ranking agreement | "
        "time per structure vs CHGNet |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lab in labels:
        pot = result["potentials"][lab]
        s = pot["scores"]
        w = s.get("work_of_adhesion")
        n_w = w["n"] if w else 0
        sign = f"{round(w['sign_agreement'] * n_w)}/{n_w}" if w else "—"
        rel = pot["time_relative_to_baseline"]
        lines.append(
            f"| {lab} | {_f((s.get('gamma_metal') or {}).get('mae'))} | "
            f"{_f((s.get('gamma_electrolyte') or {}).get('mae'))} | "
            f"{_f((w or {}).get('mae'))} | {_f(pot['max_abs_error_J_per_m2'])} | {sign} | "
            f"{_f(_mean_rank(s), 2)} | {_f(rel, 2)}× ({_f(pot['time_per_structure_s'], 2)} s) |"
        )
    lines += [
        "",
        "Ranking agreement: fraction of pairs ordered as by the reference, within each "
        "quantity, averaged over the three quantities (Spearman ρ per quantity in "
        "calibrate.json). Time: mean wall time of one single point, model loading excluded.",
        "",
        "## Mean signed error (potential − reference), J/m²",
        "",
        "| potential | " + " | ".join(TITLES.values()) + " |",
        "|---|---|---|---|",
    ]
    for lab in labels:
        s = result["potentials"][lab]["scores"]
        lines.append(
            f"| {lab} | "
            + " | ".join(_f((s.get(q) or {}).get("mean_signed_error")) for q in TITLES)
            + " |"
        )
    lines += [
        "",
        "## Values (J/m²)",
        "",
        "| item | quantity | " + ref["label"] + " | " + " | ".join(labels) + " |",
        "|---|---|---|" + "---|" * len(labels),
    ]
    for row in result["items"]:
        r = row["reference"]
        rv = _f(r["value"]) if r["status"] == "completed" else "failed"
        lines.append(
            f"| {row['label']} | {TITLES[row['quantity']]} | {rv} | "
            + " | ".join(_f(row["predicted"][lab]["value"]) for lab in labels)
            + " |"
        )
    lines += [
        "",
        f"Reference: {ref['label']} (GPAW {ref['provenance'].get('package_version')}, "
        f"{ref['provenance'].get('xc', 'PBE')}); {ref['n_single_points_computed']} "
        f"single points computed in this run, {ref['n_single_points_cached']} reused from "
        f"the results store, {ref['n_failed']} failed. All "
        f"{ref['n_single_points_computed'] + ref['n_single_points_cached']} reference single "
        f"points together: {ref['all_time_s'] / 60:.0f} min of wall time, "
        f"{_f(ref['all_time_per_structure_s'], 0)} s per structure on average (CHGNet: "
        f"{_f((result['potentials'].get('chgnet') or {}).get('time_per_structure_s'), 2)} s).",
        "",
        "Method: "
        + result["method"]["surface_energy"]
        + "; "
        + result["method"]["work_of_adhesion"]
        + f"; gap {', '.join(str(g) for g in result['items'][-1]['gaps_A'])} Å.",
        "",
        f"Machine: {result['machine']}; {result['date']}; wall time {result['wall_time_s']:.0f} s. "
        "Other GPAW jobs shared the 2 cores, so times are upper bounds; ratios between "
        "potentials were measured in the same process, one after the other.",
    ]
    for w in result.get("warnings") or []:
        lines.append(f"\nwarning: {w}")
    check = result.get("reference_check")
    if check:
        lines += [
            "",
            f"## Reference check: {ref['label']} against {check['reference']['label']}",
            "",
            f"Items with stored {check['reference']['label']} energies only "
            f"({', '.join(check['items'])}).",
            "",
            f"| item | {ref['label']} | {check['reference']['label']} | difference |",
            "|---|---|---|---|",
        ]
        for label, (a, b) in check["values"].items():
            lines.append(f"| {label} | {_f(a)} | {_f(b)} | {_f(a - b)} |")
        qs = [q for q in TITLES if q in check["reference_mad"]]
        lines += [
            "",
            f"Mean |{ref['label']} − {check['reference']['label']}|: "
            + ", ".join(f"{TITLES[q]} {_f(check['reference_mad'][q])}" for q in qs)
            + " J/m².",
            "",
            f"MAE of each potential against {check['reference']['label']} (in brackets: "
            f"against {ref['label']} on the same items), J/m²:",
            "",
            "| potential | " + " | ".join(TITLES[q] for q in qs) + " |",
            "|---|" + "---|" * len(qs),
        ]
        for lab, per_q in check["mae"].items():
            cells = []
            for q in qs:
                if q in per_q:
                    m_check, m_ref, n = per_q[q]
                    cells.append(f"{_f(m_check)} ({_f(m_ref)}, n={n})")
                else:
                    cells.append("—")
            lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def reference_check(items, calcs, check_ref, settings, result) -> dict:
    """Values of the items that ``check_ref`` has in the store, beside the main reference."""
    from ssbflow.workflows import calibrate as wf

    cache = wf.EnergyCache.from_settings(settings)
    try:
        check = wf.calibrate(
            items, calcs, check_ref, cache=cache, reference_stored_only=True, baseline=None
        )
    finally:
        cache.close()
    main_rows = {row["label"]: row for row in result["items"]}
    values, labels = {}, []
    for row in check["items"]:
        if row["reference"]["status"] != "completed":
            continue
        labels.append(row["label"])
        values[row["label"]] = (
            main_rows[row["label"]]["reference"]["value"],
            row["reference"]["value"],
        )
    mae: dict[str, dict[str, tuple]] = {}
    for lab in result["potentials"]:
        mae[lab] = {}
        for q in TITLES:
            sel = [x for x in labels if main_rows[x]["quantity"] == q]
            pred = [main_rows[x]["predicted"][lab]["value"] for x in sel]
            if not sel or any(p is None for p in pred):
                continue
            err_check = [abs(p - values[x][1]) for p, x in zip(pred, sel, strict=True)]
            err_ref = [abs(p - values[x][0]) for p, x in zip(pred, sel, strict=True)]
            mae[lab][q] = (sum(err_check) / len(sel), sum(err_ref) / len(sel), len(sel))
    ref_diff = {}
    for q in TITLES:
        sel = [x for x in labels if main_rows[x]["quantity"] == q]
        if sel:
            ref_diff[q] = sum(abs(values[x][0] - values[x][1]) for x in sel) / len(sel)
    return {
        "reference": check["reference"],
        "items": labels,
        "values": values,
        "mae": mae,
        "reference_mad": ref_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calculators", default=ALL)
    parser.add_argument("--reference", default="gpaw:fast")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument(
        "--max-seconds", type=float, default=1500.0, help="Limit of one reference single point, s."
    )
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument(
        "--check-reference",
        default=None,
        help="Second reference (e.g. gpaw:standard) compared on the items whose energies "
        "it already has in the results store (computes none).",
    )
    parser.add_argument(
        "--stored-only",
        action="store_true",
        help="Use only reference energies already in the results store (compute none).",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.torch_threads)
    from ssbflow.calculators import resolve_variant
    from ssbflow.plots.parity import plot_calibration_parity
    from ssbflow.settings import get_settings
    from ssbflow.workflows import calibrate as wf

    settings = get_settings(data_dir=args.data_dir)
    calcs = [resolve_variant(c) for c in args.calculators.split(",")]
    ref = resolve_variant(args.reference)
    t0 = time.perf_counter()
    items = wf.default_items()
    build_s = time.perf_counter() - t0
    print(f"built {len(items)} items in {build_s:.0f} s", flush=True)
    cache = wf.EnergyCache.from_settings(settings)
    work = args.work_dir or settings.data_dir / "runs" / "calibrate"
    try:
        result = wf.calibrate(
            items,
            calcs,
            ref,
            cache=cache,
            work_dir=work,
            log=lambda line: print(f"{datetime.now(UTC):%H:%M:%S} {line}", flush=True),
            reference_max_seconds=args.max_seconds,
            reference_stored_only=args.stored_only,
        )
    finally:
        cache.close()
    if args.check_reference:
        result["reference_check"] = reference_check(
            items, calcs, resolve_variant(args.check_reference), settings, result
        )
    result["machine"] = f"{platform.node()} ({platform.processor() or platform.machine()})"
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["structure_build_s"] = build_s
    result["torch_threads"] = args.torch_threads
    result["set"] = wf.spec_dicts()
    result["python"] = sys.version.split()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calibrate.json").write_text(json.dumps(result, indent=1, default=str))
    (RESULTS / "calibrate.md").write_text(markdown(result))
    try:
        plot_calibration_parity(result, RESULTS / "calibrate.png")
    except ValueError as exc:
        print(f"no parity plot: {exc}", flush=True)
    print(markdown(result), flush=True)


if __name__ == "__main__":
    main()
