"""VASP makers for the adhesion, surface-energy and phonon flows (for HPC users with VASP).

ssbflow's flows take their energy/relaxation steps as Maker fields whose outputs have
``.structure`` and ``.output.energy``. atomate2's VASP makers (``RelaxMaker``,
``StaticMaker``) return a ``TaskDoc`` with both, so the same flows run at the VASP level by
passing the makers built here, e.g.::

    from ssbflow.workflows.adhesion import AdhesionMaker
    from ssbflow.workflows.vasp import vasp_adhesion_makers

    maker = AdhesionMaker(**vasp_adhesion_makers())

(keys ``bulk_relax_maker``, ``relax_maker``, ``static_maker``, ``surface_energy_maker``).

Input sets (PBE, spin-paired, 520 eV, Gaussian smearing 0.05 eV, no +U):

`SlabSetGenerator` (slabs and interfaces)
    ``ISIF = 2`` (fixed cell), ``IBRION = 2``, ``EDIFFG = -0.02`` eV/Å for relaxations
    (``NSW = 0, IBRION = -1`` for single points); dipole correction ``LDIPOL = True,
    IDIPOL = 3`` with ``DIPOL`` at the middle of the slab, for slabs/interfaces whose two
    surfaces differ (``dipole_correction="auto"``); Γ-centred k-mesh from a spacing with
    one k-point along c when the cell has a vacuum gap (the surface normal).
`BulkSetGenerator` (bulk references)
    ``ISIF = 3`` relaxations (``NSW = 0``, ``ISIF = 2`` for single points), same
    cutoff/smearing, k-points along all three axes. The surface-energy flow takes its
    bulk reference energies from these single points, never from the slab set.

Fixed layers: the ``selective_dynamics`` site property (the same convention as the ML and
GPAW paths, ``False`` = fixed) is written to the POSCAR by pymatgen, so VASP keeps those
atoms in place.

Nothing here runs VASP; atomate2 calls the executable given by its own settings
(``VASP_CMD``), with POTCARs from ``PMG_VASP_PSP_DIR``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from atomate2.vasp.sets.base import VaspInputGenerator
from pymatgen.core import Structure
from pymatgen.io.vasp import Kpoints

from ssbflow.errors import InputError

#: INCAR settings shared by every ssbflow VASP input set (PBE, as the GPAW default).
COMMON_INCAR: dict[str, Any] = {
    "GGA": "PE",
    "ENCUT": 520,
    "ISPIN": 1,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "EDIFF": 1e-5,
    "LDAU": False,
    "LASPH": True,
    "LREAL": False,
    "LWAVE": False,
    "NELM": 200,
}


def _slab_geometry(structure: Structure, min_vacuum_A: float) -> tuple[bool, float]:
    """(is_slab, fractional c of the slab middle) from the largest gap along c."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.calculators.dft_gpaw import vacuum_gap

    gap_A, gap_centre = vacuum_gap(AseAtomsAdaptor.get_atoms(structure))
    return gap_A >= min_vacuum_A, (gap_centre + 0.5) % 1.0


def _needs_dipole(structure: Structure, mode: str, is_slab: bool) -> bool:
    if not is_slab or mode == "off":
        return False
    if mode == "on":
        return True
    from pymatgen.io.ase import AseAtomsAdaptor

    from ssbflow.calculators.dft_gpaw import is_symmetric_slab

    return not is_symmetric_slab(AseAtomsAdaptor.get_atoms(structure))


def gamma_mesh(structure: Structure, spacing_per_A: float, slab: bool) -> Kpoints:
    """Γ-centred mesh ``max(1, ceil(|b_i| / spacing))``, 1 along c for a slab.

    Parameters
    ----------
    structure
        The cell.
    spacing_per_A
        k-point spacing in Å⁻¹ (2π included, as VASP's KSPACING).
    slab
        One k-point along c (the surface normal).
    """
    from ssbflow.calculators.dft_gpaw import kpoint_mesh

    return Kpoints.gamma_automatic(kpts=kpoint_mesh(structure.lattice.matrix, spacing_per_A, slab))


def _check_common(spacing: float, mode: str) -> None:
    if not (math.isfinite(spacing) and 0.02 <= spacing <= 2.0):
        raise InputError(
            f"kpoint_spacing_per_A={spacing} is impossible; use a value in [0.02, 2.0], e.g. 0.22",
            field="kpoint_spacing_per_A",
        )
    if mode not in {"auto", "on", "off"}:
        raise InputError(
            f"dipole_correction={mode!r}; use 'auto', 'on' or 'off'", field="dipole_correction"
        )


