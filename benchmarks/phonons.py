"""Benchmark: Li2O phonons with CHGNet — wall time, share outside the calculator, displacements.

Measured in one run, side by side:
- wall time of the whole phonon flow (relax → displacements → force constants → summary),
  with imports and the CHGNet model load done beforehand and reported separately;
- time inside the calculator: ``CHGNetCalculator.calculate`` is wrapped at class level to
  accumulate its time and call count; everything else is "outside" (target ≤ 5 % of wall);
- per-job wall time from jobflow's log, to show where the outside time goes;
- the number of displaced supercells computed vs the number phonopy's symmetry reduction
  requires for the same (relaxed) cell and supercell, and vs no symmetry at all.

Writes benchmarks/results/phonons.json and benchmarks/results/phonons.md.

Usage: python benchmarks/phonons.py [--structure Li2O] [--calculator chgnet]
       [--supercell-min-length 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


class JobTimer(logging.Handler):
    """Wall time per job from jobflow's 'Starting job' / 'Finished job' log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started: dict[str, float] = {}
        self.durations: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for prefix, start in (("Starting job - ", True), ("Finished job - ", False)):
            if message.startswith(prefix):
                key = message.removeprefix(prefix)
                if start:
                    self.started[key] = time.perf_counter()
                elif key in self.started:
                    name = key.split(" (")[0]
                    self.durations.append((name, time.perf_counter() - self.started.pop(key)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--structure", default="Li2O")
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--supercell-min-length", type=float, default=10.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    t0 = time.perf_counter()
    import numpy as np
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    from ssbflow.calculators import get_calculator
    from ssbflow.commands._common import load_output
    from ssbflow.runner import run_flow
    from ssbflow.settings import get_settings
    from ssbflow.structures.library import load_structure
    from ssbflow.workflows.phonons import PhononFlowMaker

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    calculator = get_calculator(args.calculator)
    t_model = time.perf_counter() - t0

    # instrument the calculator class: every force/energy evaluation is timed
    cls = type(calculator)
    original = cls.calculate
    stats = {"time_s": 0.0, "calls": 0}

    def timed(self, *a, **k):
        start = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            stats["time_s"] += time.perf_counter() - start
            stats["calls"] += 1

    cls.calculate = timed

    structure = load_structure(args.structure)
    maker = PhononFlowMaker.from_calculator(args.calculator)
    maker.supercell_min_length_A = args.supercell_min_length
    timer = JobTimer()
    logger = logging.getLogger("jobflow")
    logger.addHandler(timer)
    logger.setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="ssbflow-bench-") as tmp:
        settings = get_settings(data_dir=Path(tmp) / "data")
        t0 = time.perf_counter()
        flow = maker.make(structure)
        run_flow(flow, settings, progress=False)
        wall = time.perf_counter() - t0
        doc = load_output(settings, flow.output.uuid)
    cls.calculate = original
    logger.removeHandler(timer)

    # what phonopy's symmetry reduction needs for this cell and supercell
    from pymatgen.core import Structure

    relaxed = Structure.from_dict(doc["structures"]["relaxed"])
    supercell = np.array(doc["supercell_matrix"])
    needed = {}
    for label, symmetric in (("symmetry", True), ("no_symmetry", False)):
        ph = Phonopy(
            get_phonopy_structure(relaxed),
            supercell,
            primitive_matrix=np.eye(3),
            is_symmetry=symmetric,
        )
        ph.generate_displacements(distance=maker.displacement_A)
        needed[label] = len(ph.supercells_with_displacements)

    outside = wall - stats["time_s"]
    per_job: dict[str, float] = {}
    for name, seconds in timer.durations:
        key = "phonon displacement" if name.startswith("phonon displacement") else name
        per_job[key] = per_job.get(key, 0.0) + seconds
    result = {
        "structure": args.structure,
        "formula": doc["formula"],
        "calculator": args.calculator,
        "supercell_min_length_A": args.supercell_min_length,
        "supercell_matrix": doc["supercell_matrix"],
        "n_atoms_supercell": doc["n_atoms_supercell"],
        "wall_time_s": wall,
        "calculator_time_s": stats["time_s"],
        "calculator_calls": stats["calls"],
        "outside_calculator_s": outside,
        "outside_calculator_share": outside / wall,
        "target_outside_share": 0.05,
        "import_time_s": t_import,
        "model_load_time_s": t_model,
        "per_job_wall_s": per_job,
        "n_displacements_computed": doc["n_displacements"],
        "n_displacements_phonopy_symmetry": needed["symmetry"],
        "n_displacements_without_symmetry": needed["no_symmetry"],
        "debye_temperature_K": doc["debye_temperature_K"],
        "debye_temperature_acoustic_K": doc["debye_temperature_acoustic_K"],
        "debye_frequency_THz": doc["debye_frequency_THz"],
        "mobile_ion_band_center_THz": doc["mobile_ion_band_center_THz"],
        "heat_capacity_300K_J_per_K_mol": doc["heat_capacity_300K_J_per_K_mol"],
        "n_imaginary_modes": doc["n_imaginary_modes"],
        "min_frequency_THz": doc["min_frequency_THz"],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "phonons.json").write_text(json.dumps(result, indent=2, default=str))
    lines = [
        f"# Phonons benchmark: {doc['formula']} with {args.calculator}",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| supercell | {doc['n_atoms_supercell']} atoms, min length "
        f"{args.supercell_min_length:g} Å |",
        f"| wall time (flow) | {wall:.1f} s |",
        f"| inside calculator | {stats['time_s']:.1f} s ({stats['calls']} calls) |",
        f"| outside calculator | {outside:.1f} s = {100 * outside / wall:.1f} % (target ≤ 5 %) |",
        f"| imports / model load (not in wall) | {t_import:.1f} s / {t_model:.1f} s |",
        f"| displacements computed | {doc['n_displacements']} |",
        f"| required by phonopy symmetry | {needed['symmetry']} "
        f"(without symmetry: {needed['no_symmetry']}) |",
        f"| θ_D moment / acoustic fit | {doc['debye_temperature_K']:.0f} K / "
        f"{doc['debye_temperature_acoustic_K']:.0f} K |",
        f"| ν_D (moment) / Li band centre | {doc['debye_frequency_THz']:.2f} THz / "
        f"{doc['mobile_ion_band_center_THz']:.2f} THz |",
        "",
        "| job | wall (s) |",
        "|---|---|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in per_job.items()],
        "",
    ]
    (RESULTS / "phonons.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
