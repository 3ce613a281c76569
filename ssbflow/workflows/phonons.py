"""Harmonic phonons through any named calculator, summarised as Debye temperatures.

The flow reuses atomate2's phonon jobs (`atomate2.common.jobs.phonons`: supercell size,
one single-point job per symmetry-distinct displacement) with ssbflow's calculator makers
plugged in; phonopy is called only through `ssbflow.analysis.phonopy_adapter`::

    standard primitive cell -> relax (CalcRelaxMaker) -> supercell size
      -> generate_phonon_displacements (phonopy's displacements, spglib symmetry only)
      -> one single-point job per symmetry-distinct displacement (runtime fan-out)
      -> summarize_phonons: force constants, DOS on a q-mesh, band structure, Debye
         temperatures, mobile-ion band centre, imaginary modes, heat capacity and entropy
         at 300 K, diffusion comparison -> PhononDocument (result_type "phonons")

phonopy's symmetry set-up of the supercell (the atomic permutations of every space-group
operation, about 1 s for a 324-atom Li2O supercell) runs once per flow, in the summary:
choosing the displacements needs only spglib's dataset (see the adapter's docstring).

atomate2's own last job (``generate_frequencies_eigenvectors``) is not used: it repeats the
phonopy symmetry search, writes and re-parses band-structure and DOS YAML files, draws PDF
plots and stores the full supercell force constants as nested lists, which together cost
more than the force evaluations of a small cell. `summarize_phonons` builds one phonopy
object, computes compact force constants, runs the q-mesh once (eigenvectors reused for
the projections, the imaginary-mode search, the DOS and the thermal properties) and keeps
every array in the JobStore ``data`` store (fields ``dos_data``, ``band_data``,
``force_constants_data``), so the summary document stays lean.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from jobflow import CURRENT_JOB, Flow, JobConfig, Maker, OnMissing, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis import phonons as phonon_analysis
from ssbflow.analysis.phonons import (
    debye_summary,
    imaginary_modes,
    per_formula_unit,
    projected_dos_by_species,
)
from ssbflow.analysis.phonopy_adapter import (
    HarmonicPhonons,
    generate_displacements,
    harmonic_phonons,
)
from ssbflow.calculators import check_calculator
from ssbflow.calculators.threads import blas_threads
from ssbflow.errors import InputError
from ssbflow.execution import queries
from ssbflow.schemas import Provenance, ResultDocument
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker
from ssbflow.workflows.common import CalculatorMixin

#: Species treated as mobile ions when none are named.
DEFAULT_MOBILE_SPECIES: tuple[str, ...] = ("Li", "Na", "K")

#: Largest mesh subdivision accepted per direction.
MAX_MESH = 200

DEFINITIONS = {
    "debye_temperature_K": (
        "moment definition: theta_D = h nu_D / k_B with nu_D = sqrt(5/3 <nu^2>), "
        "<nu^2> the second moment of the total phonon DOS (nu >= 0)"
    ),
    "debye_temperature_acoustic_K": (
        "low-frequency fit: g(nu) = 9 N nu^2 / nu_D^3 fitted to the total DOS (3N modes per "
        "cell) for 0 < nu <= acoustic_fit_max_THz"
    ),
    "mobile_ion_band_center_THz": (
        "mean frequency int nu g_m dnu / int g_m dnu of the DOS projected on the mobile "
        "species (nu >= 0), evaluated exactly as a sum over the modes of the q-mesh"
    ),
    "thermal": "heat capacity and entropy per mole of formula units (reduced formula), phonopy",
}


class PhononDosData(BaseModel):
    """DOS arrays of a phonon summary (stored in the JobStore ``data`` store)."""

    frequencies_THz: list[float] = Field(..., description="Frequency grid, THz")
    total_dos: list[float] = Field(..., description="Total DOS, modes/THz per primitive cell")
    projected_dos: dict[str, list[float]] = Field(
        default_factory=dict,
        description="DOS projected on each species (Gaussian smearing), modes/THz per cell",
    )
    projected_sigma_THz: float | None = Field(None, description="Smearing of projected_dos")
    n_atoms_primitive: int = Field(..., description="Atoms per primitive cell (3N modes)")


class PhononBandData(BaseModel):
    """Band structure along phonopy's seekpath path (stored in the JobStore ``data`` store)."""

    distances: list[list[float]] = Field(..., description="Path length per segment, 1/Å")
    frequencies_THz: list[list[list[float]]] = Field(
        ..., description="Per segment: (n_points, n_bands) frequencies, THz"
    )
    qpoints: list[list[list[float]]] = Field(
        ..., description="Per segment: (n_points, 3) reduced q-points"
    )
    labels: list[str] = Field(default_factory=list, description="High-symmetry point labels")
    path_connections: list[bool] = Field(
        default_factory=list, description="Segment i connects to segment i + 1"
    )


