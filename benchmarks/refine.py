"""Benchmark: ML adhesion studies refined with DFT (CHGNet, then GPAW PBE ``fast``).

Each study is the command a user types, run in this process so that its stages can be
timed::

    ssbflow adhesion Li LiF  --metal-miller 1,1,0 --electrolyte-miller 1,0,0 ...
        --refine gpaw:fast --refine-top 2 --json

Reports, per study, from one run:

- wall time of the whole study and of its two stages: the ML stage (bulk relaxations,
  converged surface energies, screening, relaxation, ML summary) and the DFT stage (the
  refinement job and the single points it fans out to, up to the refined summary); the DFT
  share of the wall time; time inside CHGNet and inside GPAW (every ``calculate`` call
  timed), so what is neither is measured;
- every DFT single point: which candidate or shared reference it belongs to, atoms, time;
  per refined candidate its own single points (interface, metal slab, electrolyte slab);
  the shared references (metal surface-energy series, one series per electrolyte contact
  face, the two bulks) and how many refined candidates reuse each;
- ML and DFT numbers side by side per refined candidate (W_ad, γ_face, γ_metal, γ_int, θ,
  wetting), the level of theory of the headline and the disagreement warnings.

Settings (chosen so that both refined studies fit in about 45 min on 2 shared cores):
Li(110) on LiF(100) and Li(110) on Li2O(110), 3 metal planes, 1 electrolyte unit plane,
2×2 registries, 2 candidates relaxed with CHGNet, both refined with GPAW (fast preset:
300 eV, 0.30 Å⁻¹ k-spacing, 0.1 eV Fermi-Dirac). These are small, thin cells: the numbers
show the machinery and the size of the ML-DFT gap, not converged adhesion energies.

Usage: ``python benchmarks/refine.py [--only Li/LiF]``. Writes
``benchmarks/results/refine.json`` and ``refine.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

#: (label, CLI arguments) of each study; the refinement options are added in `run_study`.
STUDIES: list[tuple[str, list[str]]] = [
    (
        "Li/LiF",
        [
            "Li", "LiF", "--metal-miller", "1,1,0", "--electrolyte-miller", "1,0,0",
            "--max-strain", "0.2", "--max-atoms", "40", "--metal-layers", "3",
            "--electrolyte-layers", "1", "--registry-grid", "2", "--n-relax", "2",
        ],
    ),
    (
        "Li/Li2O",
        [
            "Li", "Li2O", "--metal-miller", "1,1,0", "--electrolyte-miller", "1,1,0",
            "--max-strain", "0.1", "--max-atoms", "40", "--metal-layers", "3",
            "--electrolyte-layers", "1", "--registry-grid", "2", "--n-relax", "2",
        ],
    ),
]  # fmt: skip
REFINE = ["--refine", "gpaw:fast", "--refine-top", "2", "--no-stability"]


class Recorder:
    """Wall time of every job run (``Job.run``) and of every ``calculate`` of the given
    calculator classes, with the name of the job it ran in and the atoms it computed."""

    def __init__(self, calculators: dict[str, type]) -> None:
        self.calculators = calculators
        self.jobs: list[dict] = []
        self.calls: list[dict] = []
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, owner: object, name: str, make) -> None:
        orig = getattr(owner, name)
        self._saved.append((owner, name, orig))
        setattr(owner, name, make(orig))

    def __enter__(self) -> Recorder:
        from jobflow import CURRENT_JOB
        from jobflow.core.job import Job

        rec = self

        def job_run(orig):
            def run(job, *args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return orig(job, *args, **kwargs)
                finally:
                    rec.jobs.append({"name": job.name, "start": t0, "end": time.perf_counter()})

            return run

        self._wrap(Job, "run", job_run)
        for code, cls in self.calculators.items():

            def calc(orig, code=code):
                def calculate(calc_self, atoms=None, *args, **kwargs):
                    t0 = time.perf_counter()
                    try:
                        return orig(calc_self, atoms, *args, **kwargs)
                    finally:
                        job = CURRENT_JOB.job
                        who = atoms if atoms is not None else calc_self.atoms
                        rec.calls.append(
                            {
                                "code": code,
                                "job": job.name if job is not None else None,
                                "n_atoms": len(who) if who is not None else None,
                                "seconds": time.perf_counter() - t0,
                            }
                        )

                return calculate

            self._wrap(cls, "calculate", calc)
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, orig in reversed(self._saved):
            setattr(owner, name, orig)


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def run_study(
    label: str, args: list[str], tmp: Path, calculators: dict[str, type] | None = None
) -> dict:
    """Run one refined study through the CLI, timed; its JSON, table and timings.

    ``calculators``: the ML and DFT calculator classes to time, as ``{"chgnet": ...,
    "gpaw": ...}`` (default CHGNet's and ssbflow's GPAW calculator).
    """
    if calculators is None:
        from chgnet.model.dynamics import CHGNetCalculator

        from ssbflow.calculators.dft_gpaw import GpawCalculator

        calculators = {"chgnet": CHGNetCalculator, "gpaw": GpawCalculator}
    from ssbflow.cli import main

    data = tmp / label.replace("/", "-")
    argv = ["adhesion", *args, *REFINE, "--data-dir", str(data), "--output", str(data / "out")]
    out = io.StringIO()
    with Recorder(calculators) as rec:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = main([*argv, "--json"])
        wall = time.perf_counter() - t0
    doc = json.loads(out.getvalue().strip().splitlines()[-1])
    if code != 0:
        return {
            "label": label,
            "command": "ssbflow " + " ".join(argv),
            "exit_code": code,
            "json": doc,
        }
    try:
        return _summarise(label, argv, code, doc, rec, t0, wall, data)
    except Exception as exc:  # keep what was measured
        return {
            "label": label,
            "command": "ssbflow " + " ".join(argv),
            "exit_code": code,
            "postprocessing_error": repr(exc),
            "json": doc,
            "jobs": rec.jobs,
            "calls": rec.calls,
        }


def _summarise(label, argv, code, doc, rec, t0, wall, data) -> dict:
    from ssbflow.commands._common import load_output
    from ssbflow.commands.adhesion import _print_table
    from ssbflow.settings import get_settings

    table = io.StringIO()
    os.environ["COLUMNS"] = "200"
    with contextlib.redirect_stdout(table):
        _print_table(load_output(get_settings(data_dir=data), doc["uuid"]), doc["uuid"], [])

    by_name = {j["name"]: j for j in rec.jobs}
    ml_end = by_name["adhesion summary"]["end"]
    dft_start = by_name["dft refinement"]["start"]
    dft_end = by_name["dft refinement summary"]["end"]
    gpaw = [c for c in rec.calls if c["code"] == "gpaw"]
    chgnet = [c for c in rec.calls if c["code"] == "chgnet"]
    job_time = {j["name"]: j["end"] - j["start"] for j in rec.jobs}
    dft_jobs = [
        {
            "job": name,
            "n_atoms": next((c["n_atoms"] for c in gpaw if c["job"] == name), None),
            "gpaw_calls": sum(c["job"] == name for c in gpaw),
            "seconds": job_time[name],
        }
        for name in job_time
        if name.startswith("dft ") and name not in ("dft refinement", "dft refinement summary")
    ]
    block = doc["refinement"]
    refined = [c["label"] for c in block["candidates"]]
    per_candidate = {lab: [j for j in dft_jobs if j["job"].endswith(f" {lab}")] for lab in refined}
    shared = [j for j in dft_jobs if not any(j in v for v in per_candidate.values())]
    stored = load_output(get_settings(data_dir=data), doc["uuid"])
    face_of = {c["label"]: c.get("electrolyte_reference_termination") for c in stored["candidates"]}
    reuse = {"metal": len(refined)}
    for lab in refined:
        reuse[face_of.get(lab) or "?"] = reuse.get(face_of.get(lab) or "?", 0) + 1
    return {
        "label": label,
        "command": "ssbflow " + " ".join(argv),
        "exit_code": code,
        "wall_s": wall,
        "ml_stage_s": ml_end - t0,
        "dft_stage_s": dft_end - dft_start,
        "dft_share_of_wall": (dft_end - dft_start) / wall,
        "chgnet_s": sum(c["seconds"] for c in chgnet),
        "chgnet_calls": len(chgnet),
        "gpaw_s": sum(c["seconds"] for c in gpaw),
        "gpaw_calls": len(gpaw),
        "dft_single_points": len(dft_jobs),
        "dft_jobs": dft_jobs,
        "per_candidate": {
            lab: {"single_points": len(js), "seconds": sum(j["seconds"] for j in js)}
            for lab, js in per_candidate.items()
        },
        "shared_references": {
            "single_points": len(shared),
            "seconds": sum(j["seconds"] for j in shared),
            "jobs": [j["job"] for j in shared],
            "refined_candidates_per_series": reuse,
        },
        "n_candidates": doc["n_candidates"],
        "n_relaxed": doc["n_relaxed"],
        "n_atoms_selected": doc["n_atoms"],
        "strain_percent": doc["strain_percent"],
        "headline": doc["headline"],
        "headline_level_of_theory": doc["headline_level_of_theory"],
        "work_of_adhesion_J_per_m2": doc["work_of_adhesion_J_per_m2"],
        "refinement": {
            k: block[k]
            for k in (
                "level_of_theory",
                "ml_level_of_theory",
                "ml_selected_label",
                "candidates",
                "disagreements",
                "n_dft_single_points",
                "surface_series",
            )
        },
        "warnings": doc["warnings"],
        "table": table.getvalue(),
    }


def _markdown(result: dict) -> list[str]:
    lines = []
    for s in result["studies"]:
        lines += ["", f"## {s['label']}", "", f"`{s['command']}`", ""]
        if s["exit_code"] != 0:
            lines += [f"FAILED (exit {s['exit_code']}): {s['json']}"]
            continue
        lines += [
            "| quantity | value |",
            "|---|---|",
            f"| wall time, whole refined study | {s['wall_s']:.0f} s |",
            f"| ML stage (CHGNet: bulks, surface energies, screening, relaxation) | {s['ml_stage_s']:.0f} s ({s['chgnet_calls']} CHGNet calls, {s['chgnet_s']:.0f} s inside CHGNet) |",
            f"| DFT stage (GPAW single points, refined summary) | {s['dft_stage_s']:.0f} s ({s['gpaw_calls']} GPAW calls, {s['gpaw_s']:.0f} s inside GPAW) |",
            f"| DFT share of the wall time | {100 * s['dft_share_of_wall']:.0f} % |",
            f"| candidates / relaxed (ML) / refined (DFT) | {s['n_candidates']} / {s['n_relaxed']} / {len(s['per_candidate'])} |",
            f"| DFT single points, total | {s['dft_single_points']} |",
        ]
        for lab, pc in s["per_candidate"].items():
            lines.append(
                f"| … of candidate {lab} (interface, metal slab, electrolyte slab) | {pc['single_points']} ({pc['seconds']:.0f} s) |"
            )
        sh = s["shared_references"]
        reuse = ", ".join(f"{k}: {v}" for k, v in sh["refined_candidates_per_series"].items())
        lines += [
            f"| … shared references (surface-energy series slabs, 2 bulks), computed once | {sh['single_points']} ({sh['seconds']:.0f} s); refined candidates using each series: {reuse} |",
            f"| headline level of theory | {s['headline_level_of_theory']} |",
            "",
            "| candidate | level | W_ad | γ_face | γ_metal | γ_int | θ (°) | wetting |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in s["refinement"]["candidates"]:
            for lvl in ("ml", "dft"):
                n = c[lvl]
                lines.append(
                    f"| {c['label']} | {lvl.upper()} | {_f(n['work_of_adhesion_J_per_m2'])} | "
                    f"{_f(n['electrolyte_surface_energy_J_per_m2'])} | "
                    f"{_f(n['metal_surface_energy_J_per_m2'])} | "
                    f"{_f(n['interface_energy_J_per_m2'])} | {_f(n['contact_angle_deg'], 1)} | "
                    f"{n['wetting'] or '—'} |"
                )
        lines += ["", "| DFT single point | atoms | time (s) |", "|---|---|---|"]
        lines += [f"| {j['job']} | {j['n_atoms']} | {j['seconds']:.0f} |" for j in s["dft_jobs"]]
        lines += ["", f"headline: {s['headline']}", ""]
        lines += [f"- warning: {w}" for w in s["warnings"]]
        lines += ["", "```", s["table"].rstrip(), "```"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only this study, e.g. Li/LiF")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ssbflow-bench-refine-"))
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    studies = []
    for lab, a in STUDIES:
        if args.only in (None, lab):
            studies.append(run_study(lab, a, tmp))
            write(studies, load_start, t0)


def write(studies: list[dict], load_start: float, t0: float) -> None:
    """Write refine.json and refine.md (after each study, so a late failure keeps data)."""
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1min_start": load_start,
            "load_avg_1min_end": os.getloadavg()[0],
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "wall_s_all_studies": time.perf_counter() - t0,
        "refine": REFINE,
        "studies": studies,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refine.json").write_text(json.dumps(result, indent=2, default=str))
    m = result["machine"]
    lines = [
        "# DFT refinement benchmark: CHGNet adhesion studies refined with GPAW PBE (fast)",
        "",
        f"{m['cpus']} cores, load average {m['load_avg_1min_start']:.1f} at the start and "
        f"{m['load_avg_1min_end']:.1f} at the end (other jobs shared the cores); all studies "
        f"{result['wall_s_all_studies']:.0f} s. Energies in J/m².",
    ]
    try:
        lines += _markdown(result)
    except Exception as exc:  # the JSON is written already
        lines += ["", f"(markdown failed: {exc!r}; see refine.json)"]
    (RESULTS / "refine.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
