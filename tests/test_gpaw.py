"""GPAW plane-wave DFT through ssbflow: presets, k-points, dipole correction, SCF failures.

Real GPAW runs on 1-5 atom cells at low cutoff; skipped (with the reason) when GPAW is not
installed. ``.ci/run`` installs the ``dft`` extra, so CI runs them.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bcc100, bulk

from ssbflow.calculators import calculator_provenance, check_calculator, get_calculator
from ssbflow.calculators.dft_gpaw import (
    PRESETS,
    kpoint_mesh,
    resolve_settings,
    vacuum_gap,
)
from ssbflow.errors import CalculationError, InputError

HAS_GPAW = (
    importlib.util.find_spec("gpaw") is not None
    and importlib.util.find_spec("gpaw_data") is not None
)
needs_gpaw = pytest.mark.skipif(
    not HAS_GPAW, reason="GPAW is not installed: pip install 'ssbflow[dft]'"
)

#: Cheap but converging settings for tests (a 1-atom Li cell takes about a second).
TINY = {"preset": "fast", "ecut_eV": 200.0, "kpts": [4, 4, 4]}
A_LI = 3.44  # Å, bcc Li (PBE ≈ 3.43-3.44)


# ---------------------------------------------------------------- settings, no GPAW run
def test_presets_resolve_with_overrides():
    fast = resolve_settings({"preset": "fast"})
    assert (fast.ecut_eV, fast.kpoint_spacing_per_A, fast.smearing_eV) == (300.0, 0.30, 0.10)
    assert resolve_settings({}).preset == "standard"
    accurate = resolve_settings({"preset": "ACCURATE", "ecut_eV": 800})
    assert accurate.ecut_eV == 800.0
    assert accurate.scf_energy_eV == PRESETS["accurate"].scf_energy_eV
    # presets are ordered: tighter cutoff, k-points, smearing and SCF with precision
    f, s, a = PRESETS["fast"], PRESETS["standard"], PRESETS["accurate"]
    assert f.ecut_eV < s.ecut_eV < a.ecut_eV
    assert f.kpoint_spacing_per_A > s.kpoint_spacing_per_A > a.kpoint_spacing_per_A
    assert f.scf_energy_eV > s.scf_energy_eV > a.scf_energy_eV


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"preset": "ultra"}, "unknown gpaw preset 'ultra'"),
        ({"ecut_eV": -300}, "ecut_eV=-300 is impossible"),
        ({"ecut_eV": "high"}, "is not a number"),
        ({"kpoint_spacing_per_A": 0}, "is impossible"),
        ({"kpts": [4, 0, 4]}, "three positive integers"),
        ({"smearing": 0.1}, "unknown gpaw setting(s) smearing"),
        ({"dipole_correction": "sometimes"}, "use 'auto', true or false"),
        ({"maxiter": 0}, "positive integer"),
        ({"blas_threads": 0}, "blas_threads=0 must be a positive integer"),
        ({"txt": "../x.txt"}, "plain file name"),
    ],
)
def test_impossible_settings_are_input_errors(kwargs, fragment):
    with pytest.raises(InputError) as info:
        resolve_settings(kwargs)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_kpoint_mesh_from_spacing_by_hand():
    # cubic 4 Å cell: |b| = 2π/4 = 1.5708 Å⁻¹; 1.5708 / 0.3 = 5.24 -> 6
    cell = np.eye(3) * 4.0
    assert kpoint_mesh(cell, 0.30, slab=False) == (6, 6, 6)
    assert kpoint_mesh(cell, 0.30, slab=True) == (6, 6, 1)
    # a 20 Å axis: 0.314 / 0.3 -> 2 without the slab rule
    assert kpoint_mesh(np.diag([4.0, 4.0, 20.0]), 0.30, slab=False) == (6, 6, 2)


def test_vacuum_gap_detects_slabs_and_not_bulk():
    slab = bcc100("Li", size=(1, 1, 3), a=A_LI, vacuum=5.0)
    gap, _ = vacuum_gap(slab)
    assert gap == pytest.approx(10.0, abs=1e-6)  # 5 Å each side
    bulk_gap, _ = vacuum_gap(bulk("Li", "bcc", a=A_LI, cubic=True))
    assert bulk_gap == pytest.approx(A_LI / 2, abs=1e-6)


# ---------------------------------------------------------------- validation with GPAW
@needs_gpaw
def test_element_without_paw_setup_is_input_error():
    with pytest.raises(InputError, match=r"no PBE PAW setup for U\b"):
        check_calculator("gpaw", ["Li", "U"], {"preset": "fast"})
    assert check_calculator("gpaw", ["Li", "F", "O"], {"preset": "fast"}) == "gpaw"


@needs_gpaw
def test_unknown_functional_and_functional_without_setups():
    with pytest.raises(InputError, match="does not know the functional 'PBEE'"):
        check_calculator("gpaw", ["Li"], {"xc": "PBEE"})
    # PBEsol is a valid functional but gpaw-data ships no PBEsol setups
    with pytest.raises(InputError, match="no PBEsol PAW setup for Li"):
        check_calculator("gpaw", ["Li"], {"xc": "PBEsol"})
    assert check_calculator("gpaw", ["Li"], {"xc": "LDA"}) == "gpaw"


@pytest.fixture
def gpaw_not_installed(monkeypatch):
    """Make gpaw and gpaw-data look absent to importlib."""
    real = importlib.util.find_spec

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in {"gpaw", "gpaw_data"}:
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_missing_gpaw_gives_install_hint(gpaw_not_installed):
    with pytest.raises(InputError, match=r"pip install 'ssbflow\[dft\]'"):
        check_calculator("gpaw", ["Li"], {})
    from ssbflow.calculators.dft_gpaw import check_gpaw

    with pytest.raises(InputError, match="libxc-dev libopenblas-dev, and build with CC=g"):
        check_gpaw(["Li"], {})


def test_cli_gpaw_not_installed_exits_2(gpaw_not_installed, run_cli):
    code, out, err = run_cli(
        "diffusion", "Li", "--species", "Li", "--calculator", "gpaw", "--temperatures", "600 800"
    )
    assert code == 2
    assert "pip install 'ssbflow[dft]'" in err
    assert "Traceback" not in err
    assert out == ""


@needs_gpaw
def test_cli_impossible_preset_subprocess_exits_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssbflow.cli",
            "diffusion",
            "Li",
            "--species",
            "Li",
            "--calculator",
            "gpaw",
            "--calculator-kwargs",
            '{"preset": "ultra"}',
            "--temperatures",
            "600 800",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "unknown gpaw preset 'ultra'" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- real GPAW runs
@needs_gpaw
def test_single_point_bulk_li_and_provenance(tmp_path):
    atoms = bulk("Li", "bcc", a=A_LI)
    calc = get_calculator("gpaw", TINY)
    calc.directory = str(tmp_path)
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    # PBE cohesive-scale energy vs GPAW's atomic reference: bcc Li binds by ~1.6-2 eV
    assert -2.3 < energy < -1.4
    assert np.abs(forces).max() < 1e-6  # one atom: forces vanish by symmetry
    assert abs(stress[0] - stress[1]) < 1e-6 and abs(stress[1] - stress[2]) < 1e-6  # cubic
    assert calc.run_info["kpts"] == [4, 4, 4]
    assert calc.run_info["slab"] is False and calc.run_info["dipole_correction"] is False
    assert (tmp_path / "gpaw.txt").is_file()  # text output in the job folder, not stdout
    run = json.loads((tmp_path / "gpaw_run.json").read_text())
    assert run["gpaw_parameters"]["mode"] == {"name": "pw", "ecut": 200.0}
    assert run["gpaw_parameters"]["xc"] == "PBE"
    assert run["gpaw_parameters"]["spinpol"] is False
    assert run["setups"]["Li"].endswith("Li.PBE.gz")
    prov = calculator_provenance("gpaw", TINY)
    assert prov["gpaw_version"] == prov["package_version"]
    assert prov["paw_setups"]["family"] == "PBE" and prov["paw_setups"]["version"]
    assert prov["gpaw_settings"]["ecut_eV"] == 200.0


@needs_gpaw
def test_energy_is_variational_in_cutoff(tmp_path):
    """Plane-wave energy decreases (or stays) as the cutoff rises: a built-in physics check."""
    energies = []
    for ecut in (200.0, 300.0):
        atoms = bulk("Li", "bcc", a=A_LI)
        calc = get_calculator("gpaw", {**TINY, "ecut_eV": ecut})
        calc.directory = str(tmp_path / f"e{ecut:.0f}")
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    assert energies[1] <= energies[0] + 1e-4


@needs_gpaw
def test_asymmetric_slab_gets_dipole_correction_and_is_translation_invariant(tmp_path):
    kwargs = {"preset": "fast", "ecut_eV": 200.0, "kpts": [3, 3, 1]}
    slab = bcc100("Li", size=(1, 1, 3), a=A_LI, vacuum=4.0)
    slab.positions[2, 2] -= 0.3  # top layer pushed in: the two surfaces differ
    calc = get_calculator("gpaw", kwargs)
    calc.directory = str(tmp_path / "a")
    slab.calc = calc
    energy = slab.get_potential_energy()
    forces = slab.get_forces()
    assert calc.run_info["slab"] is True
    assert calc.run_info["dipole_correction"] is True
    assert calc.run_info["kpts"] == [3, 3, 1]
    assert calc.run_info["gpaw_parameters"]["poissonsolver"] == {"dipolelayer": "xy"}
    assert abs(forces.sum(axis=0)).max() < 0.05  # no net force on an isolated slab
    assert forces[2, 2] > 0.05  # the compressed top layer is pushed back out
    # the same slab shifted along c, with the vacuum split across the cell boundary
    shifted = slab.copy()
    shifted.positions[:, 2] -= 5.0
    shifted.wrap()
    calc2 = get_calculator("gpaw", kwargs)
    calc2.directory = str(tmp_path / "b")
    shifted.calc = calc2
    assert shifted.get_potential_energy() == pytest.approx(energy, abs=1e-4)
    assert np.abs(shifted.get_forces() - forces).max() < 1e-3


@needs_gpaw
def test_symmetric_slab_has_no_dipole_correction(tmp_path):
    slab = bcc100("Li", size=(1, 1, 3), a=A_LI, vacuum=5.0)
    calc = get_calculator("gpaw", {"preset": "fast", "ecut_eV": 200.0, "kpts": [3, 3, 3]})
    calc.directory = str(tmp_path)
    slab.calc = calc
    forces = slab.get_forces()
    assert calc.run_info["slab"] is True and calc.run_info["dipole_correction"] is False
    assert calc.run_info["kpts"] == [3, 3, 1]  # explicit mesh, but one k-point along the normal
    # mirror symmetry: the two surface atoms feel opposite forces, the middle one none
    assert forces[0, 2] == pytest.approx(-forces[2, 2], abs=1e-4)
    assert abs(forces[1, 2]) < 1e-4


@needs_gpaw
def test_unconverged_scf_fails_job_with_reason_after_one_retry(settings):
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.execution.runner import FlowFailedError, run_flow
    from ssbflow.workflows.calc import CalcStaticMaker

    structure = AseAtomsAdaptor.get_structure(bulk("Li", "bcc", a=A_LI))
    job = CalcStaticMaker(calculator_name="gpaw", calculator_kwargs={**TINY, "maxiter": 2}).make(
        structure
    )
    with pytest.raises(FlowFailedError) as info:
        run_flow(job, settings, progress=False)
    assert "SCF not converged in 2 iterations" in info.value.reason
    assert "again after one retry with safer mixing" in info.value.reason
    # the retry is recorded beside the GPAW output
    runs = list(Path(settings.data_dir / "runs").rglob("gpaw_run.json"))
    assert len(runs) == 1
    run = json.loads(runs[0].read_text())
    assert run["n_scf_retries"] == 1 and run["safe_mixing"] is True
    assert run["gpaw_parameters"]["mixer"]["beta"] == 0.02


@needs_gpaw
def test_unconverged_scf_without_retry_raises_calculation_error(tmp_path):
    atoms = bulk("Li", "bcc", a=A_LI)
    calc = get_calculator("gpaw", {**TINY, "maxiter": 2, "retry_scf": False})
    calc.directory = str(tmp_path)
    atoms.calc = calc
    with pytest.raises(CalculationError, match="retry_scf is off"):
        atoms.get_potential_energy()
    assert calc.n_scf_retries == 0


@needs_gpaw
def test_tiny_relaxation_returns_displaced_atom(settings):
    """Cubic 2-atom bcc Li with the body-centre atom pushed off-centre relaxes back."""
    from jobflow import run_locally
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.workflows.calc import CalcRelaxMaker

    atoms = bulk("Li", "bcc", a=A_LI, cubic=True)
    atoms.positions[1] += [0.12, 0.0, 0.0]
    structure = AseAtomsAdaptor.get_structure(atoms)
    maker = CalcRelaxMaker(
        calculator_name="gpaw",
        calculator_kwargs={"preset": "fast", "ecut_eV": 200.0, "kpts": [3, 3, 3]},
        relax_cell=False,
        steps=60,
        relax_kwargs={"fmax": 0.02},
    )
    job = maker.make(structure)
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    responses = run_locally(job, store=store, create_folders=True, ensure_success=True, log=False)
    doc = responses[job.uuid][1].output
    assert doc.is_force_converged
    energies = [step.energy for step in doc.output.ionic_steps] if doc.output.ionic_steps else []
    if energies:
        assert energies[-1] <= energies[0]
    final = doc.structure
    d = final.cart_coords[1] - final.cart_coords[0]
    # back at the body centre (a/2, a/2, a/2) within 0.03 Å (fmax 0.02 eV/Å)
    assert np.allclose(np.abs(d), A_LI / 2, atol=0.03), d
    assert math.isfinite(doc.output.energy)


@needs_gpaw
@pytest.mark.slow
def test_surface_energy_flow_li100_with_gpaw_is_self_consistent(settings, tmp_path):
    """ssbflow's surface-energy flow with GPAW (fast preset) on Li(100), 4 and 6 layers.

    γ = (E_slab − N μ_Li)/2A with μ_Li the flow's own GPAW bulk reference: that reference
    must equal a separate GPAW bulk energy per atom (same preset, bulk k-points), each γ
    of the series must follow from the slab energies and that separate bulk energy by
    hand, the slope ε of E(N) over the two slabs (Fiorentini-Methfessel) must match the
    bulk energy (the slab interior is the bulk), and γ must lie in the PBE range for
    Li(100) (≈ 0.45 J/m²).
    """
    from ase.units import J, m
    from pymatgen.core import Lattice, Structure

    from ssbflow.execution.runner import run_flow
    from ssbflow.workflows.calc import CalcStaticMaker
    from ssbflow.workflows.surface import SurfaceEnergyMaker

    kwargs = {"preset": "fast"}
    conventional = Structure(Lattice.cubic(A_LI), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    d_100 = A_LI / 2  # bcc(100) plane spacing: one Li atom per plane in the a×a cell
    # Å-thickness window holding two slabs 3 planes apart: 4 planes (3 d = 5.16 Å) and
    # 6 planes (5 d = 8.60 Å); 5 planes (6.88 Å) is skipped by the 3 Å step
    maker = SurfaceEnergyMaker(
        miller=(1, 0, 0),
        min_thickness_A=5.0,
        max_thickness_A=9.0,
        thickness_step_A=3.0,
        vacuum_A=8.0,
        relax_maker=None,  # rigid slabs: single points only
        static_maker=CalcStaticMaker(calculator_name="gpaw", calculator_kwargs=kwargs),
    )
    responses = run_flow(maker.make(conventional), settings, progress=False)
    docs = [
        r.output
        for per_job in responses.values()
        for r in per_job.values()
        if getattr(r.output, "result_type", None) == "surface_energy"
    ]
    assert len(docs) == 1  # bcc(100) has one termination
    doc = docs[0]
    assert doc.status == "successful", doc.failure_reason
    assert doc.calculator == "gpaw"
    assert doc.provenance.extra["paw_setups"]["family"] == "PBE"
    assert doc.symmetric and doc.stoichiometric and not doc.polar
    assert doc.termination_chemistry == "Li-terminated"
    assert doc.n_atoms == [4, 6]
    assert doc.thicknesses_A == pytest.approx([3 * d_100, 5 * d_100], abs=0.01)
    assert doc.area_A2 == pytest.approx(A_LI**2, rel=1e-6)
    assert doc.dgamma_d_delta_mu_metal_J_per_m2_per_eV == 0.0  # stoichiometric: no μ
    # one GPAW bulk run (the reference: k-points along c) and two slab runs (one k-point
    # along the normal, no dipole correction: both faces are the same), with the same
    # in-plane mesh (same spacing, same a × a in-plane cell)
    runs = [json.loads(p.read_text()) for p in settings.data_dir.rglob("gpaw_run.json")]
    assert len(runs) == 3
    bulk_runs = [r for r in runs if not r["slab"]]
    slab_runs = [r for r in runs if r["slab"]]
    assert len(bulk_runs) == 1 and len(slab_runs) == 2
    assert bulk_runs[0]["kpts"][2] > 1
    assert all(r["kpts"][2] == 1 and not r["dipole_correction"] for r in slab_runs)
    assert all(r["kpts"][:2] == bulk_runs[0]["kpts"][:2] for r in slab_runs)

    bulk_atoms = bulk("Li", "bcc", a=A_LI, cubic=True)
    calc = get_calculator("gpaw", kwargs)
    calc.directory = str(tmp_path / "bulk")
    bulk_atoms.calc = calc
    e_bulk = bulk_atoms.get_potential_energy() / len(bulk_atoms)
    # the flow's reference is this GPAW bulk energy (same cell, settings and k-points;
    # SCF tolerance only)
    assert doc.bulk_energy_per_atom_eV == pytest.approx(e_bulk, abs=1e-3)  # eV/atom
    # every γ of the series by hand from the slab energies and the separate bulk energy
    to_j_per_m2 = 1 / (J / m**2)
    by_hand = [
        (e_slab - n_atoms * e_bulk) / (2 * A_LI**2) * to_j_per_m2
        for n_atoms, e_slab in zip(doc.n_atoms, doc.slab_energies_eV, strict=True)
    ]
    assert doc.surface_energies_J_per_m2 == pytest.approx(by_hand, abs=0.005)
    assert doc.surface_energy_J_per_m2 == doc.surface_energies_J_per_m2[-1]  # thickest slab
    assert 0.3 < doc.surface_energy_J_per_m2 < 0.65
    # convergence bookkeeping: two slabs, |Δγ| compared with the tolerance
    change = abs(by_hand[1] - by_hand[0])
    assert doc.surface_energy_stderr_J_per_m2 == pytest.approx(change, abs=0.005)
    assert doc.converged == (doc.surface_energy_stderr_J_per_m2 < doc.tolerance_J_per_m2)
    assert doc.converged or any("not converged" in w for w in doc.warnings)
    # Fiorentini-Methfessel: the slope of E(N) is the bulk energy per atom (the slab
    # interior is the bulk) and its intercept gives the same γ as the bulk reference
    (e4, e6), (n4, n6) = doc.slab_energies_eV, doc.n_atoms
    slope = (e6 - e4) / (n6 - n4)
    assert slope == pytest.approx(e_bulk, abs=0.02)  # eV/atom
    gamma_slope = (e4 - n4 * slope) / (2 * A_LI**2) * to_j_per_m2
    assert gamma_slope == pytest.approx(doc.surface_energy_J_per_m2, abs=0.1)