class PhononForceConstantsData(BaseModel):
    """Compact force constants (stored in the JobStore ``data`` store).

    With the relaxed structure (``structures["relaxed"]``), ``supercell_matrix`` and
    ``primitive_matrix`` they rebuild the phonopy object:
    ``Phonopy(unitcell, supercell_matrix, primitive_matrix)`` then
    ``phonon.force_constants = np.array(force_constants_eV_per_A2)``.
    """

    force_constants_eV_per_A2: list[list[list[list[float]]]] = Field(
        ..., description="phonopy compact force constants, shape (n_primitive, n_super, 3, 3)"
    )
    supercell_matrix: list[list[int]]
    primitive_matrix: list[list[float]]
    displacement_A: float
    symprec: float


class DiffusionComparison(BaseModel):
    """A stored diffusion result of the same formula and calculator, beside the phonons."""

    diffusion_uuid: str
    attempt_frequency_THz: float | None = None
    activation_energy_eV: float | None = None
    debye_frequency_THz: float | None = None
    mobile_ion_band_center_THz: float | None = None
    attempt_over_debye: float | None = Field(
        None, description="attempt_frequency_THz / debye_frequency_THz"
    )


class PhononDocument(ResultDocument):
    """Summary of a harmonic phonon calculation (``result_type="phonons"``).

    All frequencies are ordinary frequencies ``nu`` in THz; definitions are in
    ``definitions`` and in `ssbflow.analysis.phonons`.
    """

    result_type: str = "phonons"
    debye_temperature_K: float | None = Field(None, description="Moment definition, K")
    debye_temperature_acoustic_K: float | None = Field(None, description="Low-frequency fit, K")
    debye_frequency_THz: float | None = Field(None, description="Moment definition, THz")
    debye_frequency_acoustic_THz: float | None = Field(None, description="Low-frequency fit")
    acoustic_fit_max_THz: float | None = Field(None, description="Fit window upper end, THz")
    mobile_species: list[str] = Field(default_factory=list)
    mobile_ion_band_center_THz: float | None = Field(
        None, description="Band centre of the mobile-species-projected DOS, THz"
    )
    heat_capacity_300K_J_per_K_mol: float | None = Field(
        None, description="C_v at 300 K per mole of formula units"
    )
    entropy_300K_J_per_K_mol: float | None = Field(
        None, description="Vibrational entropy at 300 K per mole of formula units"
    )
    n_imaginary_modes: int | None = Field(
        None, description="(q, band) pairs on the mesh with nu < -tol (None if failed)"
    )
    n_qpoints_with_imaginary: int = 0
    min_frequency_THz: float | None = Field(
        None, description="Lowest frequency on the mesh, THz (None if failed)"
    )
    min_frequency_qpoint: list[float] = Field(default_factory=list, description="Reduced coords")
    min_frequency_at_gamma: bool = False
    imaginary_tolerance_THz: float = 0.05
    dynamically_stable: bool | None = Field(True, description="None when failed")
    strict: bool = False
    mesh: list[int] = Field(default_factory=list, description="q-point mesh of the DOS")
    supercell_matrix: list[list[int]] = Field(default_factory=list)
    n_atoms_supercell: int | None = None
    n_displacements: int | None = Field(None, description="Displaced supercells computed")
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))
    diffusion_comparison: DiffusionComparison | None = None
    dos_data: PhononDosData | None = Field(None, description="DOS arrays (JobStore data store)")
    band_data: PhononBandData | None = Field(
        None, description="Band structure along a standard path (JobStore data store)"
    )
    force_constants_data: PhononForceConstantsData | None = Field(
        None, description="Compact force constants (JobStore data store)"
    )

    @classmethod
    def failed(
        cls,
        reason: str,
        formula: str,
        structure: Structure | dict | None,
        calculator: str,
        calculator_kwargs: dict[str, Any],
        settings: dict[str, Any],
        upstream_uuids: list[str],
        mobile_species: list[str],
        strict: bool,
    ) -> PhononDocument:
        """A document with ``status="failed"``, the reason and no numbers."""
        if isinstance(structure, dict):
            structure = Structure.from_dict(structure)
        return cls(
            status="failed",
            failure_reason=reason,
            system=formula,
            formula=formula,
            calculator=calculator,
            provenance=Provenance.from_calculator(
                calculator, calculator_kwargs, settings=settings, upstream_uuids=upstream_uuids
            ),
            structures={"relaxed": structure} if structure is not None else {},
            mobile_species=mobile_species,
            strict=strict,
            dynamically_stable=None,
        )

    @classmethod
    def from_harmonic_phonons(
        cls,
        phonons: HarmonicPhonons,
        structure: Structure,
        calculator: str,
        provenance: Provenance,
        mobile_species: list[str],
        strict: bool,
        imaginary_tolerance_THz: float,
        acoustic_fit_fraction: float,
        displacement_A: float,
        symprec: float,
        n_displacements: int | None,
        diffusion: dict[str, Any] | None = None,
    ) -> PhononDocument:
        """The summary of one phonon calculation (`ssbflow.analysis.phonopy_adapter`).

        Imaginary modes are counted on the q-mesh; a dynamically unstable structure gives
        a warning, or a failed document without Debye numbers when ``strict``.
        ``diffusion`` is a stored diffusion result (``output`` plus ``uuid``, see
        `ssbflow.execution.queries.find_diffusion_result`) to compare with.

        Raises
        ------
        ValueError
            A spectrum with no weight at positive frequencies (isolated atoms).
        """
        imag = imaginary_modes(
            phonons.frequencies_THz,
            phonons.qpoints,
            imaginary_tolerance_THz,
            weights=phonons.weights,
        )
        projections, projected, sigma = projected_dos_by_species(
            phonons.frequencies_THz,
            phonons.weights,
            phonons.eigenvectors,
            phonons.primitive_symbols,
            phonons.dos_frequencies_THz,
        )
        formula = structure.composition.reduced_formula
        supercell_matrix = phonons.supercell_matrix.tolist()
        bands = phonons.bands
        common: dict[str, Any] = {
            "system": formula,
            "formula": formula,
            "calculator": calculator,
            "provenance": provenance,
            "structures": {"relaxed": structure},
            "mobile_species": mobile_species,
            "n_imaginary_modes": imag.n_imaginary_modes,
            "n_qpoints_with_imaginary": imag.n_qpoints_with_imaginary,
            "min_frequency_THz": imag.min_frequency_THz,
            "min_frequency_qpoint": list(imag.min_qpoint),
            "min_frequency_at_gamma": imag.at_gamma,
            "imaginary_tolerance_THz": imaginary_tolerance_THz,
            "dynamically_stable": not imag.unstable,
            "strict": strict,
            "mesh": phonons.mesh,
            "supercell_matrix": supercell_matrix,
            "n_atoms_supercell": phonons.n_atoms_supercell,
            "n_displacements": n_displacements,
            "band_data": None
            if bands is None
            else PhononBandData(
                distances=[d.tolist() for d in bands.distances],
                frequencies_THz=[f.tolist() for f in bands.frequencies_THz],
                qpoints=[q.tolist() for q in bands.qpoints],
                labels=bands.labels,
                path_connections=bands.path_connections,
            ),
            "force_constants_data": PhononForceConstantsData(
                force_constants_eV_per_A2=phonons.force_constants_eV_per_A2.tolist(),
                supercell_matrix=supercell_matrix,
                primitive_matrix=np.eye(3).tolist(),
                displacement_A=displacement_A,
                symprec=symprec,
            ),
            "warnings": [
                f"{imag.describe()}; Debye temperatures and thermal properties ignore the "
                "imaginary modes and are not reliable for this structure"
            ]
            if imag.unstable
            else [],
        }
        if strict and imag.unstable:
            return cls(status="failed", failure_reason=f"{imag.describe()} (strict mode)", **common)

        debye = debye_summary(
            phonons.dos_frequencies_THz,
            phonons.total_dos,
            phonons.frequencies_THz,
            phonons.weights,
            projections,
            mobile_species,
            acoustic_fit_fraction,
        )
        n_atoms = len(phonons.primitive_symbols)
        n_atoms_fu = structure.composition.reduced_composition.num_atoms
        comparison = None
        if diffusion is not None:
            attempt = diffusion.get("attempt_frequency_THz")
            comparison = DiffusionComparison(
                diffusion_uuid=diffusion["uuid"],
                attempt_frequency_THz=attempt,
                activation_energy_eV=diffusion.get("activation_energy_eV"),
                debye_frequency_THz=debye.debye_frequency_THz,
                mobile_ion_band_center_THz=debye.mobile_ion_band_center_THz,
                attempt_over_debye=(
                    attempt / debye.debye_frequency_THz if attempt is not None else None
                ),
            )
        return cls(
            debye_temperature_K=debye.debye_temperature_K,
            debye_temperature_acoustic_K=debye.debye_temperature_acoustic_K,
            debye_frequency_THz=debye.debye_frequency_THz,
            debye_frequency_acoustic_THz=debye.debye_frequency_acoustic_THz,
            acoustic_fit_max_THz=debye.acoustic_fit_max_THz,
            mobile_ion_band_center_THz=debye.mobile_ion_band_center_THz,
            heat_capacity_300K_J_per_K_mol=per_formula_unit(
                phonons.heat_capacity_J_per_K_mol, n_atoms, n_atoms_fu
            ),
            entropy_300K_J_per_K_mol=per_formula_unit(
                phonons.entropy_J_per_K_mol, n_atoms, n_atoms_fu
            ),
            diffusion_comparison=comparison,
            dos_data=PhononDosData(
                frequencies_THz=phonons.dos_frequencies_THz.tolist(),
                total_dos=phonons.total_dos.tolist(),
                projected_dos={s: v.tolist() for s, v in projected.items()},
                projected_sigma_THz=sigma,
                n_atoms_primitive=n_atoms,
            ),
            **common,
        )


