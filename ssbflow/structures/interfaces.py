"""Interface candidates: lattice matching, terminations, registries and fixed layers.

pymatgen's ZSL lattice matching and `CoherentInterfaceBuilder` do the geometry. This
module enumerates, for one pair of Miller planes, every combination of

- ZSL match (super-cell pair) within the strain, area and atom-count limits,
- termination pair (with ``label_index=True``, without which pymatgen merges distinct
  terminations that share a label),
- in-plane registry shift on a grid over the electrolyte's primitive surface cell,

and records strain, area, atom count and terminations for each. By default the metal is
the film and takes all the strain (alkali metals are soft); the electrolyte keeps its
bulk lattice and its planes farthest from the interface are fixed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.analysis.elasticity.strain import Deformation
from pymatgen.analysis.interfaces.coherent_interfaces import CoherentInterfaceBuilder
from pymatgen.analysis.interfaces.zsl import ZSLGenerator
from pymatgen.core import Structure
from pymatgen.core.interface import Interface
from pymatgen.core.surface import SlabGenerator

from ssbflow.errors import InputError
from ssbflow.structures.slabs import check_miller, face_signature


class CandidateInfo(BaseModel):
    """What identifies an interface candidate, without its structures (lean, for summaries)."""

    label: str = Field(..., description="Unique id: m<match>-t<termination pair>-r<registry>")
    metal_termination: str
    electrolyte_termination: str
    match_index: int
    registry_index: int
    in_plane_offset: tuple[float, float] = Field(..., description="Fractional, of the cell")
    strain_percent: float = Field(..., description="Largest in-plane principal strain, %")
    von_mises_strain: float
    area_A2: float = Field(..., description="Interface area, Å²")
    n_atoms: int
    n_fixed: int = Field(..., description="Number of fixed electrolyte atoms")
    gap_A: float = Field(..., description="Initial gap between the two slabs, Å")
    strained_side: Literal["metal", "electrolyte"]
    electrolyte_termination_chemistry: str = Field(
        "", description="Species of the electrolyte plane in contact, e.g. 'Li-terminated'"
    )
    electrolyte_contact_planes: list[list[tuple[str, float]]] = Field(
        default_factory=list,
        description="Electrolyte contact face, outermost plane first: (element, atoms/100 Å²)",
    )
    electrolyte_contact_spacings_A: list[float] = Field(
        default_factory=list, description="Depth of those planes below the contact plane, Å"
    )

    def contact_face(self):
        """The electrolyte's contact face as a `FaceSignature`."""
        from ssbflow.structures.slabs import FaceSignature

        return FaceSignature(
            planes=tuple(
                tuple((str(el), float(n)) for el, n in p) for p in self.electrolyte_contact_planes
            ),
            spacings_A=tuple(float(x) for x in self.electrolyte_contact_spacings_A),
        )


class InterfaceCandidate(CandidateInfo):
    """One interface structure with its two slab references in the same cell.

    ``interface`` carries the site properties ``interface_label`` ("film"/"substrate")
    and ``selective_dynamics`` (fixed electrolyte planes). ``metal_slab`` and
    ``electrolyte_slab`` are the two halves in the identical (strained) cell, with the
    same fixed atoms, which are the references for the work of adhesion.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    interface: Structure
    metal_slab: Structure
    electrolyte_slab: Structure

    def info(self) -> CandidateInfo:
        """The candidate without its structures."""
        return CandidateInfo(**{k: getattr(self, k) for k in CandidateInfo.model_fields})


def _in_plane_strain_percent(strain_tensor: np.ndarray) -> float:
    block = np.asarray(strain_tensor, dtype=float)[:2, :2]
    return float(100 * np.max(np.abs(np.linalg.eigvalsh(0.5 * (block + block.T)))))


def _plane_groups(z: np.ndarray, tol_A: float = 0.5) -> list[np.ndarray]:
    """Group indices into atomic planes by their z coordinate (sorted bottom to top)."""
    order = np.argsort(z)
    groups: list[list[int]] = [[int(order[0])]]
    for prev, cur in itertools.pairwise(order):
        if z[cur] - z[prev] > tol_A:
            groups.append([])
        groups[-1].append(int(cur))
    return [np.array(g) for g in groups]


def _fixed_mask(
    interface: Interface, electrolyte_is_substrate: bool, n_fixed_planes: int
) -> list[bool]:
    """True for electrolyte atoms in the n planes farthest from the interface."""
    label = "substrate" if electrolyte_is_substrate else "film"
    idx = np.array(
        [i for i, t in enumerate(interface.site_properties["interface_label"]) if label in t]
    )
    z = np.array([interface[i].coords[2] for i in idx])
    planes = _plane_groups(z)
    if not electrolyte_is_substrate:
        planes = planes[::-1]
    n_fixed_planes = min(n_fixed_planes, max(len(planes) - 1, 0))
    fixed = set()
    for group in planes[:n_fixed_planes]:
        fixed.update(int(idx[g]) for g in group)
    return [i in fixed for i in range(len(interface))]


def _registry_offsets(
    electrolyte: Structure, miller: tuple[int, int, int], interface: Interface, grid: int
) -> list[np.ndarray]:
    """In-plane shifts on a grid over the electrolyte's primitive surface cell (fractional)."""
    prim = SlabGenerator(
        electrolyte, miller, 1, 3, in_unit_planes=True, primitive=True, reorient_lattice=False
    ).get_slab()
    vectors = prim.lattice.matrix[:2]
    cell2d = interface.lattice.matrix[:2, :2]
    offsets = []
    for i in range(grid):
        for j in range(grid):
            cart = (i / grid) * vectors[0] + (j / grid) * vectors[1]
            frac = np.linalg.solve(cell2d.T, cart[:2])
            offsets.append(np.mod(frac, 1.0))
    return offsets


