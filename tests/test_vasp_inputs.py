"""VASP inputs written by ssbflow's atomate2 makers for slabs, interfaces and bulk.

VASP is not run here. As in atomate2's own tests, the executable is replaced
(``run_vasp`` monkeypatched) and POTCARs by ``POTCAR.spec``; the INCAR, KPOINTS and POSCAR
the jobs write are checked against values computed by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Incar, Kpoints, Poscar

from ssbflow.errors import InputError
from ssbflow.workflows.vasp import (
    BulkSetGenerator,
    SlabSetGenerator,
    vasp_adhesion_makers,
    vasp_bulk_relax_maker,
    vasp_phonon_maker,
    vasp_slab_relax_maker,
    vasp_static_maker,
    vasp_surface_energy_maker,
)

A_LIF = 4.06
A_CELL = A_LIF / math.sqrt(2)  # 2.871 Å: LiF(100) primitive surface cell
D_LIF = A_LIF / 2
D_LI = 2.47
VACUUM = 10.0


def li_on_lif_interface(shift_A: float = 0.0) -> Structure:
    """3 LiF(100) layers + 4 Li layers in a 2.87 Å square cell, 10 Å vacuum.

    The bottom LiF layer (2 atoms) is fixed through ``selective_dynamics``. ``shift_A``
    moves everything along c (wrapping), e.g. to put the slab across the cell boundary.
    """
    layers = [("Li", "F", 0.0), ("F", "Li", D_LIF), ("Li", "F", 2 * D_LIF)]
    top = 2 * D_LIF + 2.2
    layers += [("", "Li", top), ("Li", "", top + D_LI), ("", "Li", top + 2 * D_LI)]
    layers += [("Li", "", top + 3 * D_LI)]
    height = top + 3 * D_LI + VACUUM
    species, coords = [], []
    for corner, centre, z in layers:
        for sym, xy in ((corner, (0.0, 0.0)), (centre, (0.5, 0.5))):
            if sym:
                species.append(sym)
                coords.append([xy[0], xy[1], ((z + shift_A) / height) % 1.0])
    fixed = [i < 2 for i in range(len(species))]
    return Structure(
        Lattice.tetragonal(A_CELL, height),
        species,
        coords,
        site_properties={"selective_dynamics": [[not f] * 3 for f in fixed]},
    )


def li100_slab(n_layers: int = 3) -> Structure:
    a = 3.44
    height = (n_layers - 1) * a / 2 + VACUUM
    coords = [[0.5 * (k % 2), 0.5 * (k % 2), k * a / 2 / height] for k in range(n_layers)]
    return Structure(Lattice.tetragonal(a, height), ["Li"] * n_layers, coords)


def write(generator, structure: Structure, where: Path) -> tuple[Incar, Kpoints, Poscar]:
    generator.get_input_set(structure, potcar_spec=True).write_input(where)
    return (
        Incar.from_file(where / "INCAR"),
        Kpoints.from_file(where / "KPOINTS"),
        Poscar.from_file(where / "POSCAR"),
    )


def test_interface_relax_inputs(tmp_path):
    structure = li_on_lif_interface()
    incar, kpoints, poscar = write(vasp_slab_relax_maker().input_set_generator, structure, tmp_path)
    # fixed cell, ionic relaxation with a force criterion
    assert incar["ISIF"] == 2
    assert incar["IBRION"] == 2
    assert incar["EDIFFG"] == pytest.approx(-0.02)
    assert incar["NSW"] > 0
    # PBE, spin-paired, no +U (the same level as the GPAW default)
    assert incar["GGA"].upper() == "PE"
    assert incar["ISPIN"] == 1
    assert incar["LDAU"] is False
    # dipole correction along c at the middle of the slab (asymmetric LiF|Li stack)
    assert incar["LDIPOL"] is True
    assert incar["IDIPOL"] == 3
    z = structure.frac_coords[:, 2]
    assert incar["DIPOL"][2] == pytest.approx((z.min() + z.max()) / 2, abs=1e-4)
    # Γ-centred mesh from 0.22 Å⁻¹: |b| = 2π/2.871 = 2.188 Å⁻¹ -> ceil(9.95) = 10; 1 along c
    assert kpoints.style == Kpoints.supported_modes.Gamma
    assert tuple(kpoints.kpts[0]) == (10, 10, 1)
    # selective dynamics: the bottom LiF layer fixed, every other atom free
    flags = poscar.selective_dynamics
    assert flags is not None
    bottom = np.isclose(poscar.structure.frac_coords[:, 2], z.min(), atol=1e-6)
    assert bottom.sum() == 2
    for is_bottom, flag in zip(bottom, flags, strict=True):
        assert list(flag) == ([False] * 3 if is_bottom else [True] * 3)


def test_dipole_position_follows_a_slab_that_wraps_across_the_boundary(tmp_path):
    # move the slab up by 18 Å: it now straddles c = 1 and its middle is at the old middle + 18 Å
    shifted = li_on_lif_interface(shift_A=18.0)
    incar, kpoints, _ = write(vasp_slab_relax_maker().input_set_generator, shifted, tmp_path)
    height = shifted.lattice.c
    thickness = 2 * D_LIF + 2.2 + 3 * D_LI
    expected = ((thickness / 2 + 18.0) / height) % 1.0
    assert incar["DIPOL"][2] == pytest.approx(expected, abs=1e-3)
    assert tuple(kpoints.kpts[0])[2] == 1


def test_interface_static_inputs(tmp_path):
    incar, kpoints, _ = write(
        vasp_static_maker().input_set_generator, li_on_lif_interface(), tmp_path
    )
    assert incar["NSW"] == 0
    assert incar.get("IBRION", -1) == -1  # pymatgen drops IBRION for NSW = 0 (VASP default -1)
    assert incar["LDIPOL"] is True and incar["IDIPOL"] == 3
    assert tuple(kpoints.kpts[0]) == (10, 10, 1)


def test_symmetric_slab_has_no_dipole_but_one_k_along_normal(tmp_path):
    incar, kpoints, _ = write(vasp_slab_relax_maker().input_set_generator, li100_slab(3), tmp_path)
    assert "LDIPOL" not in incar and "IDIPOL" not in incar
    # |b| = 2π/3.44 = 1.8265 Å⁻¹, /0.22 = 8.30 -> 9
    assert tuple(kpoints.kpts[0]) == (9, 9, 1)
    forced, _, _ = write(
        SlabSetGenerator(dipole_correction="on"), li100_slab(3), tmp_path / "forced"
    )
    assert forced["LDIPOL"] is True


def test_bulk_relax_inputs(tmp_path):
    bulk = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    incar, kpoints, poscar = write(vasp_bulk_relax_maker().input_set_generator, bulk, tmp_path)
    assert incar["ISIF"] == 3
    assert incar["IBRION"] == 2
    assert incar["EDIFFG"] == pytest.approx(-0.01)
    assert "LDIPOL" not in incar
    assert tuple(kpoints.kpts[0]) == (9, 9, 9)
    assert poscar.selective_dynamics is None


def test_impossible_vasp_settings_are_input_errors():
    with pytest.raises(InputError, match="kpoint_spacing_per_A=0"):
        SlabSetGenerator(kpoint_spacing_per_A=0)
    with pytest.raises(InputError, match="dipole_correction='maybe'"):
        SlabSetGenerator(dipole_correction="maybe")
    with pytest.raises(InputError, match="kpoint_spacing_per_A=-1"):
        BulkSetGenerator(kpoint_spacing_per_A=-1)
    with pytest.raises(InputError, match="min_length_A=1"):
        vasp_phonon_maker(min_length_A=1)


def test_maker_sets_for_the_flows():
    from ssbflow.workflows.adhesion import AdhesionMaker
    from ssbflow.workflows.surface import SurfaceEnergyMaker

    adhesion = vasp_adhesion_makers()
    assert set(adhesion) == {
        "bulk_relax_maker",
        "relax_maker",
        "static_maker",
        "surface_energy_maker",
    }
    assert isinstance(adhesion["bulk_relax_maker"], RelaxMaker)
    assert isinstance(adhesion["relax_maker"], RelaxMaker)
    assert isinstance(adhesion["static_maker"], StaticMaker)
    assert isinstance(adhesion["relax_maker"].input_set_generator, SlabSetGenerator)
    assert isinstance(adhesion["bulk_relax_maker"].input_set_generator, BulkSetGenerator)
    maker = AdhesionMaker(**adhesion)  # the lead's flow accepts the VASP makers
    assert maker.relax_maker.input_set_generator.relax is True
    surface = vasp_surface_energy_maker(kpoint_spacing_per_A=0.3)
    assert isinstance(surface, SurfaceEnergyMaker)
    assert surface.relax_maker.input_set_generator.kpoint_spacing_per_A == 0.3
    # slabs with the slab set, the bulk reference with the bulk set (a single point), at
    # the same k-point spacing
    assert isinstance(surface.relax_maker.input_set_generator, SlabSetGenerator)
    assert isinstance(surface.static_maker, StaticMaker)
    assert isinstance(surface.static_maker.input_set_generator, BulkSetGenerator)
    assert surface.static_maker.input_set_generator.relax is False
    assert surface.static_maker.input_set_generator.kpoint_spacing_per_A == 0.3
    for_adhesion = adhesion["surface_energy_maker"]
    assert isinstance(for_adhesion.static_maker.input_set_generator, BulkSetGenerator)
    assert isinstance(for_adhesion.relax_maker.input_set_generator, SlabSetGenerator)


def test_surface_energy_bulk_references_get_bulk_inputs(monkeypatch, tmp_path, jobstore):
    """The bulk references of the VASP surface-energy flow (the electrolyte bulk for
    Σ N μ, the metal bulk for μ_M) run as bulk single points: k-points along all three
    axes, no ionic or cell steps, no dipole correction, and the slabs' level of theory
    (same functional, cutoff, smearing, SCF criterion). VASP replaced, inputs captured."""
    import atomate2.vasp.jobs.base
    from jobflow import run_locally
    from pymatgen.io.vasp.sets import VaspInputSet

    from ssbflow.structures.slabs import enumerate_terminations, termination_series

    captured: list[dict[str, str]] = []

    def fake_run_vasp(*_args, **_kwargs):
        captured.append({n: Path(n).read_text() for n in ("INCAR", "KPOINTS", "POSCAR")})
        raise RuntimeError("VASP replaced in the test: inputs captured")

    original = VaspInputSet.get_input_set

    def spec_only(self, *args, **kwargs):
        kwargs["potcar_spec"] = True
        return original(self, *args, **kwargs)

    monkeypatch.setattr(atomate2.vasp.jobs.base, "run_vasp", fake_run_vasp)
    monkeypatch.setattr(VaspInputSet, "get_input_set", spec_only)
    lif = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(A_LIF), ["Li", "F"], [[0] * 3, [0.5] * 3]
    )
    li = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    maker = vasp_surface_energy_maker()
    flow = maker.make(lif, li)
    run_locally(flow, store=jobstore, create_folders=True, root_dir=tmp_path, log=False)
    # both references ran (and failed); no slab job started without them
    assert len(captured) == 2
    by_formula = {}
    for files in captured:
        by_formula[Poscar.from_str(files["POSCAR"]).structure.composition.reduced_formula] = files
    assert set(by_formula) == {"LiF", "Li"}
    # bulk meshes at 0.22 Å⁻¹: LiF |b| = 2π/4.06 = 1.548 Å⁻¹ -> ceil(7.03) = 8;
    # Li 2π/3.44 = 1.827 -> ceil(8.30) = 9; never one k-point along c
    expected_mesh = {"LiF": (8, 8, 8), "Li": (9, 9, 9)}
    # the slabs' INCAR, for the level-of-theory comparison
    term = enumerate_terminations(lif, (1, 0, 0))[0]
    slab = termination_series(lif, (1, 0, 0), term, 6.0, 12.0, vacuum_A=15.0)[0].slab
    slab_incar, slab_kpoints, _ = write(maker.relax_maker.input_set_generator, slab, tmp_path)
    assert tuple(slab_kpoints.kpts[0])[2] == 1  # the slab set: one k-point along c
    for formula, files in by_formula.items():
        incar = Incar.from_str(files["INCAR"])
        kpoints = Kpoints.from_str(files["KPOINTS"])
        assert kpoints.style == Kpoints.supported_modes.Gamma
        assert tuple(kpoints.kpts[0]) == expected_mesh[formula]
        assert incar["NSW"] == 0  # single point on the relaxed bulk: the slabs' lattice
        assert incar.get("IBRION", -1) == -1
        # no cell relaxation (pymatgen leaves ISIF out at NSW = 0: VASP's default 2)
        assert incar.get("ISIF", 2) in (0, 1, 2)
        assert "LDIPOL" not in incar and "IDIPOL" not in incar
        for key in (
            "GGA",
            "ENCUT",
            "PREC",
            "ISPIN",
            "ISMEAR",
            "SIGMA",
            "EDIFF",
            "LASPH",
            "LREAL",
            "LDAU",
        ):
            assert incar[key] == slab_incar[key], key


def test_phonon_maker_is_pbe_and_spin_paired():
    maker = vasp_phonon_maker(min_length_A=12.0)
    assert maker.min_length == 12.0
    assert maker.born_maker is None
    disp = maker.phonon_displacement_maker.input_set_generator.user_incar_settings
    assert disp["GGA"] == "PE" and disp["ISPIN"] == 1
    relax = maker.bulk_relax_maker.relax_maker1.input_set_generator
    assert isinstance(relax, BulkSetGenerator)
    assert relax.ediffg_eV_per_A == pytest.approx(0.001)
    assert vasp_phonon_maker(born=True).born_maker is not None


def test_relax_job_writes_inputs_in_its_folder(monkeypatch, tmp_path, jobstore):
    """Run the atomate2 job with the VASP executable replaced, as atomate2's tests do."""
    import atomate2.vasp.jobs.base
    from jobflow import run_locally
    from pymatgen.io.vasp.sets import VaspInputSet

    captured: dict[str, str] = {}

    def fake_run_vasp(*_args, **_kwargs):
        for name in ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"):
            captured[name] = Path(name).read_text()
        raise RuntimeError("VASP replaced in the test: inputs captured")

    original = VaspInputSet.get_input_set

    def spec_only(self, *args, **kwargs):
        kwargs["potcar_spec"] = True
        return original(self, *args, **kwargs)

    monkeypatch.setattr(atomate2.vasp.jobs.base, "run_vasp", fake_run_vasp)
    monkeypatch.setattr(VaspInputSet, "get_input_set", spec_only)
    job = vasp_adhesion_makers()["relax_maker"].make(li_on_lif_interface())
    responses = run_locally(job, store=jobstore, create_folders=True, root_dir=tmp_path, log=False)
    assert job.uuid not in responses or not responses[job.uuid]  # the job did not succeed
    incar = Incar.from_str(captured["INCAR"])
    assert incar["ISIF"] == 2 and incar["LDIPOL"] is True and incar["IDIPOL"] == 3
    assert Kpoints.from_str(captured["KPOINTS"]).kpts[0] == (10, 10, 1)
    poscar = Poscar.from_str(captured["POSCAR"])
    assert sum(not any(f) for f in poscar.selective_dynamics) == 2
    assert set(captured["POTCAR.spec"].split()) == {"Li_sv", "F"}