@dataclass
class SlabSetGenerator(VaspInputGenerator):
    """PBE input set for slabs and interfaces (fixed cell, dipole correction, 1 k along c).

    Parameters
    ----------
    relax
        Relax the ions (``ISIF = 2``) or compute a single point.
    kpoint_spacing_per_A
        k-point spacing in Å⁻¹ (2π included).
    dipole_correction
        ``"auto"`` (slabs whose two surfaces differ), ``"on"`` (every slab) or ``"off"``.
    min_vacuum_A
        A gap along c at least this large (Å) marks a slab: one k-point along c.
    ediffg_eV_per_A
        Force criterion for relaxations (written as ``EDIFFG = -value``).
    """

    relax: bool = True
    kpoint_spacing_per_A: float = 0.22
    dipole_correction: str = "auto"
    min_vacuum_A: float = 5.0
    ediffg_eV_per_A: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_common(self.kpoint_spacing_per_A, self.dipole_correction)

    @property
    def incar_updates(self) -> dict[str, Any]:
        """INCAR for a slab/interface job with the current structure."""
        updates: dict[str, Any] = {**COMMON_INCAR, "ISIF": 2, "ISYM": 0, "NELMIN": 6}
        if self.relax:
            updates |= {
                "NSW": 200,
                "IBRION": 2,
                "EDIFFG": -abs(self.ediffg_eV_per_A),
                "LCHARG": False,
            }
        else:
            updates |= {"NSW": 0, "IBRION": -1, "LCHARG": True, "LVTOT": True}
        if self.structure is not None:
            is_slab, middle = _slab_geometry(self.structure, self.min_vacuum_A)
            if _needs_dipole(self.structure, self.dipole_correction, is_slab):
                updates |= {"LDIPOL": True, "IDIPOL": 3, "DIPOL": [0.5, 0.5, round(middle, 6)]}
        return updates

    @property
    def kpoints_updates(self) -> Kpoints:
        """Γ-centred mesh from the spacing; one k-point along c for slabs."""
        if self.structure is None:
            raise ValueError("no structure set on the input set")
        is_slab, _ = _slab_geometry(self.structure, self.min_vacuum_A)
        return gamma_mesh(self.structure, self.kpoint_spacing_per_A, is_slab)


@dataclass
class BulkSetGenerator(VaspInputGenerator):
    """PBE input set for bulk references (cell relaxation ``ISIF = 3`` or single point)."""

    relax: bool = True
    kpoint_spacing_per_A: float = 0.22
    ediffg_eV_per_A: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_common(self.kpoint_spacing_per_A, "off")

    @property
    def incar_updates(self) -> dict[str, Any]:
        """INCAR for a bulk job."""
        updates: dict[str, Any] = {**COMMON_INCAR}
        if self.relax:
            updates |= {
                "NSW": 200,
                "IBRION": 2,
                "ISIF": 3,
                "EDIFFG": -abs(self.ediffg_eV_per_A),
                "LCHARG": False,
            }
        else:
            updates |= {"NSW": 0, "IBRION": -1, "ISIF": 2, "LCHARG": True}
        return updates

    @property
    def kpoints_updates(self) -> Kpoints:
        """Γ-centred mesh from the spacing along all three axes."""
        if self.structure is None:
            raise ValueError("no structure set on the input set")
        return gamma_mesh(self.structure, self.kpoint_spacing_per_A, slab=False)


def vasp_bulk_relax_maker(kpoint_spacing_per_A: float = 0.22) -> RelaxMaker:
    """atomate2 ``RelaxMaker`` for bulk references (``ISIF = 3``)."""
    return RelaxMaker(
        name="vasp bulk relax",
        input_set_generator=BulkSetGenerator(kpoint_spacing_per_A=kpoint_spacing_per_A),
    )


def vasp_bulk_static_maker(kpoint_spacing_per_A: float = 0.22) -> StaticMaker:
    """atomate2 ``StaticMaker`` for bulk reference energies (k-points along all three axes,
    no relaxation: the energy of the structure given, e.g. an already relaxed bulk)."""
    return StaticMaker(
        name="vasp bulk static",
        input_set_generator=BulkSetGenerator(
            relax=False, kpoint_spacing_per_A=kpoint_spacing_per_A
        ),
    )


def vasp_slab_relax_maker(
    kpoint_spacing_per_A: float = 0.22, dipole_correction: str = "auto"
) -> RelaxMaker:
    """atomate2 ``RelaxMaker`` for slabs/interfaces (``ISIF = 2``, selective dynamics kept)."""
    return RelaxMaker(
        name="vasp slab relax",
        input_set_generator=SlabSetGenerator(
            relax=True,
            kpoint_spacing_per_A=kpoint_spacing_per_A,
            dipole_correction=dipole_correction,
        ),
    )


def vasp_static_maker(
    kpoint_spacing_per_A: float = 0.22, dipole_correction: str = "auto"
) -> StaticMaker:
    """atomate2 ``StaticMaker`` for single points of slabs/interfaces (and screening)."""
    return StaticMaker(
        name="vasp slab static",
        input_set_generator=SlabSetGenerator(
            relax=False,
            kpoint_spacing_per_A=kpoint_spacing_per_A,
            dipole_correction=dipole_correction,
        ),
    )


