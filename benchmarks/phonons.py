"""Benchmark: Li2O phonons with CHGNet — wall time, share outside the calculator, displacements.

Measured in one run, side by side:
- wall time of the whole phonon flow (relax → displacements → force constants → summary),
  with imports and the CHGNet model load done beforehand and reported separately;
- time inside the calculator: ``CHGNetCalculator.calculate`` is wrapped at class level to
  accumulate its time and call count; everything else is "outside" (target ≤ 10 % of wall,
  issue #15);
- per-job wall time from jobflow's log, to show where the outside time goes;
- the number of displaced supercells computed vs the number phonopy's symmetry reduction
  requires for the same (relaxed) cell and supercell, and vs no symmetry at all;
- side by side on the same relaxed cell and the same displacement forces: the
  post-processing of ssbflow's summary job (`ssbflow.workflows.phonons.summarize_phonons`) vs
  atomate2's ``generate_frequencies_eigenvectors`` body (``PhononBSDOSDoc.from_forces_born``
  with the settings ssbflow used before, plus serialising its output for the store), which
  the flow used before;
- side by side on the same relaxed cell: atomate2's ``generate_phonon_displacements`` (a
  second phonopy object with the supercell's full symmetry; the flow used it before) vs
  ssbflow's job of the same name (`ssbflow.analysis.phonopy_adapter.generate_displacements`),
  and that both give the same displaced supercells.

Writes benchmarks/results/phonons.json and benchmarks/results/phonons.md.

Usage: python benchmarks/phonons.py [--structure Li2O] [--calculator chgnet]
       [--supercell-min-length 10]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

#: Phonopy objects with the supercell's symmetry that one flow builds (was 2 before the
#: displacement job stopped building one).
PHONOPY_OBJECTS_WITH_SYMMETRY = 1

#: Target share of the wall time outside the calculator (issue #15).
TARGET_OUTSIDE_SHARE = 0.10


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


def compare_displacements(doc: dict, maker) -> dict[str, float | bool]:
    """Time atomate2's displacement job (used before) and ssbflow's on the same relaxed cell."""
    from atomate2 import SETTINGS
    from atomate2.common.jobs.phonons import generate_phonon_displacements as atomate2_job
    from pymatgen.core import Structure

    from ssbflow.workflows.phonons import generate_phonon_displacements

    relaxed = Structure.from_dict(doc["structures"]["relaxed"])
    supercell = doc["supercell_matrix"]
    t0 = time.perf_counter()
    before = atomate2_job.original(
        structure=relaxed,
        supercell_matrix=supercell,
        displacement=maker.displacement_A,
        sym_reduce=True,
        symprec=SETTINGS.PHONON_SYMPREC,
        use_symmetrized_structure="primitive",
        kpath_scheme="seekpath",
        code="ase",
    )
    t_atomate2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    after = generate_phonon_displacements.original(
        relaxed, supercell, maker.displacement_A, SETTINGS.PHONON_SYMPREC
    )
    t_ssbflow = time.perf_counter() - t0
    return {
        "atomate2_generate_phonon_displacements_s": t_atomate2,
        "ssbflow_generate_phonon_displacements_s": t_ssbflow,
        "same_displaced_supercells": len(before) == len(after)
        and all(a == b for a, b in zip(before, after, strict=True)),
    }


def compare_postprocessing(settings, doc: dict, maker, folder: Path) -> dict[str, float]:
    """Time ssbflow's summary and atomate2's final job on the same forces (no calculator)."""
    from atomate2 import SETTINGS
    from atomate2.common.schemas.phonons import PhononBSDOSDoc
    from monty.json import jsanitize
    from pymatgen.core import Structure

    from ssbflow.execution.store import get_jobstore
    from ssbflow.workflows.phonons import summarize_phonons

    store = get_jobstore(settings)
    store.connect()
    runs = sorted(
        store.query({"name": {"$regex": "^phonon displacement"}}, load=True),
        key=lambda d: int(d["name"].split()[-1].split("/")[0]),
    )
    store.close()
    forces = [r["output"]["output"]["forces"] for r in runs]
    displaced = [Structure.from_dict(r["output"]["structure"]) for r in runs]
    relaxed = Structure.from_dict(doc["structures"]["relaxed"])
    supercell = doc["supercell_matrix"]
    folder.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    summarize_phonons.original(
        structure=relaxed,
        supercell_matrix=supercell,
        displaced_structures=displaced,
        forces_eV_per_A=forces,
        displacement_uuids=[r["uuid"] for r in runs],
        upstream_uuids=[],
        displacement_A=maker.displacement_A,
        symprec=SETTINGS.PHONON_SYMPREC,
        calculator=doc["calculator"],
        calculator_kwargs={},
        mesh=None,
        mesh_length_A=maker.mesh_length_A,
        mobile_species=doc["mobile_species"],
        strict=False,
        imaginary_tolerance_THz=maker.imaginary_tolerance_THz,
        acoustic_fit_fraction=maker.acoustic_fit_fraction,
        compare_diffusion=False,
        band_points_per_segment=maker.band_points_per_segment,
        symmetrize_force_constants=maker.symmetrize_force_constants,
        settings={},
    )
    t_ssbflow = time.perf_counter() - t0

    t0 = time.perf_counter()
    a2doc = PhononBSDOSDoc.from_forces_born(
        structure=relaxed,
        supercell_matrix=supercell,
        displacement=maker.displacement_A,
        sym_reduce=True,
        symprec=SETTINGS.PHONON_SYMPREC,
        use_symmetrized_structure="primitive",
        kpath_scheme="seekpath",
        code="ase",
        displacement_data={
            "forces": forces,
            "uuids": [r["uuid"] for r in runs],
            "dirs": [str(folder)] * len(runs),
        },
        total_dft_energy=None,
        create_thermal_displacements=False,
        store_force_constants=True,
        tstep=100,
        npoints_band=51,
        kpoint_density_dos=1000,
        static_run_job_dir=None,
        born_run_job_dir=None,
        optimization_run_job_dir=None,
        static_run_uuid=None,
        born_run_uuid=None,
        optimization_run_uuid=None,
        filename_phonopy_yaml=str(folder / "phonopy.yaml"),
        filename_band_yaml=str(folder / "phonon_band_structure.yaml"),
        filename_bs=str(folder / "phonon_band_structure.pdf"),
        filename_dos_yaml=str(folder / "phonon_dos.yaml"),
        filename_dos=str(folder / "phonon_dos.pdf"),
    )
    t_atomate2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    jsanitize(a2doc, strict=True, enum_values=True, allow_bson=True)
    t_serialise = time.perf_counter() - t0
    return {
        "ssbflow_summary_s": t_ssbflow,
        "atomate2_generate_frequencies_eigenvectors_s": t_atomate2,
        "atomate2_output_serialisation_s": t_serialise,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--structure", default="Li2O")
    parser.add_argument("--calculator", default="chgnet")
    parser.add_argument("--supercell-min-length", type=float, default=10.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    import numpy as np
    import torch
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    from ssbflow.analysis.phonopy_adapter import fast_phonopy_symmetry
    from ssbflow.calculators import get_calculator
    from ssbflow.commands._common import load_output
    from ssbflow.execution.runner import run_flow
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
    maker = dataclasses.replace(
        PhononFlowMaker.from_calculator(args.calculator),
        supercell_min_length_A=args.supercell_min_length,
    )
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
        post = compare_postprocessing(settings, doc, maker, Path(tmp) / "atomate2")
        displacements = compare_displacements(doc, maker)
    cls.calculate = original
    logger.removeHandler(timer)

    # what phonopy's symmetry reduction needs for this cell and supercell
    from pymatgen.core import Structure

    relaxed = Structure.from_dict(doc["structures"]["relaxed"])
    supercell = np.array(doc["supercell_matrix"])
    needed = {}
    setup_s = {}
    for label, symmetric, fast in (
        ("phonopy_own", True, False),
        ("symmetry", True, True),  # as the flow builds it (`fast_phonopy_symmetry`)
        ("no_symmetry", False, False),
    ):
        t0 = time.perf_counter()
        with fast_phonopy_symmetry() if fast else contextlib.nullcontext():
            ph = Phonopy(
                get_phonopy_structure(relaxed),
                supercell,
                primitive_matrix=np.eye(3),
                is_symmetry=symmetric,
            )
        setup_s[label] = time.perf_counter() - t0
        ph.generate_displacements(distance=maker.displacement_A)
        needed[label] = len(ph.supercells_with_displacements)

    outside = wall - stats["time_s"]
    # The flow builds one phonopy object with symmetry on this supercell (force constants,
    # in the summary; the displacements need only spglib's dataset, see
    # `ssbflow.analysis.phonopy_adapter`); its setup is phonopy's symmetry analysis of the
    # supercell (atomic permutations of every space-group operation), timed here on its own,
    # as the flow builds it (permutations composed from cosets x translations) and as
    # phonopy alone builds it (one matching per operation).
    phonopy_setups_s = PHONOPY_OBJECTS_WITH_SYMMETRY * setup_s["symmetry"]
    rest = outside - phonopy_setups_s
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
        "phonopy_setup_s_per_object": setup_s["symmetry"],
        "phonopy_setup_s_per_object_phonopy_own": setup_s["phonopy_own"],
        "phonopy_setup_s_per_object_without_symmetry": setup_s["no_symmetry"],
        "phonopy_objects_with_symmetry_per_flow": PHONOPY_OBJECTS_WITH_SYMMETRY,
        "outside_calculator_without_phonopy_setups_s": rest,
        "outside_calculator_without_phonopy_setups_share": rest / wall,
        "target_outside_share": TARGET_OUTSIDE_SHARE,
        "import_time_s": t_import,
        "model_load_time_s": t_model,
        "per_job_wall_s": per_job,
        "postprocessing_side_by_side_s": post,
        "displacement_generation_side_by_side": displacements,
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
            "load_average_1min_before_after": [load_before, os.getloadavg()[0]],
            "torch_threads": torch.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
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
        f"| outside calculator | {outside:.2f} s = {100 * outside / wall:.1f} % "
        f"(target ≤ {100 * TARGET_OUTSIDE_SHARE:.0f} %) |",
        f"| of which: phonopy symmetry setup of the supercell, "
        f"{PHONOPY_OBJECTS_WITH_SYMMETRY} object × "
        f"{setup_s['symmetry']:.2f} s (phonopy alone: {setup_s['phonopy_own']:.2f} s; "
        f"without symmetry: {setup_s['no_symmetry']:.2f} s) "
        f"| {phonopy_setups_s:.2f} s |",
        f"| of which: everything else (jobs, store, serialisation, DOS/bands) | "
        f"{rest:.1f} s = {100 * rest / wall:.1f} % |",
        f"| machine load (1-min average, before / after; {os.cpu_count()} CPUs; "
        f"torch threads {torch.get_num_threads()}) | "
        f"{load_before:.1f} / {os.getloadavg()[0]:.1f} |",
        f"| imports / model load (not in wall) | {t_import:.1f} s / {t_model:.1f} s |",
        f"| displacements computed | {doc['n_displacements']} |",
        f"| required by phonopy symmetry | {needed['symmetry']} "
        f"(without symmetry: {needed['no_symmetry']}) |",
        f"| θ_D moment / acoustic fit | {doc['debye_temperature_K']:.0f} K / "
        f"{doc['debye_temperature_acoustic_K']:.0f} K |",
        f"| ν_D (moment) / Li band centre | {doc['debye_frequency_THz']:.2f} THz / "
        f"{doc['mobile_ion_band_center_THz']:.2f} THz |",
        "",
        "Displacement generation on the same relaxed cell, side by side in this run:",
        "",
        "| step | wall (s) |",
        "|---|---|",
        f"| atomate2 generate_phonon_displacements (full phonopy symmetry; used before) | "
        f"{displacements['atomate2_generate_phonon_displacements_s']:.2f} |",
        f"| ssbflow generate_phonon_displacements (spglib dataset only) | "
        f"{displacements['ssbflow_generate_phonon_displacements_s']:.2f} |",
        f"| same displaced supercells | {displacements['same_displaced_supercells']} |",
        "",
        "Post-processing of the same forces, side by side in this run (no calculator):",
        "",
        "| step | wall (s) |",
        "|---|---|",
        f"| ssbflow summary (force constants, DOS, bands, thermal, summary) | "
        f"{post['ssbflow_summary_s']:.2f} |",
        f"| atomate2 generate_frequencies_eigenvectors body (used before) | "
        f"{post['atomate2_generate_frequencies_eigenvectors_s']:.2f} |",
        f"| + serialising atomate2's output for the store | "
        f"{post['atomate2_output_serialisation_s']:.2f} |",
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
