"""Adhesion, surface and interface energies, wetting, and the universal binding curve.

Conventions
-----------
Work of adhesion (per unit interface area ``A``)::

    W_ad = (E_metal_slab + E_electrolyte_slab - E_interface) / A

with both slab references computed **in the same (strained) in-plane cell** as the
interface, so that the strain energy of the strained side cancels. ``W_ad > 0`` means
the two stick. Two variants are reported:

- *ideal* (unrelaxed): all three energies at the rigid, as-built geometries;
- *relaxed*: interface and both slabs each relaxed (same fixed atoms).

Interface energy: ``γ_int = γ_metal + γ_electrolyte − W_ad`` (Dupré).

Young–Dupré contact angle of the metal on the electrolyte::

    cos θ = W_ad / γ_metal − 1

θ = 0 (perfect wetting) whenever ``W_ad ≥ 2 γ_metal``; θ = 180° when ``W_ad ≤ 0``.
Never NaN.

1 eV/Å² = 16.021766 J/m².
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import curve_fit

#: 1 eV/Å² in J/m².
EV_PER_A2_TO_J_PER_M2 = 16.021766339999999

WettingClass = Literal["perfect wetting", "wetting", "non-wetting"]


def _finite(name: str, *values: float) -> None:
    for v in values:
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")


def work_of_adhesion_J_per_m2(
    interface_energy_eV: float,
    metal_slab_energy_eV: float,
    electrolyte_slab_energy_eV: float,
    area_A2: float,
) -> float:
    """Work of adhesion ``(E_metal + E_electrolyte − E_interface) / A`` in J/m².

    Parameters
    ----------
    interface_energy_eV
        Total energy of the interface cell, eV.
    metal_slab_energy_eV, electrolyte_slab_energy_eV
        Total energies of the two slabs alone in the same cell, eV.
    area_A2
        Interface area, Å² (one interface per cell).

    Returns
    -------
    float
        W_ad, J/m².
    """
    _finite("energies", interface_energy_eV, metal_slab_energy_eV, electrolyte_slab_energy_eV)
    if not area_A2 > 0:
        raise ValueError(f"area must be positive, got {area_A2} Å²")
    delta = metal_slab_energy_eV + electrolyte_slab_energy_eV - interface_energy_eV
    return float(delta / area_A2 * EV_PER_A2_TO_J_PER_M2)


def interface_energy_J_per_m2(
    metal_surface_energy_J_per_m2: float,
    electrolyte_surface_energy_J_per_m2: float,
    work_of_adhesion_J_per_m2: float,
) -> float:
    """Dupré interface energy ``γ_int = γ_metal + γ_electrolyte − W_ad`` in J/m²."""
    _finite(
        "energies",
        metal_surface_energy_J_per_m2,
        electrolyte_surface_energy_J_per_m2,
        work_of_adhesion_J_per_m2,
    )
    return float(
        metal_surface_energy_J_per_m2
        + electrolyte_surface_energy_J_per_m2
        - work_of_adhesion_J_per_m2
    )


def contact_angle_deg(
    work_of_adhesion_J_per_m2: float, metal_surface_energy_J_per_m2: float
) -> tuple[float, WettingClass]:
    """Young–Dupré contact angle of the metal on the electrolyte.

    Parameters
    ----------
    work_of_adhesion_J_per_m2
        W_ad, J/m².
    metal_surface_energy_J_per_m2
        γ of the metal, J/m² (must be positive).

    Returns
    -------
    theta_deg : float
        Contact angle in degrees, in [0, 180]; exactly 0 when W_ad ≥ 2γ.
    wetting : str
        "perfect wetting" (θ = 0), "wetting" (0 < θ < 90°) or "non-wetting" (θ ≥ 90°).
    """
    _finite("W_ad and γ", work_of_adhesion_J_per_m2, metal_surface_energy_J_per_m2)
    if metal_surface_energy_J_per_m2 <= 0:
        raise ValueError(
            f"metal surface energy must be positive, got {metal_surface_energy_J_per_m2} J/m²"
        )
    ratio = work_of_adhesion_J_per_m2 / metal_surface_energy_J_per_m2
    if ratio >= 2.0:
        return 0.0, "perfect wetting"
    cos_theta = max(ratio - 1.0, -1.0)
    theta = float(np.degrees(np.arccos(cos_theta)))
    return theta, ("wetting" if theta < 90.0 else "non-wetting")


def surface_energy_J_per_m2(
    slab_energy_eV: float,
    n_formula_units: float,
    bulk_energy_per_formula_unit_eV: float,
    area_A2: float,
    n_surfaces: int = 2,
) -> float:
    """Surface energy of a stoichiometric slab against a bulk reference.

    ``γ = (E_slab − n E_bulk/f.u.) / (n_surfaces · A)``; see
    `surface_energy_from_series_J_per_m2` for the drift-free slope method.
    """
    _finite("energies", slab_energy_eV, bulk_energy_per_formula_unit_eV)
    if not area_A2 > 0 or n_surfaces < 1:
        raise ValueError("area must be positive and n_surfaces >= 1")
    excess = slab_energy_eV - n_formula_units * bulk_energy_per_formula_unit_eV
    return float(excess / (n_surfaces * area_A2) * EV_PER_A2_TO_J_PER_M2)


def grand_surface_energy_J_per_m2(
    slab_energy_eV: float,
    counts: dict[str, float],
    chemical_potentials_eV: dict[str, float],
    area_A2: float,
    n_surfaces: int = 2,
) -> float:
    """Surface energy of a possibly non-stoichiometric slab: ``(E − Σ N_i μ_i)/(n A)``.

    Parameters
    ----------
    slab_energy_eV
        Slab total energy, eV.
    counts
        Number of atoms of each element in the slab.
    chemical_potentials_eV
        μ_i per atom, eV; must cover every element in ``counts``.
    area_A2
        Area of one face, Å².
    n_surfaces
        Faces counted (2 for a free slab).
    """
    missing = set(counts) - set(chemical_potentials_eV)
    if missing:
        raise ValueError(f"no chemical potential for {sorted(missing)}")
    reference = sum(n * chemical_potentials_eV[el] for el, n in counts.items())
    return float((slab_energy_eV - reference) / (n_surfaces * area_A2) * EV_PER_A2_TO_J_PER_M2)


@dataclass(frozen=True)
class SlabSeriesFit:
    """Linear fit E(n) = n·ε_bulk + n_surfaces·A·γ over a slab series."""

    surface_energy_J_per_m2: float
    surface_energy_stderr_J_per_m2: float | None
    bulk_energy_per_unit_eV: float
    n_points: int


def surface_energy_from_series_J_per_m2(
    n_units: ArrayLike, slab_energies_eV: ArrayLike, area_A2: float, n_surfaces: int = 2
) -> SlabSeriesFit:
    """Surface energy from the slope of slab energy against slab size.

    Fits ``E(n) = n ε + n_surfaces A γ`` by least squares over slabs of one termination
    with ``n`` bulk units (atoms or formula units). The slope ε is the bulk energy per
    unit *as the slabs see it*, so no separately computed bulk energy enters and a drift
    between bulk and slab calculations (k-points, basis, potential) cancels
    (Fiorentini & Methfessel 1996).

    Parameters
    ----------
    n_units : array, shape (m,)
        Bulk units per slab, m ≥ 2, not all equal.
    slab_energies_eV : array, shape (m,)
        Slab total energies, eV.
    area_A2
        Area of one face, Å².
    n_surfaces
        Number of equivalent faces per slab.

    Returns
    -------
    SlabSeriesFit
        γ in J/m² (stderr from the fit residuals when m ≥ 3, else None) and ε in eV.
    """
    n = np.asarray(n_units, dtype=float)
    e = np.asarray(slab_energies_eV, dtype=float)
    if n.shape != e.shape or n.ndim != 1 or n.size < 2:
        raise ValueError("need at least two slabs with matching sizes and energies")
    if np.ptp(n) == 0:
        raise ValueError("slab sizes must differ to fit a slope")
    if not np.all(np.isfinite(e)):
        raise ValueError("slab energies must be finite")
    design = np.vstack([n, np.ones_like(n)]).T
    coef, *_ = np.linalg.lstsq(design, e, rcond=None)
    slope, intercept = coef
    factor = EV_PER_A2_TO_J_PER_M2 / (n_surfaces * area_A2)
    stderr = None
    if n.size >= 3:
        resid = e - design @ coef
        sigma2 = float(resid @ resid) / (n.size - 2)
        cov = sigma2 * np.linalg.inv(design.T @ design)
        stderr = float(np.sqrt(cov[1, 1]) * factor)
    return SlabSeriesFit(
        surface_energy_J_per_m2=float(intercept * factor),
        surface_energy_stderr_J_per_m2=stderr,
        bulk_energy_per_unit_eV=float(slope),
        n_points=int(n.size),
    )


def uber_energy_J_per_m2(
    separation_A: ArrayLike, work_of_separation_J_per_m2: float, d0_A: float, length_A: float
) -> np.ndarray:
    """Universal binding-energy relation (Rose, Smith, Ferrante 1983).

    ``E(d) = −W (1 + x) exp(−x)``, ``x = (d − d0)/l``; E is the binding energy per area
    (negative when bound), minimum −W at the equilibrium gap d0.
    """
    x = (np.asarray(separation_A, dtype=float) - d0_A) / length_A
    return -work_of_separation_J_per_m2 * (1.0 + x) * np.exp(-x)


@dataclass(frozen=True)
class UberFit:
    """Result of a UBER fit: equilibrium gap, ideal work of separation, length scale."""

    equilibrium_gap_A: float
    work_of_separation_J_per_m2: float
    length_scale_A: float
    rms_residual_J_per_m2: float


def fit_uber(separation_A: ArrayLike, binding_energy_J_per_m2: ArrayLike) -> UberFit:
    """Fit the universal binding-energy relation to a rigid gap scan.

    Parameters
    ----------
    separation_A : array, shape (m,)
        Gaps, Å (m ≥ 4).
    binding_energy_J_per_m2 : array, shape (m,)
        ``(E_interface(d) − E_metal − E_electrolyte)/A`` = −W_ad(d), J/m².

    Returns
    -------
    UberFit

    Raises
    ------
    ValueError
        Too few points, a scan with no bound minimum, or a fit that does not converge.
    """
    d = np.asarray(separation_A, dtype=float)
    e = np.asarray(binding_energy_J_per_m2, dtype=float)
    if d.shape != e.shape or d.size < 4:
        raise ValueError("a UBER fit needs at least 4 gap points")
    if not np.all(np.isfinite(e)):
        raise ValueError("binding energies must be finite")
    i_min = int(np.argmin(e))
    if e[i_min] >= 0:
        raise ValueError("the gap scan shows no binding (all energies ≥ 0)")
    p0 = (float(-e[i_min]), float(d[i_min]), 0.5)
    try:
        popt, _ = curve_fit(
            uber_energy_J_per_m2,
            d,
            e,
            p0=p0,
            bounds=([0.0, d.min() - 2.0, 0.05], [np.inf, d.max() + 2.0, 5.0]),
            maxfev=20000,
        )
    except RuntimeError as exc:
        raise ValueError(f"UBER fit did not converge: {exc}") from exc
    resid = e - uber_energy_J_per_m2(d, *popt)
    return UberFit(
        equilibrium_gap_A=float(popt[1]),
        work_of_separation_J_per_m2=float(popt[0]),
        length_scale_A=float(popt[2]),
        rms_residual_J_per_m2=float(np.sqrt(np.mean(resid**2))),
    )


def reference_chemical_potentials_eV(
    bulk_counts: dict[str, float],
    bulk_energy_eV: float,
    slab_counts: dict[str, float],
    metal_element: str | None = None,
    metal_chemical_potential_eV: float | None = None,
    fixed_chemical_potentials_eV: dict[str, float] | None = None,
) -> tuple[dict[str, float] | None, str]:
    """Chemical potentials that make ``Σ N_i μ_i`` the reference energy of a slab.

    - Slab with the bulk composition: every μ_i is the bulk energy per atom (only the sum
      over a bulk unit enters, and it is the bulk energy).
    - Otherwise the metal's μ is ``metal_chemical_potential_eV`` (μ_M = μ_M(bulk metal) +
      Δμ_M, given by the caller); ``fixed_chemical_potentials_eV`` fixes others; of the
      rest, one element (binary: the only one) follows from the bulk,
      ``Σ_i n_i μ_i = E_bulk``. Several free elements are fixed by the bulk only when the
      slab holds them in bulk proportions; otherwise μ is undetermined.

    Parameters
    ----------
    bulk_counts
        Atoms of each element in the bulk cell.
    bulk_energy_eV
        Energy of that bulk cell, eV.
    slab_counts
        Atoms of each element in the slab.
    metal_element
        Element whose chemical potential is set by the metal (e.g. "Li").
    metal_chemical_potential_eV
        μ of ``metal_element``, eV/atom.
    fixed_chemical_potentials_eV
        μ (eV/atom) chosen by the user for other elements.

    Returns
    -------
    mu : dict or None
        μ per element, eV/atom (None when undetermined).
    description : str
        How μ was chosen, or why it is undetermined.
    """
    fixed = dict(fixed_chemical_potentials_eV or {})
    if set(slab_counts) - set(bulk_counts):
        return None, f"slab has elements {sorted(set(slab_counts) - set(bulk_counts))} not in bulk"
    els = sorted(bulk_counts)
    ref = els[0]
    k = slab_counts.get(ref, 0.0) / bulk_counts[ref]
    if all(abs(slab_counts.get(el, 0.0) - k * bulk_counts[el]) < 1e-6 for el in els):
        per_atom = bulk_energy_eV / sum(bulk_counts.values())
        return {el: per_atom for el in els}, "stoichiometric slab: bulk energy per formula unit"
    if metal_element is None or metal_element not in bulk_counts:
        return None, (
            "off-stoichiometric slab: its surface energy depends on chemical potentials, and "
            "no metal element is set whose μ fixes them"
        )
    if metal_chemical_potential_eV is None and metal_element not in fixed:
        return None, f"off-stoichiometric slab: μ_{metal_element} is needed (give the metal bulk)"
    mu = {metal_element: fixed.get(metal_element, metal_chemical_potential_eV)}
    others = [el for el in els if el != metal_element]
    for el in others:
        if el in fixed:
            mu[el] = fixed[el]
    free = [el for el in others if el not in mu]
    rest = bulk_energy_eV - sum(bulk_counts[el] * mu[el] for el in mu)
    if not free:
        return mu, "all chemical potentials given"
    if len(free) == 1:
        mu[free[0]] = rest / bulk_counts[free[0]]
        return mu, f"μ_{free[0]} from the bulk (Σ n_i μ_i = E_bulk)"
    k_free = slab_counts.get(free[0], 0.0) / bulk_counts[free[0]]
    if all(abs(slab_counts.get(el, 0.0) - k_free * bulk_counts[el]) < 1e-6 for el in free):
        share = rest / sum(bulk_counts[el] for el in free)
        for el in free:
            mu[el] = share  # only their sum per bulk unit enters
        return mu, f"{'+'.join(free)} in bulk proportions: their summed μ from the bulk"
    return None, (
        f"μ of {', '.join(free)} are not fixed by the bulk for this off-stoichiometric slab; "
        "give them (chemical_potentials_eV)"
    )


@dataclass(frozen=True)
class MigrationFigures:
    """How far atoms moved across the contact plane during an interface relaxation."""

    contact_height_A: float
    max_normal_displacement_A: float
    n_crossed: int
    crossed_indices: tuple[int, ...]


def contact_plane_migration(
    initial_heights_A: ArrayLike,
    final_heights_A: ArrayLike,
    is_upper: ArrayLike,
) -> MigrationFigures:
    """Atoms that crossed the contact plane between the two sides of an interface.

    The contact plane lies midway between the highest atom of the lower side and the
    lowest atom of the upper side, in the initial structure. An atom has crossed when it
    ends on the other side of that plane.

    Parameters
    ----------
    initial_heights_A, final_heights_A : array, shape (n,)
        Height of each atom along the interface normal before and after relaxation, Å
        (final heights unwrapped: no jump by a cell length).
    is_upper : array of bool, shape (n,)
        True for the atoms of the upper side.

    Returns
    -------
    MigrationFigures
        Contact height, largest |normal displacement| of any atom (Å), atoms crossed.
    """
    z0 = np.asarray(initial_heights_A, dtype=float)
    z1 = np.asarray(final_heights_A, dtype=float)
    upper = np.asarray(is_upper, dtype=bool)
    if z0.shape != z1.shape or z0.shape != upper.shape or z0.ndim != 1:
        raise ValueError("heights and sides must be 1-D arrays of one length")
    if upper.all() or not upper.any():
        raise ValueError("both sides of the interface need atoms")
    contact = 0.5 * (z0[~upper].max() + z0[upper].min())
    crossed = np.where((upper & (z1 < contact)) | (~upper & (z1 > contact)))[0]
    return MigrationFigures(
        contact_height_A=float(contact),
        max_normal_displacement_A=float(np.max(np.abs(z1 - z0))),
        n_crossed=int(crossed.size),
        crossed_indices=tuple(int(i) for i in crossed),
    )


def gap_scan_binding_J_per_m2(
    interface_energies_eV: Sequence[float | None],
    metal_slab_energy_eV: float | None,
    electrolyte_slab_energy_eV: float | None,
    area_A2: float,
) -> list[float | None]:
    """Binding energy per area of each point of a rigid gap scan, J/m².

    ``(E_interface(d) − E_metal − E_electrolyte)/A`` = −W_ad(d): negative when bound.

    Parameters
    ----------
    interface_energies_eV : sequence, shape (m,)
        Interface energy at each gap, eV; ``None`` where the single point failed.
    metal_slab_energy_eV, electrolyte_slab_energy_eV
        The two slabs alone in the interface's cell, eV; ``None`` when unknown.
    area_A2
        Interface area, Å².

    Returns
    -------
    list of float or None, length m
        Binding energy at each gap, J/m²; ``None`` where an energy is missing.
    """
    if metal_slab_energy_eV is None or electrolyte_slab_energy_eV is None:
        return [None for _ in interface_energies_eV]
    return [
        None
        if e is None
        else (e - metal_slab_energy_eV - electrolyte_slab_energy_eV)
        / area_A2
        * EV_PER_A2_TO_J_PER_M2
        for e in interface_energies_eV
    ]


@dataclass(frozen=True)
class GapScanStart:
    """Where an interface relaxation starts after a rigid gap scan, and why."""

    start_gap_A: float
    fit: UberFit | None
    note: str | None
    """Why the start is not the fitted equilibrium gap (``None`` when it is, or when no
    scan was run)."""


def relaxation_start_gap(
    gaps_A: Sequence[float], binding_J_per_m2: Sequence[float | None], initial_gap_A: float
) -> GapScanStart:
    """Fit the gap scan with the UBER once and choose the gap a relaxation starts from.

    - at least 4 points with energies and a converged fit whose equilibrium gap lies
      inside the scanned range: the fitted gap;
    - a fit outside the scanned range: the initial gap (the fit is kept, with a note);
    - a fit that fails: the scanned gap of lowest energy (with a note);
    - fewer than 4 points with energies: the initial gap (with a note when points were
      scanned; none when no scan was asked for).

    Parameters
    ----------
    gaps_A : sequence, shape (m,)
        Scanned gaps, Å.
    binding_J_per_m2 : sequence, shape (m,)
        Binding energy at each gap (`gap_scan_binding_J_per_m2`), ``None`` where missing.
    initial_gap_A
        The as-built gap, Å.

    Returns
    -------
    GapScanStart
        Start gap (Å), the UBER fit (``None`` when not fitted) and the note.
    """
    gaps = [float(g) for g in gaps_A]
    valid = [(g, b) for g, b in zip(gaps, binding_J_per_m2, strict=True) if b is not None]
    if len(valid) < 4:
        note = None
        if gaps:
            note = (
                f"UBER fit skipped: only {len(valid)} of {len(gaps)} scanned gaps have an "
                f"energy (4 needed); relaxation started at the initial gap, {initial_gap_A:.2f} Å"
            )
        return GapScanStart(start_gap_A=initial_gap_A, fit=None, note=note)
    try:
        fit = fit_uber([g for g, _ in valid], [b for _, b in valid])
    except ValueError as exc:
        lowest = min(valid, key=lambda gb: gb[1])[0]
        return GapScanStart(
            start_gap_A=lowest,
            fit=None,
            note=f"UBER fit failed ({exc}); relaxation started at the scanned gap of lowest "
            f"energy, {lowest:.2f} Å",
        )
    if min(gaps) <= fit.equilibrium_gap_A <= max(gaps):
        return GapScanStart(start_gap_A=fit.equilibrium_gap_A, fit=fit, note=None)
    return GapScanStart(
        start_gap_A=initial_gap_A,
        fit=fit,
        note=f"UBER equilibrium gap {fit.equilibrium_gap_A:.2f} Å lies outside the scanned "
        f"gaps [{min(gaps):.2f}, {max(gaps):.2f}] Å; relaxation started at the initial gap, "
        f"{initial_gap_A:.2f} Å",
    )


def metal_rich_surface_energy_J_per_m2(
    surface_energy_J_per_m2: float, delta_mu_metal_eV: float
) -> float | None:
    """A face's surface energy when it was computed at the metal-rich limit, else None.

    Interface energies use the electrolyte face at the metal-rich limit (Δμ_M = 0: the
    metal's μ is that of the metal bulk it touches). A face computed elsewhere on the
    chemical-potential line is not used (``None``).

    Parameters
    ----------
    surface_energy_J_per_m2
        γ of the face at ``delta_mu_metal_eV``, J/m².
    delta_mu_metal_eV
        Δμ_M of that γ relative to the metal bulk, eV/atom.

    Returns
    -------
    float or None
        γ at Δμ_M = 0, J/m²; ``None`` when the face is not at that limit.
    """
    if delta_mu_metal_eV != 0:
        return None
    return float(surface_energy_J_per_m2)


@dataclass(frozen=True)
class ContactFigures:
    """Wetting and interface energy of one relaxed contact (``None`` where undefined)."""

    contact_angle_deg: float | None
    wetting: WettingClass | None
    interface_energy_J_per_m2: float | None
    reactive: bool
    """γ_int < 0: the metal reduces or completes the face."""


def contact_figures(
    work_of_adhesion_J_per_m2: float,
    metal_surface_energy_J_per_m2: float | None,
    electrolyte_surface_energy_J_per_m2: float | None,
) -> ContactFigures:
    """Contact angle, wetting class and Dupré interface energy of one contact.

    Parameters
    ----------
    work_of_adhesion_J_per_m2
        Relaxed W_ad, J/m².
    metal_surface_energy_J_per_m2
        γ_metal (positive), J/m²; ``None``: neither θ nor γ_int is defined.
    electrolyte_surface_energy_J_per_m2
        γ of the electrolyte contact face, J/m²; ``None``: γ_int is undefined.

    Returns
    -------
    ContactFigures
        θ (degrees) and wetting (`contact_angle_deg`), γ_int (`interface_energy_J_per_m2`)
        and whether γ_int < 0.
    """
    if metal_surface_energy_J_per_m2 is None:
        return ContactFigures(None, None, None, False)
    theta, wetting = contact_angle_deg(work_of_adhesion_J_per_m2, metal_surface_energy_J_per_m2)
    if electrolyte_surface_energy_J_per_m2 is None:
        return ContactFigures(theta, wetting, None, False)
    gamma_int = interface_energy_J_per_m2(
        metal_surface_energy_J_per_m2,
        electrolyte_surface_energy_J_per_m2,
        work_of_adhesion_J_per_m2,
    )
    return ContactFigures(theta, wetting, gamma_int, gamma_int < 0)


HeadlineCriterion = Literal[
    "lowest interface energy", "largest work of adhesion", "all reactive", "none"
]


@dataclass(frozen=True)
class HeadlineChoice:
    """Which relaxed contact is the headline, and by which criterion."""

    index: int | None
    criterion: HeadlineCriterion


def headline_choice(
    interface_energies_J_per_m2: list[float | None],
    works_of_adhesion_J_per_m2: list[float],
    reactive: list[bool],
    migrated: list[bool],
) -> HeadlineChoice:
    """Rank relaxed contacts: the headline is never reactive (γ_int < 0) nor migrated.

    - the lowest γ_int among contacts that are neither ("lowest interface energy");
    - else, when every contact with a γ_int is reactive and no clean contact lacks one:
      none ("all reactive": the face is unstable against the metal);
    - else the largest W_ad among clean contacts ("largest work of adhesion");
    - else none ("none": every contact migrated or is reactive).

    Ties go to the first contact.

    Parameters
    ----------
    interface_energies_J_per_m2 : list, shape (n,)
        γ_int of each contact, J/m² (``None`` where undefined).
    works_of_adhesion_J_per_m2 : list, shape (n,)
        Relaxed W_ad of each contact, J/m².
    reactive, migrated : list of bool, shape (n,)
        Flags of each contact.

    Returns
    -------
    HeadlineChoice
        Index of the headline contact (``None`` when there is none) and the criterion.
    """
    n = len(works_of_adhesion_J_per_m2)
    if not len(interface_energies_J_per_m2) == len(reactive) == len(migrated) == n:
        raise ValueError("one γ_int, W_ad, reactive and migrated flag per contact")
    gamma = interface_energies_J_per_m2
    clean = [i for i in range(n) if not reactive[i] and not migrated[i]]
    with_gamma = [i for i in clean if gamma[i] is not None]
    any_gamma = [i for i in range(n) if gamma[i] is not None]
    if with_gamma:
        return HeadlineChoice(min(with_gamma, key=lambda i: gamma[i]), "lowest interface energy")
    if (
        any_gamma
        and all(reactive[i] for i in any_gamma)
        and not [i for i in clean if gamma[i] is None]
    ):
        return HeadlineChoice(None, "all reactive")
    if clean:
        best = max(clean, key=lambda i: works_of_adhesion_J_per_m2[i])
        return HeadlineChoice(best, "largest work of adhesion")
    return HeadlineChoice(None, "none")


def screening_order(
    works_of_adhesion_J_per_m2: Sequence[float | None],
    groups: Sequence[Hashable],
    labels: Sequence[str],
) -> list[str]:
    """The order in which screened candidates are offered for relaxation.

    First the best candidate (largest rigid W_ad) of each group (a lattice match and
    termination pair: its best registry), best groups first; then every candidate by
    rigid W_ad. Each label once; candidates without a W_ad are left out. Equal W_ad are
    ordered by label, descending.

    Parameters
    ----------
    works_of_adhesion_J_per_m2 : sequence, shape (n,)
        Rigid W_ad of each candidate, J/m² (``None`` where its single points failed).
    groups : sequence, shape (n,)
        Group key of each candidate.
    labels : sequence of str, shape (n,)
        Candidate labels.

    Returns
    -------
    list of str
        Labels, most preferred first.
    """
    best: dict[Hashable, tuple[float, str]] = {}
    for w, group, label in zip(works_of_adhesion_J_per_m2, groups, labels, strict=True):
        if w is not None and (group not in best or w > best[group][0]):
            best[group] = (w, label)
    firsts = sorted(best.values(), reverse=True)
    rest = sorted(
        (
            (w, label)
            for w, label in zip(works_of_adhesion_J_per_m2, labels, strict=True)
            if w is not None
        ),
        reverse=True,
    )
    return list(dict.fromkeys(label for _, label in [*firsts, *rest]))
