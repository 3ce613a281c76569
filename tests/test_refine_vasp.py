"""The VASP refinement (``--refine vasp``), replayed the way atomate2's own tests run VASP.

VASP is not run. As in ``atomate2.utils.testing.vasp`` (``monkeypatch_vasp`` /
``fake_run_vasp``), ``run_vasp`` is replaced and POTCARs become ``POTCAR.spec``. atomate2's
helper copies stored reference outputs into the job folder; no VASP outputs are shipped
with ssbflow and the structures are known only at run time, so the stand-in here writes
the output files itself, for the POSCAR it finds: a ``vasprun.xml``, an ``OUTCAR`` and a
``CONTCAR`` holding the energy of a known model (EMT, the study's ML potential, plus a
fixed offset on interface cells). Everything after that is the real code path: atomate2
parses the files into its ``TaskDoc`` (pymatgen ``Vasprun``/``Outcar``, emmet), the
refinement reads those task documents, and the CLI prints the summary.

What this proves: ``ssbflow adhesion ... --refine vasp`` writes VASP inputs with ssbflow's
VASP input sets (slab set for interfaces and slabs, bulk set for the bulk references), runs
atomate2's VASP jobs, consumes their task documents and builds the same refined summary
as the ASE/GPAW path: the DFT numbers equal those computed by hand from the replayed
energies. It does not prove anything about VASP's own numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Kpoints, Poscar

#: eV/Å² -> J/m²
EV_PER_A2 = 16.02176634
#: Energy added to every replayed interface (cells holding both elements), eV.
OFFSET_EV = 3.0


def _v(rows) -> str:
    return "\n".join("    <v>" + " ".join(f"{x: .10f}" for x in r) + " </v>" for r in rows)


def _structure_xml(structure: Structure, name: str | None = None) -> str:
    tag = f'<structure name="{name}" >' if name else "<structure>"
    lat = structure.lattice
    return f"""  {tag}
   <crystal>
    <varray name="basis" >
{_v(lat.matrix)}
    </varray>
    <i name="volume">{lat.volume:.8f}</i>
    <varray name="rec_basis" >
{_v(lat.reciprocal_lattice_crystallographic.matrix)}
    </varray>
   </crystal>
   <varray name="positions" >
{_v(structure.frac_coords)}
   </varray>
  </structure>"""


def _incar_xml(incar: Incar) -> str:
    out = []
    for key, value in incar.items():
        if isinstance(value, bool):
            out.append(f'  <i type="logical" name="{key}"> {"T" if value else "F"}  </i>')
        elif isinstance(value, int):
            out.append(f'  <i type="int" name="{key}">{value}</i>')
        elif isinstance(value, float):
            out.append(f'  <i name="{key}">{value}</i>')
        elif isinstance(value, list):
            out.append(f'  <v name="{key}">{" ".join(str(x) for x in value)}</v>')
        else:
            out.append(f'  <i type="string" name="{key}">{value}</i>')
    return "\n".join(out)


def write_vasp_outputs(folder: Path, energy_eV: float, converged: bool = True) -> None:
    """``vasprun.xml``, ``OUTCAR`` and ``CONTCAR`` of a single point with ``energy_eV``.

    Only what pymatgen's ``Vasprun``/``Outcar`` and emmet's ``TaskDoc`` read: the INCAR,
    k-points, parameters, atom types, structures, the SCF steps and final energies, zero
    forces and stress, two eigenvalues and a three-point DOS. ``converged=False`` writes
    as many SCF steps as NELM allows (an electronic non-convergence).
    """
    incar = Incar.from_file(folder / "INCAR")
    poscar = Poscar.from_file(folder / "POSCAR")
    s = poscar.structure
    kpoints = Kpoints.from_file(folder / "KPOINTS")
    potcars = (folder / "POTCAR.spec").read_text().split()
    elements = list(dict.fromkeys(site.specie.symbol for site in s))
    counts = [sum(site.specie.symbol == e for site in s) for e in elements]
    atom_rows = "\n".join(
        f"    <rc><c>{site.specie.symbol:2s}</c><c>{elements.index(site.specie.symbol) + 1}</c></rc>"
        for site in s
    )
    type_rows = "\n".join(
        f"    <rc><c>{n}</c><c>{e:2s}</c><c>1.0</c><c>1.0</c><c>  PAW_PBE {p} 01Jan2000</c></rc>"
        for n, e, p in zip(counts, elements, potcars, strict=True)
    )
    nelm = 4
    energy = f"""   <energy>
    <i name="e_fr_energy">{energy_eV: .10f}</i>
    <i name="e_wo_entrp">{energy_eV: .10f}</i>
    <i name="e_0_energy">{energy_eV: .10f}</i>
   </energy>"""
    scsteps = "\n".join(
        f"  <scstep>\n{energy}\n  </scstep>" for _ in range(nelm if not converged else 2)
    )
    divisions = " ".join(str(int(n)) for n in kpoints.kpts[0])
    xml = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<modeling>
 <generator>
  <i name="program" type="string">vasp </i>
  <i name="version" type="string">6.4.2 </i>
  <i name="subversion" type="string">(replayed by the ssbflow tests) </i>
  <i name="platform" type="string">LinuxIFC </i>
  <i name="date" type="string">2026 11 30 </i>
  <i name="time" type="string">12:00:00 </i>
 </generator>
 <incar>
{_incar_xml(incar)}
 </incar>
 <kpoints>
  <generation param="Gamma">
   <v type="int" name="divisions">{divisions} </v>
   <v name="usershift">0.0 0.0 0.0 </v>
  </generation>
  <varray name="kpointlist" >
    <v> 0.0 0.0 0.0 </v>
  </varray>
  <varray name="weights" >
    <v> 1.0 </v>
  </varray>
 </kpoints>
 <parameters>
  <separator name="electronic" >
   <i name="ENCUT">{float(incar.get("ENCUT", 520))}</i>
   <i type="int" name="NELM">{nelm}</i>
   <i name="EDIFF">{float(incar.get("EDIFF", 1e-5))}</i>
   <i name="NELECT">{float(len(s))}</i>
   <i type="int" name="ISPIN">{int(incar.get("ISPIN", 1))}</i>
   <i type="logical" name="LSORBIT"> F  </i>
   <i type="logical" name="LNONCOLLINEAR"> F  </i>
   <i type="int" name="NBANDS">8</i>
  </separator>
  <separator name="ionic" >
   <i type="int" name="NSW">{int(incar.get("NSW", 0))}</i>
   <i type="int" name="IBRION">{int(incar.get("IBRION", -1))}</i>
   <i type="int" name="ISIF">{int(incar.get("ISIF", 2))}</i>
  </separator>
  <separator name="orbital magnetization" >
   <i type="int" name="LORBIT">0</i>
  </separator>
 </parameters>
 <atominfo>
  <atoms>{len(s)}</atoms>
  <types>{len(elements)}</types>
  <array name="atoms" >
   <dimension dim="1">ion</dimension>
   <field type="string">element</field>
   <field type="int">atomtype</field>
   <set>
{atom_rows}
   </set>
  </array>
  <array name="atomtypes" >
   <dimension dim="1">type</dimension>
   <field type="int">atomspertype</field>
   <field type="string">element</field>
   <field>mass</field>
   <field>valence</field>
   <field type="string">pseudopotential</field>
   <set>
{type_rows}
   </set>
  </array>
 </atominfo>
{_structure_xml(s, "initialpos")}
 <calculation>
{scsteps}
{_structure_xml(s)}
  <varray name="forces" >
{_v(np.zeros((len(s), 3)))}
  </varray>
  <varray name="stress" >
{_v(np.zeros((3, 3)))}
  </varray>
{energy}
  <time name="totalsc">    1.00    1.00</time>
  <eigenvalues>
   <array>
    <dimension dim="1">band</dimension>
    <dimension dim="2">kpoint</dimension>
    <dimension dim="3">spin</dimension>
    <field>eigene</field>
    <field>occ</field>
    <set>
     <set comment="spin 1">
      <set comment="kpoint 1">
       <r>   -5.0000    1.0000 </r>
       <r>    5.0000    0.0000 </r>
      </set>
     </set>
    </set>
   </array>
  </eigenvalues>
  <dos>
   <i name="efermi">      0.00000000 </i>
   <total>
    <array>
     <dimension dim="1">gridpoints</dimension>
     <dimension dim="2">spin</dimension>
     <field>energy</field>
     <field>total</field>
     <field>integrated</field>
     <set>
      <set comment="spin 1">
       <r>   -6.0000     0.0000     0.0000 </r>
       <r>   -5.0000     1.0000     1.0000 </r>
       <r>    6.0000     0.0000     1.0000 </r>
      </set>
     </set>
    </array>
   </total>
  </dos>
 </calculation>
{_structure_xml(s, "finalpos")}
</modeling>
"""
    (folder / "vasprun.xml").write_text(xml)
    ibrion = int(incar.get("IBRION", -1))
    (folder / "OUTCAR").write_text(
        " vasp.6.4.2 (replayed by the ssbflow tests)\n"
        "   k-points           NKPTS =      1   k-points in BZ     NKDIM =      1   "
        "number of bands    NBANDS=      8\n"
        "   total plane-waves  NPLWV =   1000\n"
        f"   IBRION = {ibrion:5d}    ionic relax: 0-MD 1-quasi-New 2-CG\n"
        " E-fermi :   0.0000     XC(G=0):  -1.0000     alpha+bet : -1.0000\n"
        f"  free  energy   TOTEN  =      {energy_eV:.10f} eV\n"
        f"  energy  without entropy=     {energy_eV:.10f}  energy(sigma->0) =     "
        f"{energy_eV:.10f}\n"
        " General timing and accounting informations for this job:\n"
        "                  Total CPU time used (sec):        1.000\n"
        "                         Elapsed time (sec):        1.000\n"
    )
    poscar.write_file(folder / "CONTCAR")


