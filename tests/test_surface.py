"""Surface energies one face at a time: terminations, symmetric references, thickness
convergence in Å, chemical potentials, the ``ssbflow surface`` command and its Wulff shape."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from ssbflow.analysis.adhesion import (
    EV_PER_A2_TO_J_PER_M2,
    contact_plane_migration,
    reference_chemical_potentials_eV,
    surface_energy_from_series_J_per_m2,
)
from ssbflow.structures.library import get_phase
from ssbflow.structures.slabs import (
    enumerate_terminations,
    face_signature,
    termination_series,
)


def _fcc(element: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [element], [[0, 0, 0]])


def _cu3au() -> Structure:
    """L1_2 Cu3Au: (001) planes alternate Cu2 and AuCu, two different faces."""
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.75), ["Au", "Cu"], [[0, 0, 0], [0, 0.5, 0.5]]
    )


def _emt_relaxed(structure: Structure) -> Structure:
    """The bulk relaxed with EMT (cell and positions): the slabs' reference."""
    from ase.calculators.emt import EMT
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = EMT()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.001, steps=300)
    return AseAtomsAdaptor.get_structure(atoms)


def _emt_surface_maker(**settings):
    from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
    from ssbflow.workflows.surface import SurfaceEnergyMaker

    return SurfaceEnergyMaker(
        relax_maker=CalcRelaxMaker(name="slab relax", relax_cell=False, calculator_name="emt"),
        static_maker=CalcStaticMaker(calculator_name="emt"),
        **settings,
    )


def _run_surface(maker, bulk, metal_bulk=None):
    from ssbflow.commands._common import load_output
    from ssbflow.execution.runner import run_flow
    from ssbflow.settings import get_settings
    from ssbflow.workflows.surface import surface_documents

    flow = maker.make(bulk, metal_bulk)
    settings = get_settings()
    run_flow(flow, settings, progress=False)
    return surface_documents(load_output(settings, flow.output.uuid))


# -- terminations and symmetric references ---------------------------------------------


def test_li2o_111_every_face_its_own_symmetric_reference():
    """Li2O(111): three faces (O, Li-over-Li, Li-over-O); each series slab has that face on
    both sides, is symmetric by pymatgen's own test, and only Li-O-Li is stoichiometric."""
    from pymatgen.core.surface import Slab

    li2o = get_phase("Li2O")
    terms = enumerate_terminations(li2o, (1, 1, 1))
    chem = sorted(t.chemistry for t in terms)
    assert chem == ["Li-terminated", "Li-terminated", "O-terminated"]
    assert sum(t.stoichiometric for t in terms) == 1
    assert all(t.symmetric and not t.polar for t in terms)
    for t in terms:
        series = termination_series(li2o, (1, 1, 1), t, 6.0, 16.0)
        thick = [s.thickness_A for s in series]
        assert thick == sorted(thick) and thick[0] >= 6.0 - 1e-6 and thick[-1] <= 16.0 + 1e-6
        assert len({round(s.area_A2, 6) for s in series}) == 1
        for s in series:
            assert face_signature(s.slab, "top").matches(t.signature)
            assert face_signature(s.slab, "bottom").matches(t.signature)
            slab = Slab(
                s.slab.lattice, s.slab.species, s.slab.frac_coords, (1, 1, 1), li2o, 0.0, np.eye(3)
            )
            assert slab.is_symmetric()
            comp = s.slab.composition
            assert (comp["Li"] == 2 * comp["O"]) == t.stoichiometric


