"""ML → DFT refinement of an adhesion study: surface energies at a second level of theory,
the order in which candidates are refined, the headline choice, and where the two levels
disagree.

Pure functions (no jobflow, no I/O). Energies in eV, areas in Å², surface energies and
works of adhesion in J/m².
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ssbflow.analysis.adhesion import (
    grand_surface_energy_J_per_m2,
    reference_chemical_potentials_eV,
)


def slab_surface_energy_J_per_m2(
    slab_energy_eV: float,
    slab_counts: dict[str, float],
    area_A2: float,
    bulk_counts: dict[str, float],
    bulk_energy_eV: float,
    metal_element: str | None = None,
    metal_chemical_potential_eV: float | None = None,
) -> tuple[float | None, str]:
    """Surface energy of one symmetric slab against a bulk reference at the same level.

    ``γ = (E_slab − Σ N_i μ_i)/(2A)``, with μ from
    `ssbflow.analysis.adhesion.reference_chemical_potentials_eV` (stoichiometric slab: the
    bulk; otherwise μ_M of the metal and the rest from the bulk).

    Parameters
    ----------
    slab_energy_eV
        Slab energy, eV.
    slab_counts
        Atoms of each element in the slab.
    area_A2
        Area of one face, Å².
    bulk_counts, bulk_energy_eV
        Atoms of each element in the bulk cell and its energy, eV.
    metal_element
        Element whose μ the metal sets (off-stoichiometric slabs).
    metal_chemical_potential_eV
        μ_M = μ_M(bulk metal) + Δμ_M, eV/atom.

    Returns
    -------
    gamma : float or None
        γ, J/m² (None when μ is undetermined).
    description : str
        How μ was chosen, or why γ is undefined.
    """
    mu, how = reference_chemical_potentials_eV(
        bulk_counts, bulk_energy_eV, slab_counts, metal_element, metal_chemical_potential_eV
    )
    if mu is None:
        return None, how
    return grand_surface_energy_J_per_m2(slab_energy_eV, slab_counts, mu, area_A2), how


def thickness_converged(
    surface_energies_J_per_m2: Sequence[float | None], tolerance_J_per_m2: float
) -> bool | None:
    """|γ(last) − γ(second last)| < tolerance; None with fewer than two γ or a missing one."""
    if len(surface_energies_J_per_m2) < 2:
        return None
    a, b = surface_energies_J_per_m2[-2], surface_energies_J_per_m2[-1]
    if a is None or b is None:
        return None
    return abs(b - a) < tolerance_J_per_m2


@dataclass(frozen=True)
class RankedCandidate:
    """What decides a candidate's place in a ranking (one level of theory).

    ``usable``: has numbers at this level (relaxed / refined, not failed); ``flagged``:
    reactive or migrated (never the headline, ranked after the clean ones).
    """

    label: str
    usable: bool
    flagged: bool
    interface_energy_J_per_m2: float | None
    work_of_adhesion_J_per_m2: float | None


def selection_order(candidates: Sequence[RankedCandidate]) -> list[str]:
    """Labels best first, as the summary selects: clean candidates with γ_int (lowest
    first), then clean ones without γ_int (largest W_ad first), then the flagged ones
    (lowest γ_int, then largest W_ad); unusable ones are left out."""

    def key(c: RankedCandidate) -> tuple:
        has_gamma = c.interface_energy_J_per_m2 is not None
        w = c.work_of_adhesion_J_per_m2
        return (
            c.flagged,
            not has_gamma,
            c.interface_energy_J_per_m2 if has_gamma else 0.0,
            -(w if w is not None else float("-inf")),
        )

    return [c.label for c in sorted((c for c in candidates if c.usable), key=key)]


def select_headline(candidates: Sequence[RankedCandidate]) -> tuple[str | None, str]:
    """The headline candidate among usable, unflagged ones: lowest γ_int, else largest
    W_ad. Returns (label or None, criterion)."""
    clean = [c for c in candidates if c.usable and not c.flagged]
    with_gamma = [c for c in clean if c.interface_energy_J_per_m2 is not None]
    if with_gamma:
        best = min(with_gamma, key=lambda c: c.interface_energy_J_per_m2)
        return best.label, "lowest interface energy γ_int"
    with_w = [c for c in clean if c.work_of_adhesion_J_per_m2 is not None]
    if with_w:
        best = max(with_w, key=lambda c: c.work_of_adhesion_J_per_m2)
        return best.label, "largest W_ad (γ_int unavailable)"
    return None, "none: no refined candidate is free of flags with a W_ad"


@dataclass(frozen=True)
class LevelComparison:
    """One candidate's numbers at two levels of theory (ML, DFT); None: not computed."""

    label: str
    ml_work_of_adhesion_J_per_m2: float | None
    dft_work_of_adhesion_J_per_m2: float | None
    ml_interface_energy_J_per_m2: float | None = None
    dft_interface_energy_J_per_m2: float | None = None
    ml_wetting: str | None = None
    dft_wetting: str | None = None