def vasp_surface_energy_maker(
    kpoint_spacing_per_A: float = 0.22, dipole_correction: str = "auto", vacuum_A: float = 15.0
):
    """ssbflow's `SurfaceEnergyMaker` with VASP: slab relaxations (ISIF 2, 1 k along c)
    and bulk reference energies from VASP single points with bulk k-points.

    γ = (E_slab − Σ N_i μ_i)/2A needs a bulk energy at the same level of theory as the
    slabs: the same INCAR (PBE, ENCUT, smearing) and the same k-point spacing, but with
    k-points along all three axes (a slab set on a bulk cell would put one k-point along
    c). ``static_maker`` is that bulk single point (`vasp_bulk_static_maker`), run on the
    bulk given to ``make`` (relaxed beforehand, e.g. by ``vasp_bulk_relax_maker``) and on
    the metal bulk for μ_M.
    """
    from ssbflow.workflows.surface import SurfaceEnergyMaker

    return SurfaceEnergyMaker(
        vacuum_A=vacuum_A,
        relax_maker=vasp_slab_relax_maker(kpoint_spacing_per_A, dipole_correction),
        static_maker=vasp_bulk_static_maker(kpoint_spacing_per_A),
    )


def vasp_adhesion_makers(
    kpoint_spacing_per_A: float = 0.22, dipole_correction: str = "auto"
) -> dict[str, Any]:
    """Makers for ``AdhesionMaker(**vasp_adhesion_makers())``.

    Returns
    -------
    dict
        ``bulk_relax_maker`` (ISIF 3), ``relax_maker`` (ISIF 2, dipole correction, 1 k
        along the normal, for slab references and interfaces), ``static_maker`` (single
        points for screening) and ``surface_energy_maker`` (slab series with VASP, bulk
        references from bulk single points).
    """
    return {
        "bulk_relax_maker": vasp_bulk_relax_maker(kpoint_spacing_per_A),
        "relax_maker": vasp_slab_relax_maker(kpoint_spacing_per_A, dipole_correction),
        "static_maker": vasp_static_maker(kpoint_spacing_per_A, dipole_correction),
        "surface_energy_maker": vasp_surface_energy_maker(kpoint_spacing_per_A, dipole_correction),
    }


def vasp_phonon_maker(
    kpoint_spacing_per_A: float = 0.22, min_length_A: float = 15.0, born: bool = False
):
    """atomate2's VASP ``PhononMaker`` with ssbflow's PBE bulk settings.

    Parameters
    ----------
    kpoint_spacing_per_A
        k-point spacing of the bulk relaxation and static (Å⁻¹); atomate2 sets the
        supercell k-points of the displacement runs.
    min_length_A
        Minimum supercell length (Å) for the finite displacements.
    born
        Compute Born charges and the dielectric tensor (polar insulators; not for metals).

    Returns
    -------
    atomate2.vasp.flows.phonons.PhononMaker
    """
    from atomate2.vasp.flows.core import DoubleRelaxMaker
    from atomate2.vasp.flows.phonons import PhononMaker
    from atomate2.vasp.jobs.core import DielectricMaker
    from atomate2.vasp.jobs.phonons import PhononDisplacementMaker
    from atomate2.vasp.powerups import update_user_incar_settings

    if not (math.isfinite(min_length_A) and 5.0 <= min_length_A <= 60.0):
        raise InputError(
            f"min_length_A={min_length_A} is impossible; use 5-60 Å, e.g. 15",
            field="min_length_A",
        )
    tight = RelaxMaker(
        name="vasp bulk tight relax",
        input_set_generator=BulkSetGenerator(
            kpoint_spacing_per_A=kpoint_spacing_per_A, ediffg_eV_per_A=0.001
        ),
    )
    maker = PhononMaker(
        min_length=min_length_A,
        bulk_relax_maker=DoubleRelaxMaker.from_relax_maker(tight),
        static_energy_maker=vasp_bulk_static_maker(kpoint_spacing_per_A),
        born_maker=DielectricMaker() if born else None,
        phonon_displacement_maker=PhononDisplacementMaker(),
    )
    # PBE and spin-paired everywhere, as in the slab/bulk sets (atomate2's defaults are
    # PBEsol and spin-polarised).
    return update_user_incar_settings(
        maker, {"GGA": "PE", "ISPIN": 1, "LDAU": False, "METAGGA": None}
    )


__all__ = [
    "COMMON_INCAR",
    "BulkSetGenerator",
    "SlabSetGenerator",
    "gamma_mesh",
    "vasp_adhesion_makers",
    "vasp_bulk_relax_maker",
    "vasp_bulk_static_maker",
    "vasp_phonon_maker",
    "vasp_slab_relax_maker",
    "vasp_static_maker",
    "vasp_surface_energy_maker",
]