def test_reference_chemical_potentials_by_hand():
    bulk = {"Li": 2.0, "O": 1.0}
    e_bulk = -14.0  # per Li2O
    # stoichiometric: only the bulk energy enters
    mu, _ = reference_chemical_potentials_eV(bulk, e_bulk, {"Li": 6, "O": 3})
    assert 6 * mu["Li"] + 3 * mu["O"] == pytest.approx(3 * e_bulk)
    # Li-rich slab at the metal-rich limit: μ_Li = bulk Li, μ_O from the bulk
    mu, how = reference_chemical_potentials_eV(bulk, e_bulk, {"Li": 6, "O": 2}, "Li", -1.9)
    assert mu == pytest.approx({"Li": -1.9, "O": -14.0 + 3.8})
    assert "from the bulk" in how
    # multinary, off-stoichiometric in two free elements: not fixed, and said so
    bulk3 = {"Li": 3.0, "P": 1.0, "S": 4.0}
    mu, how = reference_chemical_potentials_eV(bulk3, -30.0, {"Li": 6, "P": 2, "S": 9}, "Li", -1.9)
    assert mu is None and "not fixed" in how
    # ... unless the user fixes one of them
    mu, _ = reference_chemical_potentials_eV(
        bulk3, -30.0, {"Li": 6, "P": 2, "S": 9}, "Li", -1.9, {"S": -4.0}
    )
    assert mu["P"] == pytest.approx(-30.0 + 3 * 1.9 + 16.0)
    # multinary with only a metal excess: fixed by the bulk
    mu, _ = reference_chemical_potentials_eV(bulk3, -30.0, {"Li": 7, "P": 2, "S": 8}, "Li", -1.9)
    assert 2 * mu["P"] + 8 * mu["S"] == pytest.approx(2 * (-30.0 + 3 * 1.9))


def test_contact_plane_migration_by_hand():
    z0 = np.array([0.0, 2.0, 4.0, 6.0])  # lower side: 0, 2; upper: 4, 6 → contact at 3
    upper = np.array([False, False, True, True])
    still = contact_plane_migration(z0, z0 + 0.5, upper)
    assert still.contact_height_A == pytest.approx(3.0)
    assert still.n_crossed == 0 and still.max_normal_displacement_A == pytest.approx(0.5)
    moved = contact_plane_migration(z0, np.array([0.0, 2.0, 2.5, 6.0]), upper)
    assert moved.n_crossed == 1 and moved.crossed_indices == (2,)
    assert moved.max_normal_displacement_A == pytest.approx(1.5)


# -- thickness convergence ---------------------------------------------------------------


@pytest.mark.parametrize("miller", [(1, 1, 1), (1, 0, 0)])
def test_emt_cu_converged_in_angstrom(miller):
    """Cu(111), Cu(100) with EMT: converged to the tolerance, thickness in Å, symmetric.

    One "unit plane" is one d_hkl of the conventional cell: 1 atomic plane (2.1 Å) for
    (111) but 2 atomic planes (3.6 Å) for (100), so (2, 3, 4) unit planes meant 4.2-8.3 Å
    for one facet and 7.2-14.4 Å for the other; thickness is therefore set in Å.
    """
    cu = _fcc("Cu", 3.59)
    d = cu.lattice.d_hkl(miller)
    planes_per_unit = {(1, 1, 1): 1, (1, 0, 0): 2}[miller]
    assert d == pytest.approx(3.59 / np.sqrt(sum(m * m for m in miller)))
    (doc,) = _run_surface(_emt_surface_maker(miller=miller), cu)
    assert doc.status == "successful" and doc.converged and doc.symmetric
    assert doc.surface_energy_stderr_J_per_m2 < doc.tolerance_J_per_m2 == 0.01
    series = doc.surface_energies_J_per_m2
    assert abs(series[-1] - series[-2]) < 0.01
    assert doc.thickness_A == doc.thicknesses_A[-1] >= 6.0
    # each slab is at least the 2.5 Å step thicker than the one before
    assert all(b - a >= 2.5 - 1e-6 for a, b in itertools.pairwise(doc.thicknesses_A))
    # thickness is measured in Å: (atomic planes − 1) × atomic-plane spacing, one atom per
    # plane in the primitive surface cell
    spacing = d / planes_per_unit
    assert doc.thicknesses_A[0] == pytest.approx((doc.n_atoms[0] - 1) * spacing, abs=0.05)
    # EMT Cu: γ(111) ≈ 1.04, γ(100) ≈ 1.13 J/m² (ASE EMT), and (111) is the lower
    assert doc.surface_energy_J_per_m2 == pytest.approx(
        {(1, 1, 1): 1.044, (1, 0, 0): 1.134}[miller], abs=0.01
    )