#: Two candidates closer than this (J/m²) at a level of theory are tied there: their order
#: is noise (e.g. two registries that relaxed into the same interface).
RANK_TOLERANCE_J_PER_M2 = 0.01


def _value(r: LevelComparison, level: str, by_gamma: bool) -> float:
    """The ranking value at one level, oriented so that lower is better."""
    if by_gamma:
        return getattr(r, f"{level}_interface_energy_J_per_m2")
    return -getattr(r, f"{level}_work_of_adhesion_J_per_m2")


def inverted_pairs(
    rows: Sequence[LevelComparison], by_gamma: bool, tolerance: float = RANK_TOLERANCE_J_PER_M2
) -> list[tuple[str, str]]:
    """Pairs (a, b) that ML ranks a before b and DFT b before a, each by more than
    ``tolerance`` (J/m²); ties within the tolerance at either level are not inversions."""
    out = []
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            d_ml = _value(b, "ml", by_gamma) - _value(a, "ml", by_gamma)
            d_dft = _value(b, "dft", by_gamma) - _value(a, "dft", by_gamma)
            if d_ml > tolerance and d_dft < -tolerance:
                out.append((a.label, b.label))
            elif d_ml < -tolerance and d_dft > tolerance:
                out.append((b.label, a.label))
    return out


#: W_ad at the two levels differing by this factor or more (same sign) is a disagreement.
MAGNITUDE_FACTOR = 2.0
#: ... and by more than this much (J/m²), so that two near-zero values are not flagged.
MAGNITUDE_FLOOR_J_PER_M2 = 0.05


def level_disagreements(rows: Sequence[LevelComparison]) -> list[str]:
    """Where DFT contradicts the ML potential, one sentence each, naming the candidates.

    - W_ad changes sign (adhesion vs. none);
    - W_ad keeps its sign but differs by `MAGNITUDE_FACTOR` or more (and by more than
      `MAGNITUDE_FLOOR_J_PER_M2`): the ML number is then not a usable estimate of the DFT
      one, even where the wetting class happens to agree;
    - the wetting class changes (perfect wetting / wetting / non-wetting);
    - the order of two candidates differs by more than `RANK_TOLERANCE_J_PER_M2` at both
      levels: by γ_int when every candidate has it at both levels, else by W_ad (only
      candidates with numbers at both levels are compared).
    """
    out: list[str] = []
    for r in rows:
        wm, wd = r.ml_work_of_adhesion_J_per_m2, r.dft_work_of_adhesion_J_per_m2
        if wm is not None and wd is not None and (wm > 0) != (wd > 0):
            out.append(
                f"{r.label}: W_ad changes sign between ML ({wm:+.3f} J/m²) and DFT ({wd:+.3f} J/m²)"
            )
        elif wm is not None and wd is not None and abs(wm - wd) > MAGNITUDE_FLOOR_J_PER_M2:
            small, large = sorted((abs(wm), abs(wd)))
            if large >= MAGNITUDE_FACTOR * small * (1 - 1e-9):
                ratio = f"{large / small:.1f}×" if small > 0 else "infinitely"
                out.append(
                    f"{r.label}: W_ad differs by a factor {MAGNITUDE_FACTOR:g} or more "
                    f"between ML ({wm:+.3f} J/m²) and DFT ({wd:+.3f} J/m²), {ratio}"
                )
        if r.ml_wetting and r.dft_wetting and r.ml_wetting != r.dft_wetting:
            out.append(
                f"{r.label}: wetting class differs: ML '{r.ml_wetting}', DFT '{r.dft_wetting}'"
            )
    both = [
        r
        for r in rows
        if r.ml_work_of_adhesion_J_per_m2 is not None
        and r.dft_work_of_adhesion_J_per_m2 is not None
    ]
    if len(both) >= 2:
        with_gamma = all(
            r.ml_interface_energy_J_per_m2 is not None
            and r.dft_interface_energy_J_per_m2 is not None
            for r in both
        )
        crit = "γ_int, lowest first" if with_gamma else "W_ad, largest first"
        for a, b in inverted_pairs(both, with_gamma):
            out.append(
                f"ranking of the refined candidates differs ({crit}, beyond "
                f"{RANK_TOLERANCE_J_PER_M2:g} J/m²): ML {a} > {b}, DFT {b} > {a}"
            )
    return out