def _zsl(max_strain: float, max_area_A2: float) -> ZSLGenerator:
    return ZSLGenerator(
        max_area_ratio_tol=0.09,
        max_area=max_area_A2,
        max_length_tol=max_strain,
        max_angle_tol=max_strain,
        bidirectional=True,
    )


def _match_strain_percent(match) -> float:
    return _in_plane_strain_percent(Deformation(match.match_transformation).green_lagrange_strain)


def _describe_best(
    metal: Structure,
    electrolyte: Structure,
    metal_miller: tuple[int, int, int],
    electrolyte_miller: tuple[int, int, int],
    max_area_A2: float,
    max_strain: float,
) -> tuple[str, str | None]:
    """Say which limit to relax: the smallest area within the strain limit, else the
    smallest strain found, searching up to four times the area limit.

    Returns the hint and the parameter it names (``None`` when no match exists at all).
    """
    loose_area = max(4 * max_area_A2, 300.0)
    for tolerance in (max_strain, 0.3):
        builder = CoherentInterfaceBuilder(
            substrate_structure=electrolyte,
            film_structure=metal,
            film_miller=metal_miller,
            substrate_miller=electrolyte_miller,
            zslgen=_zsl(tolerance, loose_area),
            label_index=True,
        )
        found = [(_match_strain_percent(m), m.match_area) for m in builder.zsl_matches]
        within = [(a, s) for s, a in found if s <= 100 * max_strain + 1e-9]
        if within:
            area, strain = min(within)
            return (
                f"the smallest match within the strain limit has an area of {area:.0f} Å² "
                f"({strain:.1f} % strain); raise max_area_A2 to at least {np.ceil(area):.0f}",
                "max_area_A2",
            )
        if found and tolerance > max_strain:
            strain, area = min(found)
            return (
                f"the smallest strain found (area up to {loose_area:.0f} Å²) is {strain:.1f} % "
                f"at {area:.0f} Å²; raise max_strain to at least {strain / 100:.3f}",
                "max_strain",
            )
    return f"no lattice match was found even at 30 % strain and {loose_area:.0f} Å²", None