def model_energy_eV(structure: Structure) -> float:
    """The replayed 'VASP' energy: EMT, plus `OFFSET_EV` on a cell with both elements."""
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.constraints = []
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    return energy + (OFFSET_EV if len(structure.composition.elements) > 1 else 0.0)


@pytest.fixture
def replayed_vasp(monkeypatch, tmp_path):
    """VASP replaced as in atomate2's tests; returns the list of runs (inputs, energy)."""
    import atomate2.vasp.jobs.base
    import atomate2.vasp.run
    from pymatgen.io.vasp.sets import VaspInputSet

    runs: list[dict] = []
    unconverged: set[int] = set()  # indices of interface runs left unconverged

    def fake_run_vasp(*_args, **_kwargs):
        here = Path.cwd()
        structure = Poscar.from_file(here / "POSCAR").structure
        energy = model_energy_eV(structure)
        is_interface = len(structure.composition.elements) > 1
        n_interface = sum(r["interface"] for r in runs)
        converged = not (is_interface and n_interface in unconverged)
        runs.append(
            {
                "formula": structure.composition.reduced_formula,
                "n_atoms": len(structure),
                "interface": is_interface,
                "incar": Incar.from_file(here / "INCAR"),
                "kpoints": tuple(Kpoints.from_file(here / "KPOINTS").kpts[0]),
                "potcar": (here / "POTCAR.spec").read_text().split(),
                "energy_eV": energy,
            }
        )
        write_vasp_outputs(here, energy, converged=converged)

    original = VaspInputSet.get_input_set

    def spec_only(self, *args, **kwargs):
        kwargs["potcar_spec"] = True
        return original(self, *args, **kwargs)

    monkeypatch.setattr(atomate2.vasp.jobs.base, "run_vasp", fake_run_vasp)
    monkeypatch.setattr(atomate2.vasp.run, "run_vasp", fake_run_vasp)
    monkeypatch.setattr(VaspInputSet, "get_input_set", spec_only)
    # the CLI checks that VASP is installed for a local run: give it an executable (never
    # started: run_vasp is replaced) and a POTCAR folder (never read: POTCAR.spec)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vasp_std"
    exe.write_text("#!/bin/sh\nexit 1\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PMG_VASP_PSP_DIR", str(tmp_path / "potcars"))
    return {"runs": runs, "unconverged": unconverged}