def default_mobile_species(structure: Structure) -> list[str]:
    """The alkali mobile ions (Li, Na, K) present in ``structure``."""
    present = {el.symbol for el in structure.composition.elements}
    return [s for s in DEFAULT_MOBILE_SPECIES if s in present]


def standard_primitive(structure: Structure) -> Structure:
    """The standard primitive cell atomate2 starts from (``use_symmetrized_structure``).

    Starting from it gives symmetric supercells, hence the fewest displacements.
    """
    from atomate2 import SETTINGS
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(
        structure, symprec=SETTINGS.PHONON_SYMPREC
    ).get_primitive_standard_structure()


def _check_supercell(structure: Structure, min_length_A: float, max_atoms: int) -> int:
    """Atoms in the supercell atomate2 will build (InputError when above ``max_atoms``)."""
    from atomate2.common.utils import get_supercell_matrix

    if not (math.isfinite(min_length_A) and min_length_A > 0):
        raise InputError(
            f"supercell_min_length_A must be a positive number of Å, got {min_length_A}; "
            "use e.g. 10",
            field="supercell_min_length_A",
        )
    # the supercell contains a cube of side min_length, so its volume is at least L^3
    lower_bound = math.ceil(len(structure) * min_length_A**3 / structure.volume)
    hint = (
        f"the supercell for a minimum length of {min_length_A:g} Å would have at least "
        f"{{n}} atoms, above the limit of {max_atoms}; lower supercell_min_length_A"
    )
    field = "supercell_min_length_A"
    if lower_bound > max_atoms:
        raise InputError(hint.format(n=lower_bound), field=field)
    try:
        matrix = get_supercell_matrix(
            structure,
            min_length=min_length_A,
            max_length=None,
            prefer_90_degrees=True,
            max_atoms=max_atoms,
        )
    except AttributeError as exc:  # pymatgen's CubicSupercellTransformation gives up
        raise InputError(
            f"{hint.format(n=f'more than {lower_bound}')} ({exc})", field=field
        ) from exc
    n_atoms = round(abs(np.linalg.det(np.array(matrix, dtype=float)))) * len(structure)
    if n_atoms > max_atoms:
        raise InputError(hint.format(n=n_atoms), field=field)
    return n_atoms


