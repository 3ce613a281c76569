"""Benchmark: MD throughput of ssbflow's MD job vs bare force calls; projected study time.

Measured in one run, side by side, on the same supercell with the same calculator:
- ssbflow's MD job (`CalcMDMaker`, atomate2 AseMDMaker + Bussi thermostat, run through
  jobflow's run_locally with an in-memory store): atom·steps/s over the whole job wall
  time (MD + trajectory conversion + output document + store);
- the bare calculator replaying **the same configurations** the MD job visited (every
  step's positions): atom·steps/s of bare ``get_forces`` calls. A thermal configuration
  costs CHGNet more than the ideal crystal (at 800 K β-Li3PS4 has ~40 % more three-body
  angles inside CHGNet's 3 Å cutoff), so comparing with force calls on the ideal cell
  would charge that physics to the MD job;
- the ratio, per round; rounds alternate job and replay, and the median is reported
  (target >= 0.9);
- the projected wall time of the default study (4 temperatures x (2 ps equilibration +
  20 ps production) at 1 fs) for beta-Li3PS4 (supercell >= 10 Å) on this machine.

Opt-in (``SSBFLOW_BENCH_LONG=1``): runs that default study and reports Ea beside any
published Ea for the phase in /work/shared/reference/published_values.csv.

Batched MD (TorchSim): TorchSim has no CHGNet model, so the ladder cannot be batched with
the default potential. When ``torch_sim`` and SevenNet are importable (not ssbflow
dependencies: ``pip install --no-deps torch-sim-atomistic vesin vesin-torch tables``),
the script measures, on the same supercell with SevenNet-0, side by side: ASE force
calls (what ssbflow's MD job runs), TorchSim with one system, and TorchSim with one
system per temperature of the default ladder in one batch (atom·steps/s). TorchSim
0.3's ``integrate`` takes one temperature schedule for the whole batch and its NVT
integrator is Langevin, so this measures throughput only; ssbflow does not use it for
production runs.

Writes benchmarks/results/diffusion.json and benchmarks/results/diffusion.md.

Usage: python benchmarks/diffusion.py [--structure Li3PS4] [--calculator chgnet] [--steps 50]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REFERENCE = Path("/work/shared/reference/published_values.csv")


def bare_throughput(structure, calc, frames) -> float:
    """atom·steps/s of bare force calls on ``frames`` (positions, shape (n, N, 3), Å)."""
    atoms = structure.to_ase_atoms()
    atoms.calc = calc
    start = time.perf_counter()
    for positions in frames:
        atoms.positions = positions
        atoms.get_forces()
    return len(atoms) * len(frames) / (time.perf_counter() - start)


def md_job_throughput(structure, calculator: str, n_steps: int):
    """(atom·steps/s over the whole job, inside the MD loop, positions of every step)."""
    import numpy as np
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from ssbflow.workflows.diffusion import CalcMDMaker

    maker = CalcMDMaker(
        calculator_name=calculator,
        temperature=800.0,
        time_step=1.0,
        n_steps=n_steps,
        traj_interval=1,  # every step, so the replay sees the same configurations
        progress_percent=None,
    )
    job = maker.make(structure)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        responses = run_locally(job, store=store, root_dir=tmp, log=False, ensure_success=True)
        wall = time.perf_counter() - start
    doc = responses[job.uuid][1].output
    frames = np.asarray(doc.trajectory.positions_A)[1:]  # the n_steps force calls
    return len(structure) * n_steps / wall, doc.atom_steps_per_s, frames


def batched_md(structure, n_steps: int, n_systems: int, rounds: int = 2) -> dict:
    """Throughput of TorchSim batched MD against sequential runs (SevenNet-0), or why not."""
    import numpy as np

    try:
        import sevenn.calculator
        import torch

        if not hasattr(sevenn.calculator, "torch_script_type"):
            # torch-sim 0.3.0 imports a name that sevenn 0.13 no longer has; it is only
            # used in an isinstance check for TorchScript models
            sevenn.calculator.torch_script_type = torch.jit.ScriptModule
        import torch_sim as ts
        from sevenn.util import load_checkpoint, pretrained_name_to_path
        from torch_sim.models.sevennet import SevenNetModel
    except ImportError as exc:
        return {
            "engine": "TorchSim (torch-sim-atomistic)",
            "status": "not measured",
            "reason": f"torch_sim or SevenNet not importable here ({exc}); TorchSim has no "
            "CHGNet model in any case",
        }
    from ssbflow.calculators import get_calculator

    model = SevenNetModel(
        model=load_checkpoint(pretrained_name_to_path("7net-0")).build_model(),
        modal=None,
        device="cpu",
        dtype=torch.float32,
    )
    atoms = structure.to_ase_atoms()
    ase_atoms = atoms.copy()
    ase_atoms.calc = get_calculator("sevennet")
    rng = np.random.default_rng(0)

    def ase_sequential() -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            ase_atoms.positions += rng.normal(0, 0.005, ase_atoms.positions.shape)
            ase_atoms.get_forces()
        return len(atoms) * n_steps / (time.perf_counter() - start)

    def torchsim(batch: int) -> float:
        start = time.perf_counter()
        ts.integrate(
            system=[atoms.copy() for _ in range(batch)],
            model=model,
            integrator=ts.nvt_langevin,
            n_steps=n_steps,
            temperature=800.0,
            timestep=0.001,
        )
        return len(atoms) * batch * n_steps / (time.perf_counter() - start)

    ase_sequential(), torchsim(1), torchsim(n_systems)  # warm-up (model compile, caches)
    runs: dict[str, list[float]] = {
        "ase_sevennet": [],
        "torchsim_batch_1": [],
        "torchsim_batch_n": [],
    }
    for _ in range(rounds):
        runs["ase_sevennet"].append(ase_sequential())
        runs["torchsim_batch_1"].append(torchsim(1))
        runs["torchsim_batch_n"].append(torchsim(n_systems))
    med = {k: float(np.median(v)) for k, v in runs.items()}
    return {
        "engine": "TorchSim (torch-sim-atomistic)",
        "status": "measured",
        "potential": "SevenNet-0 (TorchSim has no CHGNet model)",
        "n_atoms_per_system": len(atoms),
        "n_systems_in_batch": n_systems,
        "n_steps": n_steps,
        "rounds": rounds,
        "atom_steps_per_s": runs,
        "median_atom_steps_per_s": med,
        "batched_over_torchsim_sequential": med["torchsim_batch_n"] / med["torchsim_batch_1"],
        "batched_over_ase_sequential": med["torchsim_batch_n"] / med["ase_sevennet"],
        "note": "one temperature for the whole batch (TorchSim 0.3 takes one schedule); "
        "Langevin integrator, throughput only",
    }


def batched_lines(batched: dict) -> list[str]:
    """Markdown table rows for the batched-MD measurement."""
    if batched["status"] != "measured":
        return [f"| batched MD (TorchSim) | {batched['status']}: {batched['reason']} |"]
    med = batched["median_atom_steps_per_s"]
    n = batched["n_systems_in_batch"]
    return [
        f"| SevenNet-0, ASE force calls (what the MD job runs), atom·steps/s | "
        f"{med['ase_sevennet']:.0f} |",
        f"| SevenNet-0, TorchSim 1 system / {n} systems batched, atom·steps/s | "
        f"{med['torchsim_batch_1']:.0f} / {med['torchsim_batch_n']:.0f} |",
        f"| batched / TorchSim sequential; batched / ASE | "
        f"{batched['batched_over_torchsim_sequential']:.2f}; "
        f"{batched['batched_over_ase_sequential']:.2f} |",
    ]


def published_ea(phase: str) -> list[dict]:
    """Rows of published_values.csv giving an Ea for ``phase``."""
    if not REFERENCE.is_file():
        return []
    with REFERENCE.open() as fh:
        rows = list(csv.DictReader(fh))
    key = phase.lower().replace("beta-", "")
    return [
        r
        for r in rows
        if r["quantity"].lower().startswith("ea") and key in r["system_electrolyte"].lower()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structure", default="Li3PS4")
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batched-steps", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from ssbflow.calculators import get_calculator
    from ssbflow.structures.library import load_structure
    from ssbflow.workflows.diffusion import DiffusionMaker, supercell_matrix_for

    unit = load_structure(args.structure)
    scaling = supercell_matrix_for(unit, 10.0)
    structure = unit.make_supercell(scaling, in_place=False)
    atoms = structure.to_ase_atoms()
    t0 = time.perf_counter()
    calc = get_calculator(args.calculator)
    load_s = time.perf_counter() - t0

    # side by side, alternating, to see the noise of this machine
    import statistics

    atoms.calc = calc
    atoms.get_forces()  # warm-up
    bare, job, inner, ratios = [], [], [], []
    for _ in range(args.rounds):
        whole, loop, frames = md_job_throughput(structure, args.calculator, args.steps)
        replay = bare_throughput(structure, calc, frames)
        job.append(whole)
        inner.append(loop)
        bare.append(replay)
        ratios.append(whole / replay)
    ratio = statistics.median(ratios)
    job_best = statistics.median(job)  # for the projection

    default = DiffusionMaker()
    steps_per_t = (default.duration_ps + default.equilibration_ps) * 1000 / default.time_step_fs
    total_steps = steps_per_t * len(default.temperatures_K)
    projected_h = total_steps * len(structure) / job_best / 3600

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "structure": args.structure,
        "supercell": scaling,
        "n_atoms": len(structure),
        "calculator": args.calculator,
        "calculator_load_s": load_s,
        "n_steps_per_measurement": args.steps,
        "n_rounds": args.rounds,
        "bare_replay_atom_steps_per_s": bare,
        "md_job_atom_steps_per_s": job,
        "md_loop_atom_steps_per_s": inner,
        "ratio_md_job_to_bare_per_round": ratios,
        "ratio_md_job_to_bare_median": ratio,
        "target_ratio": 0.9,
        "default_study": {
            "temperatures_K": list(default.temperatures_K),
            "production_ps": default.duration_ps,
            "equilibration_ps": default.equilibration_ps,
            "time_step_fs": default.time_step_fs,
            "total_md_steps": total_steps,
            "projected_wall_h_sequential": projected_h,
            "projected_wall_h_4_parallel_workers": projected_h / len(default.temperatures_K),
            "note": "parallel workers share the 2 cores here, so they do not help on this "
            "machine; on a cluster each temperature is its own FireWorks job",
        },
        "batched_md": batched_md(structure, args.batched_steps, len(default.temperatures_K)),
    }
    rows = published_ea(args.structure)
    result["published_Ea"] = [
        {"id": r["id"], "value_eV": r["value"], "method": r["method"], "doi": r["doi"]}
        for r in rows
    ]
    if os.environ.get("SSBFLOW_BENCH_LONG") == "1":
        from ssbflow.runner import run_flow
        from ssbflow.settings import get_settings

        with tempfile.TemporaryDirectory() as tmp:
            settings = get_settings(data_dir=Path(tmp))
            flow = DiffusionMaker(calculator_name=args.calculator).make(unit, "Li")
            start = time.perf_counter()
            responses = run_flow(flow, settings)
            wall = time.perf_counter() - start
        from ssbflow.commands.diffusion import _find_document

        doc = _find_document(responses)
        result["long_run"] = {
            "wall_h": wall / 3600,
            "activation_energy_eV": doc.get("activation_energy_eV"),
            "activation_energy_stderr_eV": doc.get("activation_energy_stderr_eV"),
            "conductivity_300K_S_per_cm": doc.get("conductivity_300K_S_per_cm"),
            "excluded_temperatures": doc.get("excluded_temperatures"),
        }

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "diffusion.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Diffusion MD benchmark ({args.structure}, {len(structure)} atoms, {args.calculator})",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| rounds (MD job, then bare replay of its {args.steps} configurations) | {args.rounds} |",
        "| bare force calls, replay (atom·steps/s, per round) | "
        + ", ".join(f"{b:.0f}" for b in bare)
        + " |",
        "| ssbflow MD job, whole job (atom·steps/s, per round) | "
        + ", ".join(f"{j:.0f}" for j in job)
        + " |",
        "| ssbflow MD job, MD loop only (atom·steps/s, per round) | "
        + ", ".join(f"{i:.0f}" for i in inner)
        + " |",
        "| ratio job / bare, per round | " + ", ".join(f"{r:.3f}" for r in ratios) + " |",
        f"| ratio job / bare, median (target >= 0.9) | {ratio:.3f} |",
        f"| default study: MD steps | {total_steps:.0f} |",
        f"| default study: projected wall time, sequential | {projected_h:.1f} h |",
        *batched_lines(result["batched_md"]),
    ]
    if rows:
        for r in rows:
            lines.append(f"| published Ea ({r['id']}) | {r['value']} eV |")
    else:
        lines.append(f"| published Ea for {args.structure} | none in published_values.csv |")
    if "long_run" in result:
        lr = result["long_run"]
        lines.append(
            f"| long run Ea | {lr['activation_energy_eV']} ± "
            f"{lr['activation_energy_stderr_eV']} eV |"
        )
    (RESULTS / "diffusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