@pytest.fixture
def ag_on_cu(tmp_path) -> list[str]:
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.09), ["Ag"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "ag.cif")
    )
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "cu.cif")
    )
    return [
        "ag.cif", "cu.cif", "--metal-miller", "1,1,1", "--electrolyte-miller", "1,1,1",
        "--calculator", "emt", "--max-area", "100", "--max-atoms", "200", "--no-stability",
    ]  # fmt: skip


def test_vasp_refinement_replayed(replayed_vasp, ag_on_cu, run_cli, settings):
    code, out, err = run_cli(
        "adhesion", *ag_on_cu, "--n-relax", "2", "--refine", "vasp", "--refine-top", "2", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    block = doc["refinement"]
    runs = replayed_vasp["runs"]

    # --- inputs: ssbflow's VASP input sets, one job per DFT single point -------------
    n_series = sum(len(s["thicknesses_A"]) for s in block["surface_series"])
    assert len(runs) == block["n_dft_single_points"] == 3 * 2 + n_series + 2
    assert all(r["incar"]["NSW"] == 0 for r in runs)  # single points
    assert all(r["incar"]["GGA"].upper() == "PE" for r in runs)  # PBE
    interfaces = [r for r in runs if r["interface"]]
    assert len(interfaces) == 2
    for r in interfaces:  # slab set: dipole correction (Ag|Cu stack), one k-point along c
        assert r["incar"]["LDIPOL"] is True and r["incar"]["IDIPOL"] == 3
        assert r["kpoints"][2] == 1
        assert sorted(r["potcar"]) == ["Ag", "Cu"]
    bulks = [r for r in runs if r["kpoints"][2] > 1]
    # the two bulk references, with k-points along all three axes and no dipole
    assert sorted(r["formula"] for r in bulks) == ["Ag", "Cu"]
    assert all("LDIPOL" not in r["incar"] for r in bulks)

    # --- outputs: atomate2 task documents -> the same summary as the ASE path ---------
    assert block["level_of_theory"] == "DFT (VASP, PBE)"
    assert doc["headline_level_of_theory"] == "DFT (VASP, PBE)"
    from ssbflow.commands._common import load_output

    stored = load_output(settings, doc["uuid"])
    area = {c["label"]: c["area_A2"] for c in stored["candidates"]}
    ml = {c["label"]: c for c in doc["candidates"]}
    assert len(block["candidates"]) == 2
    for c in block["candidates"]:
        assert c["status"] == "refined", c
        # replayed energies = EMT (the ML potential) + offset on the interface:
        # W_ad(VASP) = W_ad(ML) − offset / A
        expected = (
            ml[c["label"]]["work_of_adhesion_J_per_m2"] - OFFSET_EV / area[c["label"]] * EV_PER_A2
        )
        assert c["dft"]["work_of_adhesion_J_per_m2"] == pytest.approx(expected, abs=1e-5)
        for key in ("metal_surface_energy_J_per_m2", "electrolyte_surface_energy_J_per_m2"):
            assert c["dft"][key] == pytest.approx(c["ml"][key], abs=1e-5)
        gm = c["dft"]["metal_surface_energy_J_per_m2"]
        gf = c["dft"]["electrolyte_surface_energy_J_per_m2"]
        w = c["dft"]["work_of_adhesion_J_per_m2"]
        assert c["dft"]["interface_energy_J_per_m2"] == pytest.approx(gm + gf - w, rel=1e-9)
        cos = max(w / gm - 1.0, -1.0)
        assert c["dft"]["contact_angle_deg"] == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-6)
    best = next(c for c in block["candidates"] if c["label"] == doc["selected_label"])
    assert doc["work_of_adhesion_J_per_m2"] == best["dft"]["work_of_adhesion_J_per_m2"]
    # the task documents are atomate2's VASP TaskDocs, stored as such
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    try:
        tasks = [
            d["output"]
            for d in store.query({"name": {"$regex": "^dft single point interface"}}, load=False)
        ]
    finally:
        store.close()
    assert len(tasks) == 2
    for t in tasks:
        assert t["@class"] == "TaskDoc" and t["@module"].startswith("emmet.core")
        assert t["calcs_reversed"][0]["vasp_version"] == "6.4.2"


def test_unconverged_vasp_run_fails_its_candidate(replayed_vasp, ag_on_cu, run_cli):
    """A VASP single point that hits NELM is not used as a number: atomate2 fails the job
    (VASP_HANDLE_UNSUCCESSFUL='error'), the candidate is stored failed with the reason and
    the other refined candidate gives the headline."""
    replayed_vasp["unconverged"].add(0)  # the first interface single point
    code, out, err = run_cli(
        "adhesion", *ag_on_cu, "--n-relax", "2", "--refine", "vasp", "--refine-top", "2", "--json"
    )
    doc = json.loads(out)
    assert code == 0, err
    first, second = doc["refinement"]["candidates"]
    assert first["status"] == "failed"
    assert "interface" in first["failure_reason"]
    assert first["dft"]["work_of_adhesion_J_per_m2"] is None
    assert second["status"] == "refined"
    assert doc["selected_label"] == second["label"]
    assert doc["headline_level_of_theory"] == "DFT (VASP, PBE)"
    assert any(first["label"] in w and "failed" in w for w in doc["warnings"])
