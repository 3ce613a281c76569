"""Benchmark: the default adhesion study (Li(100) on Li2O(111), CHGNet) on this machine.

Reports, from one run:

- wall time of the full study (all termination pairs and registries for one pair of
  Miller indices), and the time spent inside the calculator (every ``calculate`` call of
  the ASE calculator class is timed), so the share spent outside it — orchestration,
  serialisation, the store and I/O — is measured rather than estimated;
- force evaluations of the screened study against **relaxing every candidate in full**
  (interface + both slab references of every termination × registry), measured in the
  same process, same calculator, same settings. Both strategies share the bulk
  relaxations and the converged surface energies (the metal plane and every termination
  of the electrolyte plane, slabs added until γ changes by < 0.01 J/m²); the alternative
  runs that shared part with the study's own makers and reports it separately, so the
  ratio is given for all force calls and for the candidate part alone.

Usage: ``python benchmarks/adhesion.py [--skip-full-relax] [--calculator chgnet]``.
Writes ``benchmarks/results/adhesion.json`` and ``adhesion.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


class FunctionTimer:
    """Accumulate the wall time of calls to ``owner.name`` (a function or method)."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name, self.seconds, self.calls = owner, name, 0.0, 0
        self._orig = getattr(owner, name)

    def __enter__(self) -> FunctionTimer:
        timer, orig = self, self._orig

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - t0
                timer.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc) -> None:
        setattr(self.owner, self.name, self._orig)


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--skip-full-relax", action="store_true")
    args = parser.parse_args()

    from ssbflow.calculators import get_calculator
    from ssbflow.commands._common import load_output
    from ssbflow.execution.runner import run_flow
    from ssbflow.settings import get_settings
    from ssbflow.structures.interfaces import build_interface_candidates
    from ssbflow.structures.library import get_phase
    from ssbflow.workflows.adhesion import AdhesionMaker, default_gap_A

    tmp = Path(tempfile.mkdtemp(prefix="ssbflow-bench-"))
    settings = get_settings(data_dir=tmp / "data")
    li, li2o = get_phase("Li"), get_phase("Li2O")
    calc = get_calculator(args.calculator)  # model load is not part of the study
    maker = AdhesionMaker.from_calculator(args.calculator)

    import jobflow.core.job
    import jobflow.core.store

    import ssbflow.workflows.adhesion as adhesion_module
    import ssbflow.workflows.surface as surface_module

    with (
        FunctionTimer(type(calc), "calculate") as timer,
        FunctionTimer(adhesion_module, "build_interface_candidates") as enum_timer,
        FunctionTimer(surface_module, "enumerate_terminations") as term_timer,
        FunctionTimer(surface_module, "termination_series") as series_timer,
        FunctionTimer(jobflow.core.job.Job, "resolve_args") as resolve_timer,
        FunctionTimer(jobflow.core.store.JobStore, "update") as store_timer,
    ):
        t0 = time.perf_counter()
        flow = maker.make(li, li2o, "Li", "Li2O")
        run_flow(flow, settings, work_dir=tmp / "runs", progress=False)
        wall = time.perf_counter() - t0
    slab_building = term_timer.seconds + series_timer.seconds
    rest = wall - timer.seconds - enum_timer.seconds - slab_building
    doc = load_output(settings, flow.jobs[-1].uuid)
    study = {
        "wall_s": wall,
        "calculator_s": timer.seconds,
        "calculator_calls": timer.calls,
        "outside_calculator_fraction": 1 - timer.seconds / wall,
        "interface_enumeration_s": enum_timer.seconds,
        "surface_slab_construction_s": slab_building,
        "orchestration_serialisation_io_s": rest,
        "orchestration_serialisation_io_fraction": rest / wall,
        "of_which_resolving_job_inputs_s": resolve_timer.seconds,
        "of_which_store_writes_s": store_timer.seconds,
        "n_candidates": doc["n_candidates"],
        "n_relaxed": doc["n_relaxed"],
        "status": doc["status"],
        "work_of_adhesion_J_per_m2": doc["work_of_adhesion_J_per_m2"],
        "work_of_adhesion_ideal_J_per_m2": doc["work_of_adhesion_ideal_J_per_m2"],
        "interface_energy_J_per_m2": doc["interface_energy_J_per_m2"],
        "metal_surface_energy_J_per_m2": doc["metal_surface_energy_J_per_m2"],
        "metal_surface_converged": doc["metal_surface_converged"],
        "electrolyte_surface_energy_J_per_m2": doc["electrolyte_surface_energy_J_per_m2"],
        "electrolyte_termination_chemistry": doc["electrolyte_termination_chemistry"],
        "headline": doc["headline"],
        "contact_angle_deg": doc["contact_angle_deg"],
        "n_atoms": doc["n_atoms"],
        "strain_percent": doc["strain_percent"],
        "electrolyte_faces": [
            {
                k: f[k]
                for k in (
                    "termination",
                    "surface_energy_J_per_m2",
                    "stoichiometric",
                    "converged",
                    "thickness_A",
                )
            }
            for f in doc["electrolyte_faces"]
        ],
        "candidates": [
            {
                k: c[k]
                for k in (
                    "label",
                    "electrolyte_termination",
                    "electrolyte_termination_chemistry",
                    "status",
                    "work_of_adhesion_J_per_m2",
                    "interface_energy_J_per_m2",
                    "flags",
                )
            }
            for c in doc["candidates"]
        ],
    }

    full = None
    if not args.skip_full_relax:
        # The alternative without screening: the same bulk relaxations and converged
        # surface energies (run with the study's own makers: the part both strategies
        # share), then relax the interface and both references of every candidate
        # (references once per termination pair: they do not depend on the registry),
        # with the same relax settings, the same calculator and in the same process.
        from dataclasses import replace

        from jobflow import Flow
        from pymatgen.core import Structure

        from ssbflow.execution.store import get_jobstore

        store = get_jobstore(settings)
        store.connect()
        relaxed = {
            name: Structure.from_dict(
                store.query_one({"name": f"bulk relax {name}"}, load=True)["output"]["structure"]
            )
            for name in ("Li", "Li2O")
        }
        store.close()
        # the same candidates as the study: built from the study's relaxed bulks
        cands = build_interface_candidates(
            relaxed["Li"],
            relaxed["Li2O"],
            **{
                **maker.candidate_kwargs(),
                "gap_A": default_gap_A(relaxed["Li"], relaxed["Li2O"]),
            },
        )
        # same settings as the flow's relaxations; do not write atomate2's
        # final_atoms_object.xyz into the current directory
        relax = replace(
            maker.relax_maker,
            relax_kwargs={**maker.relax_maker.relax_kwargs, "final_atoms_object_file": None},
        )
        relax_li = maker.bulk_relax_maker.make(li)
        relax_li2o = maker.bulk_relax_maker.make(li2o)
        metal_gamma = replace(maker.surface_energy_maker, miller=maker.metal_miller).make(
            relax_li.output.structure
        )
        faces = replace(
            maker.surface_energy_maker, miller=maker.electrolyte_miller, metal_element="Li"
        ).make(relax_li2o.output.structure, relax_li.output.structure)
        shared = Flow([relax_li, relax_li2o, metal_gamma, faces], name="shared steps")
        with FunctionTimer(type(calc), "calculate") as t_full:
            t1 = time.perf_counter()
            # the steps both strategies share: bulk relaxations and surface energies
            run_flow(shared, settings, work_dir=tmp / "runs-full", progress=False)
            shared_calls, shared_wall = t_full.calls, time.perf_counter() - t1
            seen = set()
            for cand in cands:
                relax.run_ase(cand.interface)
                key = (cand.match_index, cand.metal_termination, cand.electrolyte_termination)
                if key not in seen:
                    seen.add(key)
                    relax.run_ase(cand.metal_slab)
                    relax.run_ase(cand.electrolyte_slab)
            full_wall = time.perf_counter() - t1
        full = {
            "wall_s": full_wall,
            "calculator_calls": t_full.calls,
            "shared_steps_calculator_calls": shared_calls,
            "shared_steps_wall_s": shared_wall,
            "candidate_part_calculator_calls": t_full.calls - shared_calls,
            "n_candidates": len(cands),
        }

    RESULTS.mkdir(exist_ok=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]},
        "calculator": args.calculator,
        "system": "Li(100) / Li2O(111)",
        "study": study,
        "relax_every_candidate": full,
    }
    if full:
        result["force_evaluation_ratio_full_over_screened"] = full["calculator_calls"] / max(
            timer.calls, 1
        )
        screened_part = timer.calls - full["shared_steps_calculator_calls"]
        study["candidate_part_calculator_calls"] = screened_part
        result["force_evaluation_ratio_candidate_part"] = full[
            "candidate_part_calculator_calls"
        ] / max(screened_part, 1)
    (RESULTS / "adhesion.json").write_text(json.dumps(result, indent=2, default=str))
    lines = [
        f"# Adhesion benchmark: {result['system']}, {args.calculator}",
        "",
        f"load average at end: {result['machine']['load_avg_1min']:.2f} on {os.cpu_count()} cores",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| wall time, full study | {wall:.0f} s |",
        f"| time in calculator | {timer.seconds:.0f} s ({timer.calls} calls) |",
        f"| outside calculator | {100 * study['outside_calculator_fraction']:.1f} % |",
        f"| of which: interface enumeration (ZSL, slabs, registries) | {enum_timer.seconds:.2f} s |",
        f"| of which: surface terminations and thickness series (pymatgen slabs) | {slab_building:.2f} s |",
        f"| of which: everything else (orchestration, serialisation, I/O, optimiser bookkeeping) | {rest:.2f} s = {100 * rest / wall:.1f} % (target ≤ 5 %) |",
        f"| … resolving job inputs from the store / store writes | {resolve_timer.seconds:.2f} s / {store_timer.seconds:.2f} s |",
        f"| candidates (terminations × registries) | {study['n_candidates']} |",
        f"| relaxed | {study['n_relaxed']} |",
        f"| W_ad relaxed / ideal | {study['work_of_adhesion_J_per_m2']} / {study['work_of_adhesion_ideal_J_per_m2']} J/m² |",
        f"| γ_int, γ_Li | {_f(study['interface_energy_J_per_m2'])} / {_f(study['metal_surface_energy_J_per_m2'])} J/m² |",
        f"| γ of the contact face ({study['electrolyte_termination_chemistry']}) | {_f(study['electrolyte_surface_energy_J_per_m2'])} J/m² |",
        f"| θ | {_f(study['contact_angle_deg'], 1)} ° |",
    ]
    lines += [
        f"| electrolyte face {f['termination']} | γ {_f(f['surface_energy_J_per_m2'])} J/m², "
        f"{'stoichiometric' if f['stoichiometric'] else 'off-stoichiometric (Δμ_Li = 0)'}, "
        f"{'converged' if f['converged'] else 'NOT converged'} at {_f(f['thickness_A'], 1)} Å |"
        for f in study["electrolyte_faces"]
    ]
    if full:
        lines += [
            f"| relax every candidate: force calls | {full['calculator_calls']} ({full['wall_s']:.0f} s) |",
            f"| … of which shared with the study (bulk relaxations, converged surface energies) | {full['shared_steps_calculator_calls']} ({full['shared_steps_wall_s']:.0f} s) |",
            f"| screened study: force calls (all stages) | {timer.calls} |",
            f"| ratio full / screened, all force calls | {result['force_evaluation_ratio_full_over_screened']:.2f} |",
            f"| ratio full / screened, candidate part only ({full['candidate_part_calculator_calls']} / {study['candidate_part_calculator_calls']}) | {result['force_evaluation_ratio_candidate_part']:.2f} |",
        ]
    lines += ["", f"headline: {study['headline']}"]
    (RESULTS / "adhesion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
