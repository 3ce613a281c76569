"""Harmonic phonons through any named calculator, summarised as Debye temperatures.

The flow reuses atomate2's phonon jobs (`atomate2.common.jobs.phonons`: supercell size,
phonopy displacements, one single-point job per symmetry-distinct displacement) with
ssbflow's calculator makers plugged in, and ends with one ssbflow job that does the
phonopy work once::

    standard primitive cell -> relax (CalcRelaxMaker) -> supercell size
      -> phonopy displacements
      -> one single-point job per symmetry-distinct displacement (runtime fan-out)
      -> summarize_phonons: force constants, DOS on a q-mesh, band structure, Debye
         temperatures, mobile-ion band centre, imaginary modes, heat capacity and entropy
         at 300 K, diffusion comparison -> PhononDocument (result_type "phonons")

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
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, JobConfig, Maker, OnMissing, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from ssbflow.analysis.phonons import (
    band_center_from_modes_THz,
    debye_frequency_acoustic_THz,
    debye_frequency_moment_THz,
    debye_temperature_K,
    imaginary_modes,
    smeared_dos,
    species_projections,
)
from ssbflow.calculators import check_calculator
from ssbflow.errors import InputError
from ssbflow.schemas import Provenance, ResultDocument
from ssbflow.workflows.calc import CalcRelaxMaker, CalcStaticMaker

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
            f"supercell minimum length must be a positive number of Å, got {min_length_A}; "
            "use e.g. --supercell-min-length 10"
        )
    # the supercell contains a cube of side min_length, so its volume is at least L^3
    lower_bound = math.ceil(len(structure) * min_length_A**3 / structure.volume)
    hint = (
        f"the supercell for a minimum length of {min_length_A:g} Å would have at least "
        f"{{n}} atoms, above the limit of {max_atoms}; lower --supercell-min-length"
    )
    if lower_bound > max_atoms:
        raise InputError(hint.format(n=lower_bound))
    try:
        matrix = get_supercell_matrix(
            structure,
            min_length=min_length_A,
            max_length=None,
            prefer_90_degrees=True,
            max_atoms=max_atoms,
        )
    except AttributeError as exc:  # pymatgen's CubicSupercellTransformation gives up
        raise InputError(f"{hint.format(n=f'more than {lower_bound}')} ({exc})") from exc
    n_atoms = round(abs(np.linalg.det(np.array(matrix, dtype=float)))) * len(structure)
    if n_atoms > max_atoms:
        raise InputError(hint.format(n=n_atoms))
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
        raise InputError(f"--mesh needs three integers, e.g. --mesh 20 20 20; got {mesh}")
    if not all(0 < v <= MAX_MESH for v in values):
        raise InputError(f"--mesh values must be between 1 and {MAX_MESH}; got {mesh}")
    return [int(v) for v in values]


@dataclass
class PhononFlowMaker(Maker):
    """Phonons → Debye temperatures, mobile-ion band centre, thermal properties.

    Composes atomate2's phonon jobs (primitive cell, supercell size, displacements,
    per-displacement fan-out) with ssbflow's calculator makers, so any named calculator
    works; the calculator is the one of ``phonon_displacement_maker``. The calculation
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
                    f"use {self.calculator_name}; phonons need one calculator throughout"
                )
        if not (math.isfinite(self.displacement_A) and 0 < self.displacement_A <= 0.1):
            raise InputError(
                f"displacement_A must be in (0, 0.1] Å, got {self.displacement_A}; use 0.01"
            )
        if not 0 < self.acoustic_fit_fraction < 1:
            raise InputError(
                f"acoustic_fit_fraction must be in (0, 1), got {self.acoustic_fit_fraction}"
            )
        if self.band_structure and self.band_points_per_segment < 2:
            raise InputError(
                f"band_points_per_segment must be at least 2, got {self.band_points_per_segment}"
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
                    f"choose among {', '.join(elements)}"
                )

        from atomate2 import SETTINGS
        from atomate2.common.jobs.phonons import (
            generate_phonon_displacements,
            get_supercell_size,
            run_phonon_displacements,
        )
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
            sym_reduce=True,
            symprec=symprec,
            use_symmetrized_structure="primitive",
            kpath_scheme="seekpath",
            code="ase",
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
    """The newest stored diffusion result (``output`` dict plus ``uuid``) or None."""
    docs = list(
        store.query(
            criteria={
                "output.result_type": "diffusion",
                "output.formula": formula,
                "output.calculator": calculator,
            },
            properties=["uuid", "completed_at", "output"],
            sort={"completed_at": -1},
            load=False,
        )
    )
    docs = [d for d in docs if d["output"].get("status", "successful") == "successful"]
    if not docs:
        return None
    return {"uuid": docs[0]["uuid"], **docs[0]["output"]}