def build_interface_candidates(
    metal: Structure,
    electrolyte: Structure,
    metal_miller: Sequence[int] = (1, 0, 0),
    electrolyte_miller: Sequence[int] = (1, 0, 0),
    max_strain: float = 0.05,
    max_area_A2: float = 150.0,
    max_atoms: int = 250,
    metal_layers: int = 3,
    electrolyte_layers: int = 2,
    gap_A: float = 2.0,
    vacuum_A: float = 12.0,
    registry_grid: int = 2,
    n_fixed_planes: int = 2,
    max_matches: int = 2,
    strained_side: Literal["metal", "electrolyte"] = "metal",
    electrolyte_termination: str | None = None,
) -> list[InterfaceCandidate]:
    """Enumerate interface candidates of ``metal`` on ``electrolyte``.

    Parameters
    ----------
    metal, electrolyte
        Relaxed bulk structures.
    metal_miller, electrolyte_miller
        Miller indices of the two contact planes.
    max_strain
        Largest in-plane principal strain allowed on the strained side (fraction).
    max_area_A2
        Largest interface area searched, Å².
    max_atoms
        Largest interface (atoms) kept.
    metal_layers, electrolyte_layers
        Slab thicknesses in unit planes (d_hkl spacings) of each bulk.
    gap_A
        Initial vertical gap between the outermost planes, Å.
    vacuum_A
        Vacuum above the top slab, Å.
    registry_grid
        n: n×n in-plane shifts over the electrolyte's primitive surface cell.
    n_fixed_planes
        Electrolyte atomic planes (farthest from the interface) held fixed.
    max_matches
        Keep the ``max_matches`` smallest-area lattice matches within the limits.
    strained_side
        "metal" (default: the soft metal is the film and takes the strain) or
        "electrolyte".
    electrolyte_termination
        Keep only electrolyte terminations whose label contains this string.

    Returns
    -------
    list of InterfaceCandidate

    Raises
    ------
    InputError
        For bad limits, or when nothing matches: the message names the limit to relax and
        the smallest strain that was found.
    """
    metal_miller = check_miller(metal_miller, "metal Miller index", field="metal_miller")
    electrolyte_miller = check_miller(
        electrolyte_miller, "electrolyte Miller index", field="electrolyte_miller"
    )
    if not 0 < max_strain <= 0.3:
        raise InputError(
            f"max strain {max_strain} must be in (0, 0.3] (a fraction, 0.05 = 5 %)",
            field="max_strain",
        )
    if max_area_A2 <= 0 or max_atoms <= 0 or metal_layers < 1 or electrolyte_layers < 1:
        raise InputError("max area, max atoms and layer counts must be positive")
    if gap_A <= 0 or vacuum_A <= 0 or registry_grid < 1 or max_matches < 1:
        raise InputError("gap, vacuum, registry grid and max matches must be positive")
    if strained_side not in ("metal", "electrolyte"):
        raise InputError("strained_side must be 'metal' or 'electrolyte'")

    metal_is_film = strained_side == "metal"
    film, substrate = (metal, electrolyte) if metal_is_film else (electrolyte, metal)
    film_miller, sub_miller = (
        (metal_miller, electrolyte_miller) if metal_is_film else (electrolyte_miller, metal_miller)
    )
    film_layers, sub_layers = (
        (metal_layers, electrolyte_layers) if metal_is_film else (electrolyte_layers, metal_layers)
    )
    builder = CoherentInterfaceBuilder(
        substrate_structure=substrate,
        film_structure=film,
        film_miller=film_miller,
        substrate_miller=sub_miller,
        zslgen=_zsl(max_strain, max_area_A2),
        label_index=True,
    )
    strain_of = {id(m): _match_strain_percent(m) for m in builder.zsl_matches}
    all_matches = sorted(
        builder.zsl_matches, key=lambda m: (round(m.match_area, 3), strain_of[id(m)])
    )
    rejected_strain = [
        strain_of[id(m)] for m in all_matches if strain_of[id(m)] > 100 * max_strain + 1e-9
    ]
    # Build only the smallest matches within the strain limit: building every ZSL match
    # at full thickness is the slow part of pymatgen's builder.
    distinct: dict[tuple[float, float], object] = {}
    for m in all_matches:
        strain_pct = strain_of[id(m)]
        key = (round(m.match_area, 1), round(strain_pct, 2))
        if strain_pct <= 100 * max_strain + 1e-9 and key not in distinct:
            distinct[key] = m  # equal area and strain: a symmetry-equivalent orientation
    builder.zsl_matches = list(distinct.values())[: 4 * max_matches]
    terminations = list(builder.terminations)
    if electrolyte_termination is not None:
        pos = 1 if metal_is_film else 0
        terminations = [t for t in terminations if electrolyte_termination in t[pos]]
        if not terminations:
            raise InputError(
                f"no electrolyte termination matches '{electrolyte_termination}'; available: "
                + ", ".join(sorted({t[1 if metal_is_film else 0] for t in builder.terminations})),
                field="electrolyte_termination",
            )

    candidates: list[InterfaceCandidate] = []
    rejected_atoms: list[int] = []
    for t_index, termination in enumerate(terminations):
        if not builder.zsl_matches:
            break
        interfaces = list(
            builder.get_interfaces(
                termination,
                gap=gap_A,
                vacuum_over_film=vacuum_A,
                film_thickness=film_layers,
                substrate_thickness=sub_layers,
                in_layers=True,
            )
        )
        kept = []
        for itf in interfaces:
            strain_pct = _in_plane_strain_percent(itf.interface_properties["strain"])
            if len(itf) > max_atoms:
                rejected_atoms.append(len(itf))
                continue
            kept.append((itf.lattice.volume / itf.lattice.c, strain_pct, itf))
        kept.sort(key=lambda item: (round(item[0], 3), item[1]))
        for m_index, (area, strain_pct, itf) in enumerate(kept[:max_matches]):
            offsets = _registry_offsets(
                electrolyte if metal_is_film else metal, sub_miller, itf, registry_grid
            )
            base = np.array(itf.in_plane_offset)
            for r_index, offset in enumerate(offsets):
                shifted = itf.copy()
                shifted.in_plane_offset = base + offset
                fixed = _fixed_mask(shifted, metal_is_film, n_fixed_planes)
                labels = shifted.site_properties["interface_label"]
                # only the two site properties the flows use: pymatgen's slab bookkeeping
                # (bulk_wyckoff, bulk_equivalent) would be serialised with every job
                structure = Structure(
                    shifted.lattice,
                    shifted.species,
                    shifted.frac_coords,
                    site_properties={
                        "interface_label": labels,
                        "selective_dynamics": [[not f] * 3 for f in fixed],
                    },
                )
                metal_key = "film" if metal_is_film else "substrate"
                metal_idx = [i for i, t in enumerate(labels) if metal_key in t]
                elec_idx = [i for i, t in enumerate(labels) if metal_key not in t]
                metal_slab = Structure.from_sites([structure[i] for i in metal_idx])
                electrolyte_slab = Structure.from_sites([structure[i] for i in elec_idx])
                film_term, sub_term = termination
                # the electrolyte face in contact: its top when it is the substrate (below)
                contact = face_signature(
                    structure, "top" if metal_is_film else "bottom", sites=elec_idx
                )
                candidates.append(
                    InterfaceCandidate(
                        label=f"m{m_index}-t{t_index}-r{r_index}",
                        interface=structure,
                        metal_slab=metal_slab,
                        electrolyte_slab=electrolyte_slab,
                        metal_termination=film_term if metal_is_film else sub_term,
                        electrolyte_termination=sub_term if metal_is_film else film_term,
                        match_index=m_index,
                        registry_index=r_index,
                        in_plane_offset=(
                            float(shifted.in_plane_offset[0]),
                            float(shifted.in_plane_offset[1]),
                        ),
                        strain_percent=strain_pct,
                        von_mises_strain=float(itf.interface_properties["von_mises_strain"]),
                        area_A2=float(area),
                        n_atoms=len(structure),
                        n_fixed=int(sum(fixed)),
                        gap_A=gap_A,
                        strained_side=strained_side,
                        electrolyte_termination_chemistry=contact.chemistry,
                        electrolyte_contact_planes=[list(p) for p in contact.planes],
                        electrolyte_contact_spacings_A=list(contact.spacings_A),
                    )
                )
    if not candidates:
        pair = (
            f"{metal.composition.reduced_formula}{metal_miller} on "
            f"{electrolyte.composition.reduced_formula}{electrolyte_miller}"
        )
        limits = f"max strain {100 * max_strain:.1f} %, max area {max_area_A2:.0f} Å², max atoms {max_atoms}"
        if rejected_atoms and not rejected_strain:
            raise InputError(
                f"no interface of {pair} within {limits}: the smallest match has {min(rejected_atoms)} "
                f"atoms; raise max_atoms to at least {min(rejected_atoms)} or use fewer layers",
                field="max_atoms",
            )
        if rejected_atoms:
            raise InputError(
                f"no interface of {pair} within {limits}: matches within the strain limit need "
                f"{min(rejected_atoms)} atoms; raise max_atoms to at least {min(rejected_atoms)}",
                field="max_atoms",
            )
        hint, field = _describe_best(
            metal, electrolyte, metal_miller, electrolyte_miller, max_area_A2, max_strain
        )
        raise InputError(f"no interface of {pair} within {limits}: {hint}", field=field)
    return candidates