def relax_maker(
    calculator_name: str = "chgnet",
    calculator_kwargs: dict[str, Any] | None = None,
    fmax_eV_per_A: float = 1e-3,
) -> CalcRelaxMaker:
    """Tight relaxation of positions and cell before the displacements.

    The cell degrees of freedom use ASE's ``UnitCellFilter``: it reaches the same
    zero-force, zero-stress structure as atomate2's default ``FrechetCellFilter``, whose
    matrix exponential derivatives (nine ``expm_frechet`` calls per step) cost more than
    a force evaluation of a small cell on a busy machine.
    """
    from ase.filters import UnitCellFilter

    return CalcRelaxMaker(
        name="phonon relax",
        calculator_name=calculator_name,
        calculator_kwargs=dict(calculator_kwargs or {}),
        relax_kwargs={"fmax": fmax_eV_per_A, "cell_filter": UnitCellFilter},
    )


def displacement_maker(
    calculator_name: str = "chgnet", calculator_kwargs: dict[str, Any] | None = None
) -> CalcRelaxMaker:
    """Single point with forces: a fixed-cell relax maker with ``steps=1``.

    (``CalcStaticMaker`` records the energy only; atomate2's ``ForceFieldStaticMaker`` is
    the same construction: a relax maker limited to one step.)
    """
    return CalcRelaxMaker(
        name="phonon displacement",
        calculator_name=calculator_name,
        calculator_kwargs=dict(calculator_kwargs or {}),
        relax_cell=False,
        steps=1,
        relax_kwargs={},
    )