def _blas_threads(n: int) -> AbstractContextManager:
    """Limit BLAS threads inside the block (no-op without threadpoolctl).

    phonopy diagonalises thousands of small dynamical matrices; threaded BLAS on such
    matrices only adds synchronisation, which on a busy machine costs more than the work.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _one_blas_thread(func: Callable) -> Callable:
    """Run ``func`` with BLAS limited to one thread (see `_blas_threads`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _blas_threads(1):
            return func(*args, **kwargs)

    return wrapper


def displacement_dataset(
    supercell_frac: np.ndarray,
    lattice_A: np.ndarray,
    displaced_frac: list[np.ndarray],
    forces_eV_per_A: list[Any],
    displacement_A: float,
) -> dict[str, Any]:
    """phonopy's type-1 displacement dataset from the displaced supercells that were computed.

    Each displaced supercell must differ from the ideal one by exactly one atom moved by
    ``displacement_A``; the displacement vector is read from the positions (minimum
    image), so the force constants use exactly the displacements whose forces were
    computed, without generating them a second time.

    Parameters
    ----------
    supercell_frac
        Shape ``(n, 3)``: fractional coordinates of the ideal supercell.
    lattice_A
        Shape ``(3, 3)``: supercell lattice vectors as rows, Å.
    displaced_frac
        ``n_disp`` arrays of shape ``(n, 3)``: fractional coordinates of the displaced
        supercells, same atom order.
    forces_eV_per_A
        ``n_disp`` arrays of shape ``(n, 3)``: forces, eV/Å.
    displacement_A
        Expected displacement amplitude, Å.

    Returns
    -------
    dict
        ``{"natom": n, "first_atoms": [{"number", "displacement", "forces"}, ...]}``.

    Raises
    ------
    ValueError
        When the counts or shapes disagree, or a supercell is not a single-atom
        displacement of ``displacement_A``.
    """
    n_atoms = len(supercell_frac)
    if len(displaced_frac) != len(forces_eV_per_A) or not displaced_frac:
        raise ValueError(
            f"{len(displaced_frac)} displaced supercells but {len(forces_eV_per_A)} force sets"
        )
    first_atoms = []
    for index, (frac, forces) in enumerate(zip(displaced_frac, forces_eV_per_A, strict=True)):
        frac = np.asarray(frac, dtype=float)
        forces = np.asarray(forces, dtype=float)
        if frac.shape != (n_atoms, 3) or forces.shape != (n_atoms, 3):
            raise ValueError(
                f"displaced supercell {index + 1} has shape {frac.shape} and forces "
                f"{forces.shape}; expected ({n_atoms}, 3) for both"
            )
        delta = frac - supercell_frac
        delta -= np.rint(delta)
        cart = delta @ lattice_A
        norms = np.linalg.norm(cart, axis=1)
        moved = int(np.argmax(norms))
        others = np.delete(norms, moved)
        if abs(norms[moved] - displacement_A) > 1e-6 or (others.size and others.max() > 1e-8):
            raise ValueError(
                f"displaced supercell {index + 1} is not one atom moved by {displacement_A} Å "
                f"(largest move {norms[moved]:.3g} Å, next {others.max(initial=0.0):.3g} Å)"
            )
        first_atoms.append({"number": moved, "displacement": cart[moved], "forces": forces})
    return {"natom": n_atoms, "first_atoms": first_atoms}


def _band_data(phonon: Any, points_per_segment: int) -> PhononBandData:
    phonon.auto_band_structure(npoints=points_per_segment)
    bands = phonon.band_structure
    return PhononBandData(
        distances=[np.asarray(d).tolist() for d in bands.distances],
        frequencies_THz=[np.asarray(f).tolist() for f in bands.frequencies],
        qpoints=[np.asarray(q).tolist() for q in bands.qpoints],
        labels=[str(label) for label in (bands.labels or [])],
        path_connections=[bool(c) for c in bands.path_connections],
    )


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

    The job runs even when the relaxation or a displacement job failed (its inputs are
    then ``None``), and any error of the phonon analysis itself (a molecule in a box, a
    DOS with no weight) gives a document with ``status="failed"`` and the reason: a
    phonon study always stores its summary. ``formula`` labels that failed document when
    no structure arrived.
    """
    label = formula or (
        Structure.from_dict(structure).composition.reduced_formula
        if isinstance(structure, dict)
        else structure.composition.reduced_formula
        if structure is not None
        else "unknown"
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
        return _failed_phonon_document(
            reason,
            label,
            structure,
            calculator,
            calculator_kwargs,
            settings,
            upstream_uuids,
            mobile_species,
            strict,
        )
    try:
        return _summarize_phonons(
            structure,
            supercell_matrix,
            displaced_structures,
            forces_eV_per_A,
            displacement_uuids or [],
            upstream_uuids,
            displacement_A,
            symprec,
            calculator,
            calculator_kwargs,
            mesh,
            mesh_length_A,
            mobile_species,
            strict,
            imaginary_tolerance_THz,
            acoustic_fit_fraction,
            compare_diffusion,
            band_points_per_segment,
            symmetrize_force_constants,
            settings,
        )
    except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError) as exc:
        reason = " ".join(f"phonon analysis failed: {type(exc).__name__}: {exc}".split())
        if "no weight at positive frequencies" in str(exc):
            reason += (
                " (no real vibrational modes: a molecule or isolated atoms in a box has no "
                "phonon band structure; give a bulk crystal)"
            )
        return _failed_phonon_document(
            reason,
            label,
            structure,
            calculator,
            calculator_kwargs,
            settings,
            [*upstream_uuids, *(displacement_uuids or [])],
            mobile_species,
            strict,
        )


def _failed_phonon_document(
    reason: str,
    formula: str,
    structure: Any,
    calculator: str,
    calculator_kwargs: dict[str, Any],
    settings: dict[str, Any],
    upstream_uuids: list[str],
    mobile_species: list[str],
    strict: bool,
) -> PhononDocument:
    """A `PhononDocument` with ``status="failed"``, the reason and no numbers."""
    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    return PhononDocument(
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


def _summarize_phonons(
    structure: Structure,
    supercell_matrix: list[list[float]],
    displaced_structures: list[Structure],
    forces_eV_per_A: list[Any],
    displacement_uuids: list[str],
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
) -> PhononDocument:
    """Force constants, DOS, band structure and summary numbers → `PhononDocument`.

    One phonopy object is built (one symmetry search); the q-mesh is run once with
    eigenvectors and reused for the imaginary modes, projections, total DOS (tetrahedron
    method) and thermal properties. ``band_points_per_segment=0`` skips the band structure.
    """
    from jobflow import CURRENT_JOB
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    if isinstance(structure, dict):
        structure = Structure.from_dict(structure)
    displaced = [Structure.from_dict(d) if isinstance(d, dict) else d for d in displaced_structures]
    primitive_matrix = np.eye(3)  # the flow starts from the standard primitive cell
    phonon = Phonopy(
        get_phonopy_structure(structure),
        supercell_matrix=np.rint(np.array(supercell_matrix)).astype(int),
        primitive_matrix=primitive_matrix,
        symprec=symprec,
    )
    phonon.dataset = displacement_dataset(
        np.asarray(phonon.supercell.scaled_positions),
        np.asarray(phonon.supercell.cell),
        [s.frac_coords for s in displaced],
        forces_eV_per_A,
        displacement_A,
    )
    phonon.produce_force_constants(calculate_full_force_constants=False, show_drift=False)
    if symmetrize_force_constants:
        phonon.symmetrize_force_constants()
    # symmetry-reduced Γ-centred mesh: per-species projections are symmetry invariant
    phonon.run_mesh(
        mesh if mesh is not None else mesh_length_A,
        is_gamma_center=True,
        is_mesh_symmetry=True,
        with_eigenvectors=True,
    )
    frequencies = np.asarray(phonon.mesh.frequencies)  # (n_q, n_bands), THz
    qpoints = np.asarray(phonon.mesh.qpoints)
    weights = np.asarray(phonon.mesh.weights)
    used_mesh = [int(v) for v in phonon.mesh.mesh_numbers]
    imag = imaginary_modes(frequencies, qpoints, imaginary_tolerance_THz, weights=weights)

    phonon.run_total_dos()  # tetrahedron method
    nu = np.asarray(phonon.total_dos.frequency_points)
    total = np.asarray(phonon.total_dos.dos)
    symbols = list(phonon.primitive.symbols)
    projections = species_projections(np.asarray(phonon.mesh.eigenvectors), symbols)
    sigma = 3.0 * float(nu[1] - nu[0])
    projected = {
        s: smeared_dos(frequencies, weights, nu, sigma, projection=p)
        for s, p in projections.items()
    }
    phonon.run_thermal_properties(temperatures=[300.0], exclude_gamma_acoustic=True)
    formula_units_per_cell = len(symbols) / structure.composition.reduced_composition.num_atoms

    formula = structure.composition.reduced_formula
    band_data = _band_data(phonon, band_points_per_segment) if band_points_per_segment else None
    force_constants_data = PhononForceConstantsData(
        force_constants_eV_per_A2=np.asarray(phonon.force_constants).tolist(),
        supercell_matrix=np.asarray(phonon.supercell_matrix).astype(int).tolist(),
        primitive_matrix=primitive_matrix.tolist(),
        displacement_A=displacement_A,
        symprec=symprec,
    )
    warnings: list[str] = []
    if imag.unstable:
        warnings.append(
            f"{imag.describe()}; Debye temperatures and thermal properties ignore the "
            "imaginary modes and are not reliable for this structure"
        )
    common: dict[str, Any] = {
        "system": formula,
        "formula": formula,
        "calculator": calculator,
        "provenance": Provenance.from_calculator(
            calculator,
            calculator_kwargs,
            settings=settings,
            upstream_uuids=[*upstream_uuids, *displacement_uuids],
        ),
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
        "mesh": used_mesh,
        "supercell_matrix": np.rint(np.array(supercell_matrix)).astype(int).tolist(),
        "n_atoms_supercell": len(phonon.supercell),
        "n_displacements": len(displacement_uuids) or None,
        "band_data": band_data,
        "force_constants_data": force_constants_data,
        "warnings": warnings,
    }
    if strict and imag.unstable:
        return PhononDocument(
            status="failed",
            failure_reason=f"{imag.describe()} (strict mode)",
            **common,
        )

    fit_max = acoustic_fit_fraction * float(frequencies.max())
    nu_moment = debye_frequency_moment_THz(nu, total)
    nu_acoustic = debye_frequency_acoustic_THz(nu, total, fit_max)
    band_center = None
    if mobile_species:
        band_center = band_center_from_modes_THz(
            frequencies, weights, sum(projections[s] for s in mobile_species)
        )
    thermal = phonon.thermal_properties
    comparison = None
    if compare_diffusion and CURRENT_JOB.store is not None:
        found = find_diffusion_result(CURRENT_JOB.store, formula, calculator)
        if found is not None:
            attempt = found.get("attempt_frequency_THz")
            comparison = DiffusionComparison(
                diffusion_uuid=found["uuid"],
                attempt_frequency_THz=attempt,
                activation_energy_eV=found.get("activation_energy_eV"),
                debye_frequency_THz=nu_moment,
                mobile_ion_band_center_THz=band_center,
                attempt_over_debye=attempt / nu_moment if attempt is not None else None,
            )
    return PhononDocument(
        debye_temperature_K=debye_temperature_K(nu_moment),
        debye_temperature_acoustic_K=debye_temperature_K(nu_acoustic),
        debye_frequency_THz=nu_moment,
        debye_frequency_acoustic_THz=nu_acoustic,
        acoustic_fit_max_THz=fit_max,
        mobile_ion_band_center_THz=band_center,
        heat_capacity_300K_J_per_K_mol=float(thermal.heat_capacity[0]) / formula_units_per_cell,
        entropy_300K_J_per_K_mol=float(thermal.entropy[0]) / formula_units_per_cell,
        diffusion_comparison=comparison,
        dos_data=PhononDosData(
            frequencies_THz=nu.tolist(),
            total_dos=total.tolist(),
            projected_dos={s: v.tolist() for s, v in projected.items()},
            projected_sigma_THz=sigma,
            n_atoms_primitive=len(symbols),
        ),
        **common,
    )