def test_old_two_to_four_plane_fit_differs_from_converged_emt_pt111():
    """The old default, a slope fit over slabs of 2, 3, 4 unit planes (= 2-4 atomic planes
    on fcc(111)), misses EMT Pt(111) by more than the tolerance; the converged flow does not."""
    from ase.build import fcc111
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS

    a = 3.92
    pt = _fcc("Pt", a)
    (doc,) = _run_surface(_emt_surface_maker(miller=(1, 1, 1)), pt)
    assert doc.converged
    e_bulk = doc.bulk_energy_per_atom_eV
    energies, sizes = [], []
    for n in (2, 3, 4):
        slab = fcc111("Pt", (1, 1, n), a=a, vacuum=7.5)
        slab.calc = EMT()
        BFGS(slab, logfile=None).run(fmax=0.05)
        energies.append(slab.get_potential_energy())
        sizes.append(len(slab))
        area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
    old = surface_energy_from_series_J_per_m2(sizes, energies, area).surface_energy_J_per_m2
    assert abs(old - doc.surface_energy_J_per_m2) > 0.03
    # the converged value agrees with a thick (10-plane) slab against the same bulk energy
    thick = fcc111("Pt", (1, 1, 10), a=a, vacuum=7.5)
    thick.calc = EMT()
    BFGS(thick, logfile=None).run(fmax=0.05)
    area = float(np.linalg.norm(np.cross(thick.cell[0], thick.cell[1])))
    gamma_thick = (
        (thick.get_potential_energy() - len(thick) * e_bulk) / (2 * area) * EV_PER_A2_TO_J_PER_M2
    )
    assert doc.surface_energy_J_per_m2 == pytest.approx(gamma_thick, abs=0.01)


# -- two faces, never their mean -------------------------------------------------------


def test_asymmetric_cu3au_each_face_its_own_energy_not_the_mean():
    """Cu3Au(001) with EMT has a Cu face and an AuCu face. A stoichiometric slab has one of
    each: its (E − N E_bulk)/2A is their mean. The flow reports each face from slabs with
    that face on both sides (off-stoichiometric: μ_Cu from fcc Cu, μ_Au from the bulk).
    The two face energies differ from the mean, and add up to twice it."""
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.structures.slabs import generate_slabs

    bulk, cu = _emt_relaxed(_cu3au()), _emt_relaxed(_fcc("Cu", 3.59))
    docs = _run_surface(_emt_surface_maker(miller=(1, 0, 0), metal_element="Cu"), bulk, cu)
    assert sorted(d.termination_chemistry for d in docs) == ["Au+Cu-terminated", "Cu-terminated"]
    for d in docs:
        assert d.status == "successful" and d.symmetric and not d.stoichiometric and d.converged
        assert set(d.chemical_potentials_eV) == {"Cu", "Au"}  # recorded with the result
        assert d.dgamma_d_delta_mu_metal_J_per_m2_per_eV != 0  # γ depends on Δμ_Cu
    g = {d.termination_chemistry: d.surface_energy_J_per_m2 for d in docs}
    # the plain stoichiometric slab: one face of each kind, 9 planes of Cu2 / AuCu
    plain = next(
        s for s in generate_slabs(bulk, (1, 0, 0), 14.0, prefer_symmetric=False)
        if not s.symmetric
    )  # fmt: skip
    atoms = AseAtomsAdaptor.get_atoms(plain.slab)
    atoms.calc = EMT()
    BFGS(atoms, logfile=None).run(fmax=0.05)
    e_bulk = docs[0].bulk_energy_per_atom_eV
    mean = (
        (atoms.get_potential_energy() - len(atoms) * e_bulk)
        / (2 * plain.area_A2)
        * EV_PER_A2_TO_J_PER_M2
    )
    assert abs(g["Cu-terminated"] - g["Au+Cu-terminated"]) > 0.1
    for value in g.values():
        assert abs(value - mean) > 0.05
    # consistency of the two references: γ_Cu + γ_AuCu = 2 × mean (μ cancels)
    assert g["Cu-terminated"] + g["Au+Cu-terminated"] == pytest.approx(2 * mean, abs=0.02)


# -- the command -------------------------------------------------------------------------