def _mesh_list(mesh: tuple[int, int, int] | None) -> list[int] | None:
    if mesh is None:
        return None
    values = list(mesh)
    if len(values) != 3 or not all(isinstance(v, int | np.integer) for v in values):
        raise InputError(f"mesh needs three integers, e.g. (20, 20, 20); got {mesh}", field="mesh")
    if not all(0 < v <= MAX_MESH for v in values):
        raise InputError(f"mesh values must be between 1 and {MAX_MESH}; got {mesh}", field="mesh")
    return [int(v) for v in values]


@dataclass
class PhononFlowMaker(CalculatorMixin, Maker):
    """Phonons → Debye temperatures, mobile-ion band centre, thermal properties.

    Composes atomate2's phonon jobs (primitive cell, supercell size, per-displacement
    fan-out) with ssbflow's calculator makers, so any named calculator works; the
    calculator is the one of ``phonon_displacement_maker`` (switch all of them with
    ``maker.with_calculator(name, kwargs)``). The calculation
    starts from the standard primitive cell of the structure (atomate2's
    ``use_symmetrized_structure="primitive"``), which gives symmetric supercells and
    the fewest displacements. The force constants and everything derived from them are
    computed by one job, `summarize_phonons`.

    Parameters
    ----------
    name
        Flow name.
    bulk_relax_maker
        Tight relaxation before the displacements (``None`` skips it).
    static_energy_maker
        Optional single point of the relaxed cell (``None`` skips it; not needed).
    phonon_displacement_maker
        Forces of each displaced supercell (a single point with forces, see
        `displacement_maker`).
    supercell_min_length_A
        Minimum side (inscribed cube) of the supercell, Å.
    supercell_max_atoms
        Largest supercell accepted; larger ones are rejected before anything runs.
    displacement_A
        Finite displacement amplitude, Å.
    mesh
        q-point mesh for DOS and thermal properties; ``None``: phonopy's automatic mesh
        of length ``mesh_length_A``.
    mesh_length_A
        Length used for the automatic mesh.
    mobile_species
        Mobile-ion species for the band centre; ``None``: Li, Na, K present.
    strict
        Return a failed document (no numbers) for dynamically unstable structures
        instead of a result with a warning.
    imaginary_tolerance_THz
        Frequencies above ``-imaginary_tolerance_THz`` count as real.
    acoustic_fit_fraction
        The low-frequency Debye fit uses ``0 < nu <= fraction * max frequency``.
    compare_diffusion
        Look up a stored diffusion result of the same formula and calculator.
    symmetrize_force_constants
        Impose translational invariance (acoustic sum rule) and index symmetry on the
        force constants (phonopy's ``symmetrize_force_constants``). Noisy forces (SCF
        tolerance, a net force drift) otherwise give spurious imaginary acoustic modes at
        Γ; for exact forces it changes nothing.
    band_structure
        Also compute the band structure along phonopy's seekpath path (``band_data``).
    band_points_per_segment
        q-points per band-structure segment, end points included.
    """

    name: str = "phonons"
    bulk_relax_maker: CalcRelaxMaker | None = field(default_factory=lambda: relax_maker())
    static_energy_maker: CalcStaticMaker | None = None
    phonon_displacement_maker: CalcRelaxMaker = field(default_factory=lambda: displacement_maker())
    supercell_min_length_A: float = 10.0
    supercell_max_atoms: int = 1000
    displacement_A: float = 0.01
    mesh: tuple[int, int, int] | None = None
    mesh_length_A: float = 60.0
    mobile_species: tuple[str, ...] | None = None
    strict: bool = False
    imaginary_tolerance_THz: float = 0.05
    acoustic_fit_fraction: float = 0.2
    compare_diffusion: bool = True
    symmetrize_force_constants: bool = True
    band_structure: bool = True
    band_points_per_segment: int = 51

    @classmethod
    def from_calculator(
        cls,
        calculator_name: str,
        calculator_kwargs: dict[str, Any] | None = None,
        relax: bool = True,
        relax_fmax_eV_per_A: float = 1e-3,
    ) -> PhononFlowMaker:
        """A maker whose relaxation and displacement jobs use one calculator."""
        kwargs = dict(calculator_kwargs or {})
        return cls(
            bulk_relax_maker=(
                relax_maker(calculator_name, kwargs, relax_fmax_eV_per_A) if relax else None
            ),
            phonon_displacement_maker=displacement_maker(calculator_name, kwargs),
        )

    @property
    def calculator_name(self) -> str:
        """Calculator of the displacement jobs."""
        return self.phonon_displacement_maker.calculator_name

    @property
    def calculator_kwargs(self) -> dict[str, Any]:
        """Calculator keyword arguments of the displacement jobs."""
        return dict(self.phonon_displacement_maker.calculator_kwargs)

    def make(self, structure: Structure) -> Flow:
        """Build the flow (computes nothing).

        Raises
        ------
        InputError
            Bad supercell length or too many supercell atoms, calculator without
            parameters for the elements, mixed calculators, unknown mobile species,
            bad mesh.
        """
        if not isinstance(structure, Structure) or len(structure) == 0:
            raise InputError("phonons need a periodic pymatgen Structure with at least one atom")
        if not structure.is_ordered:
            raise InputError("the structure is disordered; phonons need an ordered structure")
        from ssbflow.validation import check_min_distance

        check_min_distance(structure, "structure")
        elements = [el.symbol for el in structure.composition.elements]
        calculator = check_calculator(self.calculator_name, elements, self.calculator_kwargs)
        for sub in (self.bulk_relax_maker, self.static_energy_maker):
            if sub is not None and (
                sub.calculator_name != self.calculator_name
                or dict(sub.calculator_kwargs) != self.calculator_kwargs
            ):
                raise InputError(
                    f"'{sub.name}' uses calculator {sub.calculator_name} but the displacements "
                    f"use {self.calculator_name}; phonons need one calculator throughout",
                    field="calculator_name",
                )
        if not (math.isfinite(self.displacement_A) and 0 < self.displacement_A <= 0.1):
            raise InputError(
                f"displacement_A must be in (0, 0.1] Å, got {self.displacement_A}; use 0.01",
                field="displacement_A",
            )
        if not 0 < self.acoustic_fit_fraction < 1:
            raise InputError(
                f"acoustic_fit_fraction must be in (0, 1), got {self.acoustic_fit_fraction}",
                field="acoustic_fit_fraction",
            )
        if self.band_structure and self.band_points_per_segment < 2:
            raise InputError(
                f"band_points_per_segment must be at least 2, got {self.band_points_per_segment}",
                field="band_points_per_segment",
            )
        mesh = _mesh_list(self.mesh)
        n_atoms = _check_supercell(
            standard_primitive(structure), self.supercell_min_length_A, self.supercell_max_atoms
        )
        if self.mobile_species is None:
            mobile = default_mobile_species(structure)
        else:
            mobile = list(dict.fromkeys(self.mobile_species))
            missing = [s for s in mobile if s not in elements]
            if missing:
                raise InputError(
                    f"mobile species {', '.join(missing)} not in {structure.formula}; "
                    f"choose among {', '.join(elements)}",
                    field="mobile_species",
                )

        from atomate2 import SETTINGS
        from atomate2.common.jobs.phonons import get_supercell_size, run_phonon_displacements
        from atomate2.common.jobs.utils import structure_to_primitive

        symprec = SETTINGS.PHONON_SYMPREC
        primitive = structure_to_primitive(structure, symprec)
        jobs = [primitive]
        current = primitive.output
        relax_uuid = static_uuid = None
        if self.bulk_relax_maker is not None:
            relax = self.bulk_relax_maker.make(current)
            jobs.append(relax)
            current, relax_uuid = relax.output.structure, relax.output.uuid
        if self.static_energy_maker is not None:
            static = self.static_energy_maker.make(current)
            jobs.append(static)
            static_uuid = static.output.uuid
        # supercell size after the relaxation, so the relaxed cell meets the minimum length
        supercell = get_supercell_size(
            structure=current,
            min_length=self.supercell_min_length_A,
            max_length=None,
            prefer_90_degrees=True,
            allow_orthorhombic=False,
            max_atoms=self.supercell_max_atoms,
        )
        displacements = generate_phonon_displacements(
            structure=current,
            supercell_matrix=supercell.output,
            displacement=self.displacement_A,
            symprec=symprec,
        )
        forces = run_phonon_displacements(
            displacements=displacements.output,
            structure=current,
            supercell_matrix=supercell.output,
            phonon_maker=self.phonon_displacement_maker,
        )
        jobs += [supercell, displacements, forces]

        settings = {
            k: v
            for k, v in asdict(self).items()
            if k not in {"bulk_relax_maker", "static_energy_maker", "phonon_displacement_maker"}
        }
        settings["estimated_supercell_atoms"] = n_atoms
        settings["symprec"] = symprec
        summary = summarize_phonons(
            structure=current,
            supercell_matrix=supercell.output,
            displaced_structures=displacements.output,
            forces_eV_per_A=forces.output["forces"],
            displacement_uuids=forces.output["uuids"],
            upstream_uuids=[u for u in (relax_uuid, static_uuid) if u is not None],
            displacement_A=self.displacement_A,
            symprec=symprec,
            calculator=calculator,
            calculator_kwargs=self.calculator_kwargs,
            mesh=mesh,
            mesh_length_A=self.mesh_length_A,
            mobile_species=mobile,
            strict=self.strict,
            imaginary_tolerance_THz=self.imaginary_tolerance_THz,
            acoustic_fit_fraction=self.acoustic_fit_fraction,
            compare_diffusion=self.compare_diffusion,
            band_points_per_segment=self.band_points_per_segment if self.band_structure else 0,
            symmetrize_force_constants=self.symmetrize_force_constants,
            settings=settings,
            formula=structure.composition.reduced_formula,
        )
        summary.name = f"{self.name} summary"
        jobs.append(summary)
        return Flow(jobs, output=summary.output, name=self.name)