#: Two interfaces whose energies differ by less than this (eV) and whose structures match
#: are one configuration (e.g. symmetry-equivalent registries, or two registries that
#: relaxed into the same minimum).
SAME_CONFIGURATION_EV = 1e-3


#: ... and whose atoms coincide within this distance (Å) after the best symmetry mapping.
SAME_CONFIGURATION_A = 0.1


def same_configuration(a: Structure, energy_a_eV: float, b: Structure, energy_b_eV: float) -> bool:
    """Whether two interface cells are one configuration: the same number of atoms,
    energies within `SAME_CONFIGURATION_EV` (eV), and the same structure up to a rigid
    translation or lattice symmetry, every atom within `SAME_CONFIGURATION_A` (pymatgen's
    StructureMatcher, no supercells, no scaling).

    StructureMatcher's default site tolerance is 0.3 × (V/N)^⅓, which the vacuum of a slab
    cell inflates to more than 1 Å; two minima that an ML potential scores alike but DFT
    does not (0.07 J/m² apart, Li(110)/LiF(100)) would then be merged. The tolerance is set
    in Å instead."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    if len(a) != len(b) or abs(energy_a_eV - energy_b_eV) >= SAME_CONFIGURATION_EV:
        return False
    norm = (a.volume / len(a)) ** (1 / 3)
    matcher = StructureMatcher(
        ltol=0.01,
        stol=SAME_CONFIGURATION_A / norm,
        angle_tol=0.5,
        primitive_cell=False,
        scale=False,
        attempt_supercell=False,
    )
    return bool(matcher.fit(a, b))