def test_surface_command_emt_end_to_end(run_cli, tmp_path, settings):
    cu = _fcc("Cu", 3.59)
    path = tmp_path / "Cu.cif"
    cu.to(filename=str(path))
    out_dir = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "surface", path, "--max-index", "1", "--calculator", "emt", "--output", out_dir, "--json"
    )
    assert code == 0, stderr
    out = json.loads(stdout)
    for key in (
        "surface_energies",
        "weighted_surface_energy_J_per_m2",
        "area_fractions",
        "calculator",
        "uuid",
    ):
        assert key in out
    assert out["calculator"] == "emt"
    rows = out["surface_energies"]
    assert sorted(tuple(r["miller"]) for r in rows) == [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    for r in rows:
        for key in (
            "miller",
            "termination",
            "surface_energy_J_per_m2",
            "stderr_J_per_m2",
            "thickness_A",
            "converged",
            "symmetric",
            "stoichiometric",
        ):
            assert key in r
        assert r["converged"] and r["symmetric"] and r["stoichiometric"]
    fractions = out["area_fractions"]
    assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-6)
    gamma = {tuple(r["miller"]): r["surface_energy_J_per_m2"] for r in rows}
    # fcc: γ(111) < γ(100) < γ(110), and the close-packed facet dominates the shape
    assert gamma[(1, 1, 1)] < gamma[(1, 0, 0)] < gamma[(1, 1, 0)]
    assert max(fractions, key=fractions.get) == "1,1,1"
    weighted = sum(fractions[",".join(map(str, m))] * g for m, g in gamma.items())
    assert out["weighted_surface_energy_J_per_m2"] == pytest.approx(weighted, rel=1e-6)
    assert (out_dir / "wulff_Cu_emt.png").stat().st_size > 1000
    # stored like every other result
    from ssbflow.execution.store import get_jobstore

    store = get_jobstore(settings)
    store.connect()
    try:
        study = list(store.query({"output.result_type": "surface_study"}))
        single = list(store.query({"output.result_type": "surface_energy"}))
    finally:
        store.close()
    assert len(study) == 1 and study[0]["uuid"] == out["uuid"]
    assert len(single) == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["surface", "Cu.cif", "--miller", "1,0"], "Miller"),
        (["surface", "Cu.cif", "--max-index", "9"], "--max-index"),
        (["surface", "Cu.cif", "--tolerance", "-1"], "--tolerance"),
        (["surface", "Cu.cif", "--min-thickness", "30"], "--min-thickness"),
        (["surface", "Cu.cif", "--delta-mu", "0.5"], "--delta-mu"),
        (["surface", "Cu.cif", "--chemical-potential", "S=-4"], "--chemical-potential"),
    ],
)
def test_surface_command_bad_input(args, needle, run_cli, tmp_path):
    _fcc("Cu", 3.59).to(filename=str(tmp_path / "Cu.cif"))
    code, stdout, stderr = run_cli(*args, "--calculator", "emt")
    assert code == 2, stderr
    assert needle in stderr and "Traceback" not in stderr and stdout == ""


def test_unrelaxed_bulk_reference_is_caught_not_hidden():
    """Slabs cut from an unrelaxed bulk relax along the normal, so their interior sits below
    the bulk reference: γ drifts linearly with thickness, never converges, and the document
    says why instead of reporting a converged number."""
    docs = _run_surface(
        _emt_surface_maker(miller=(1, 0, 0), metal_element="Cu", max_thickness_A=16.0),
        _cu3au(),  # a = 3.75 Å, not EMT's lattice constant
        _emt_relaxed(_fcc("Cu", 3.59)),
    )
    for d in docs:
        assert d.status == "successful" and not d.converged
        series = d.surface_energies_J_per_m2
        steps = np.diff(series)
        assert np.all(steps < 0) and np.ptp(steps) < 0.3 * abs(steps.mean())  # linear drift
        assert d.bulk_mismatch_meV_per_atom < -2.0
        assert any("not converged" in w for w in d.warnings)
        assert any("slab interior differs from the bulk reference" in w for w in d.warnings)


# -- planning a facet: chosen terminations, atom limit, μ by coexistence --------------------