def find_diffusion_result(store: Any, formula: str, calculator: str) -> dict | None:
    """Deprecated alias of `ssbflow.execution.queries.find_diffusion_result`."""
    warnings.warn(
        "ssbflow.workflows.phonons.find_diffusion_result is deprecated; use "
        "ssbflow.execution.queries.find_diffusion_result",
        DeprecationWarning,
        stacklevel=2,
    )
    return queries.find_diffusion_result(store, formula, calculator)


def displacement_dataset(
    supercell_frac: np.ndarray,
    lattice_A: np.ndarray,
    displaced_frac: list[np.ndarray],
    forces_eV_per_A: list[Any],
    displacement_A: float,
) -> dict[str, Any]:
    """Deprecated alias of `ssbflow.analysis.phonons.displacement_dataset`."""
    warnings.warn(
        "ssbflow.workflows.phonons.displacement_dataset is deprecated; use "
        "ssbflow.analysis.phonons.displacement_dataset",
        DeprecationWarning,
        stacklevel=2,
    )
    return phonon_analysis.displacement_dataset(
        supercell_frac, lattice_A, displaced_frac, forces_eV_per_A, displacement_A
    )


def _one_blas_thread(func: Callable) -> Callable:
    """Run ``func`` with BLAS limited to one thread (`ssbflow.calculators.threads`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_threads(1):
            return func(*args, **kwargs)

    return wrapper


@job(data=[Structure])
def generate_phonon_displacements(
    structure: Structure, supercell_matrix: list[list[int]], displacement: float, symprec: float
) -> list[Structure]:
    """The symmetry-distinct displaced supercells (`phonopy_adapter.generate_displacements`).

    Same supercells, in the same order, as atomate2's job of the same name (phonopy's
    ``generate_displacements``), without building phonopy's full symmetry of the supercell,
    which the flow needs once only, in `summarize_phonons`.
    """
    return generate_displacements(structure, supercell_matrix, displacement, symprec)


@job(
    data=["dos_data", "band_data", "force_constants_data"],
    config=JobConfig(expose_store=True, on_missing_references=OnMissing.NONE),
)
@_one_blas_thread
def summarize_phonons(
    structure: Structure | None,
    supercell_matrix: list[list[float]] | None,
    displaced_structures: list[Structure] | None,
    forces_eV_per_A: list[Any] | None,
    displacement_uuids: list[str] | None,
    upstream_uuids: list[str],
    displacement_A: float,
    symprec: float,
    calculator: str,
    calculator_kwargs: dict[str, Any],
    mesh: list[int] | None,
    mesh_length_A: float,
    mobile_species: list[str],
    strict: bool,
    imaginary_tolerance_THz: float,
    acoustic_fit_fraction: float,
    compare_diffusion: bool,
    band_points_per_segment: int,
    symmetrize_force_constants: bool,
    settings: dict[str, Any],
    formula: str | None = None,
) -> PhononDocument:
    """Force constants, DOS, band structure and summary numbers → `PhononDocument`.

    phonopy runs once (`ssbflow.analysis.phonopy_adapter.harmonic_phonons`: the flow's
    one phonopy symmetry set-up); the numbers come from `ssbflow.analysis.phonons` and the
    document from `PhononDocument.from_harmonic_phonons`. The job runs even when the
    relaxation or a displacement job failed (its inputs are then ``None``), and any error
    of the phonon analysis itself (a molecule in a box, a DOS with no weight) gives a
    document with ``status="failed"`` and the reason: a phonon study always stores its
    summary. ``formula`` labels that failed document when no structure arrived.
    """
    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    label = formula or (
        structure.composition.reduced_formula if structure is not None else "unknown"
    )
    failed = functools.partial(
        PhononDocument.failed,
        formula=label,
        structure=structure,
        calculator=calculator,
        calculator_kwargs=calculator_kwargs,
        settings=settings,
        mobile_species=mobile_species,
        strict=strict,
    )
    missing = [
        name
        for name, value in (
            ("the relaxed structure", structure),
            ("the supercell", supercell_matrix),
            ("the displaced supercells", displaced_structures),
            ("the displacement forces", forces_eV_per_A),
        )
        if value is None
    ]
    if missing:
        reason = (
            f"an earlier job failed, so {', '.join(missing)} never arrived; see the error of "
            "the relaxation or displacement job ('ssbflow status' for FireWorks runs)"
        )
        return failed(reason, upstream_uuids=upstream_uuids)
    assert structure is not None and displaced_structures is not None
    uuids = [*upstream_uuids, *(displacement_uuids or [])]
    try:
        phonons = harmonic_phonons(
            structure,
            supercell_matrix,
            [_frac_coords(s) for s in displaced_structures],
            forces_eV_per_A,
            displacement_A,
            symprec,
            mesh if mesh is not None else mesh_length_A,
            symmetrize_force_constants=symmetrize_force_constants,
            band_points_per_segment=band_points_per_segment,
        )
        found = None
        if compare_diffusion and CURRENT_JOB.store is not None:
            found = queries.find_diffusion_result(
                CURRENT_JOB.store, structure.composition.reduced_formula, calculator
            )
        return PhononDocument.from_harmonic_phonons(
            phonons,
            structure=structure,
            calculator=calculator,
            provenance=Provenance.from_calculator(
                calculator, calculator_kwargs, settings=settings, upstream_uuids=uuids
            ),
            mobile_species=mobile_species,
            strict=strict,
            imaginary_tolerance_THz=imaginary_tolerance_THz,
            acoustic_fit_fraction=acoustic_fit_fraction,
            displacement_A=displacement_A,
            symprec=symprec,
            n_displacements=len(displacement_uuids or []) or None,
            diffusion=found,
        )
    except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError) as exc:
        reason = " ".join(f"phonon analysis failed: {type(exc).__name__}: {exc}".split())
        if "no weight at positive frequencies" in str(exc):
            reason += (
                " (no real vibrational modes: a molecule or isolated atoms in a box has no "
                "phonon band structure; give a bulk crystal)"
            )
        return failed(reason, upstream_uuids=uuids)


def _frac_coords(structure: Structure | dict) -> np.ndarray:
    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    return structure.frac_coords