def test_plan_picks_named_terminations_and_caps_series_at_max_atoms():
    """Cu3Au(100) has a Cu face and an AuCu face; "Au-terminated" names the AuCu one. With
    an atom limit the series keeps only slabs within it, and `capped` stops the maker's
    series at the thickest of them."""
    from ssbflow.errors import InputError

    bulk = _cu3au()
    maker = _emt_surface_maker(miller=(1, 0, 0))
    every = maker.plan(bulk)
    assert sorted(p.termination.chemistry for p in every) == ["Au+Cu-terminated", "Cu-terminated"]
    assert not any(p.truncated for p in every)
    (au,) = maker.plan(bulk, "Au-terminated")
    assert au.termination.chemistry == "Au+Cu-terminated"
    sizes = [len(s.slab) for s in au.series]
    limit = sizes[2]  # keep three slabs
    (capped,) = maker.plan(bulk, "Au-terminated", max_atoms=limit)
    assert capped.truncated and [len(s.slab) for s in capped.series] == sizes[:3]
    assert maker.capped([capped]).max_thickness_A == pytest.approx(
        capped.series[-1].thickness_A + 0.05
    )
    assert maker.capped(every).max_thickness_A == maker.max_thickness_A
    with pytest.raises(InputError, match="two thinnest") as too_small:
        maker.plan(bulk, "Au-terminated", max_atoms=sizes[0])
    assert too_small.value.field == "max_atoms"
    with pytest.raises(InputError, match="no O-terminated termination") as missing:
        maker.plan(bulk, "O-terminated")
    assert missing.value.field == "termination"


def test_facet_surface_maker_fixes_mu_by_coexistence():
    """Cu3Au(100), AuCu face, in equilibrium with fcc Cu: μ_Cu is the energy per atom of
    the Cu phase (fixed by coexistence, not by a metal bulk given to the maker) and
    μ_Au = E(Cu3Au) − 3 μ_Cu, both computed here with EMT directly; γ is
    (E_slab − Σ N_i μ_i)/2A of the stored final slab with those μ."""
    from ase.calculators.emt import EMT
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.analysis.adhesion import grand_surface_energy_J_per_m2
    from ssbflow.commands._common import load_output
    from ssbflow.errors import InputError
    from ssbflow.execution.runner import run_flow
    from ssbflow.settings import get_settings
    from ssbflow.workflows.calc import CalcRelaxMaker
    from ssbflow.workflows.surface import FacetSurfaceMaker, slab_key, surface_documents

    def energy(structure):
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = EMT()
        return atoms.get_potential_energy()

    bulk, cu = _emt_relaxed(_cu3au()), _emt_relaxed(_fcc("Cu", 3.59))
    maker = FacetSurfaceMaker(
        surface_maker=_emt_surface_maker(miller=(1, 0, 0), metal_element="Cu"),
        bulk_relax_maker=CalcRelaxMaker(relax_cell=True, calculator_name="emt"),
        termination="Au-terminated",
        coexisting_phases={"Cu": "Cu"},
    )
    with pytest.raises(InputError, match="coexisting phase") as no_phase:
        maker.make(bulk)
    assert no_phase.value.field == "coexisting_phases"
    flow = maker.make(bulk, {"Cu": cu})
    names = [j.name for j in flow.jobs]
    assert names == ["bulk relax Cu3Au", "coexisting phase Cu", "surface energy at coexistence"]
    settings = get_settings()
    run_flow(flow, settings, progress=False)
    (doc,) = surface_documents(load_output(settings, flow.jobs[-1].uuid))
    assert doc.termination_chemistry == "Au+Cu-terminated" and doc.status == "successful"
    mu_cu = energy(cu) / len(cu)
    mu_au = energy(bulk) - 3 * mu_cu  # one formula unit per conventional cell
    assert doc.chemical_potentials_eV["Cu"] == pytest.approx(mu_cu, abs=1e-3)
    assert doc.chemical_potentials_eV["Au"] == pytest.approx(mu_au, abs=1e-3)
    slab = doc.structures[slab_key(doc.thickness_A)]
    counts = {el.symbol: float(n) for el, n in slab.composition.items()}
    gamma = grand_surface_energy_J_per_m2(
        doc.slab_energies_eV[-1], counts, {"Cu": mu_cu, "Au": mu_au}, doc.area_A2
    )
    assert doc.surface_energy_J_per_m2 == pytest.approx(gamma, abs=2e-3)
