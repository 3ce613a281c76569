"""Debye temperature and frequency, mobile-ion band centre and imaginary modes from phonons.

Pure numerics: arrays in, numbers out. Frequencies are ordinary frequencies
``nu = omega / (2 pi)`` in THz, the unit phonopy reports; imaginary modes appear as
negative frequencies, as in phonopy.

Two definitions of the Debye frequency are provided, both exact for a Debye-model density
of states ``g(nu) = 9 N nu^2 / nu_D^3`` (``0 <= nu <= nu_D``, ``N`` atoms per cell, ``3N``
modes):

Moment definition (`debye_frequency_moment_THz`)
    ``nu_D = sqrt(5/3 <nu^2>)`` with ``<nu^2> = int nu^2 g(nu) dnu / int g(nu) dnu``,
    equivalently ``theta_D = hbar/k_B * sqrt(5/3 <omega^2>)``. It weights the whole
    spectrum (optical modes included) and is the Debye temperature that reproduces the
    high-temperature heat capacity and mean-square displacement.
Low-frequency (acoustic) fit (`debye_frequency_acoustic_THz`)
    Fit ``g(nu) = c nu^2`` by least squares through the origin over
    ``0 < nu <= nu_fit``, with ``g`` normalised to ``3N`` modes per cell; then
    ``nu_D = (9 N / c)^(1/3)``. It is the Debye temperature of the low-temperature
    ``T^3`` heat capacity (the calorimetric ``theta_0``), set by the sound velocities.

In both, ``theta_D = h nu_D / k_B`` (`debye_temperature_K`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Planck constant over Boltzmann constant, in K per THz (CODATA 2018, exact SI).
H_OVER_KB_K_PER_THZ = 6.62607015e-34 / 1.380649e-23 * 1e12


def _dos_arrays(
    frequencies_THz: ArrayLike, dos: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    nu = np.asarray(frequencies_THz, dtype=float)
    g = np.asarray(dos, dtype=float)
    if nu.ndim != 1 or g.shape != nu.shape:
        raise ValueError(
            f"frequencies and DOS must be 1-d arrays of the same length, got shapes "
            f"{nu.shape} and {g.shape}"
        )
    if nu.size < 3 or np.any(np.diff(nu) <= 0):
        raise ValueError("frequencies must be at least 3 strictly increasing values")
    if not (np.all(np.isfinite(nu)) and np.all(np.isfinite(g))):
        raise ValueError("frequencies and DOS must be finite")
    return nu, g


def _positive_part(
    nu: NDArray[np.float64], g: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The DOS restricted to ``nu >= 0`` (imaginary modes, shown as ``nu < 0``, dropped)."""
    mask = nu >= 0
    nu_pos, g_pos = nu[mask], g[mask]
    if nu_pos.size < 3 or np.trapezoid(g_pos, nu_pos) <= 0:
        raise ValueError("the DOS has no weight at positive frequencies")
    return nu_pos, g_pos


def debye_temperature_K(debye_frequency_THz: float) -> float:
    """Debye temperature ``theta_D = h nu_D / k_B`` in K from the Debye frequency in THz."""
    return float(H_OVER_KB_K_PER_THZ * debye_frequency_THz)


def debye_frequency_moment_THz(frequencies_THz: ArrayLike, dos: ArrayLike) -> float:
    """Debye frequency from the second moment of the DOS.

    ``nu_D = sqrt(5/3 * <nu^2>)``, ``<nu^2> = int nu^2 g dnu / int g dnu`` over
    ``nu >= 0`` (trapezoidal rule). For ``g ∝ nu^2`` up to ``nu_D``,
    ``<nu^2> = 3/5 nu_D^2`` so the definition returns ``nu_D`` exactly.

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_freq,)``, strictly increasing, THz.
    dos
        Shape ``(n_freq,)``, any normalisation (states per THz).

    Returns
    -------
    float
        Debye frequency ``nu_D`` in THz (ordinary frequency, ``omega_D / 2 pi``).
    """
    nu, g = _positive_part(*_dos_arrays(frequencies_THz, dos))
    second_moment = np.trapezoid(nu**2 * g, nu) / np.trapezoid(g, nu)
    return float(np.sqrt(5.0 / 3.0 * second_moment))


def debye_frequency_acoustic_THz(
    frequencies_THz: ArrayLike, dos: ArrayLike, fit_max_THz: float
) -> float:
    """Debye frequency from a ``nu^2`` fit of the low-frequency (acoustic) DOS.

    The DOS is normalised to one mode in total (``g_n = g / int g dnu`` over ``nu >= 0``),
    so the Debye model reads ``g_n = 3 nu^2 / nu_D^3`` whatever the number of atoms per
    cell (equivalent to ``g = 9 N nu^2 / nu_D^3`` for a DOS normalised to ``3N``).
    ``c = sum g_n nu^2 / sum nu^4`` over the grid points with ``0 < nu <= fit_max_THz``
    (least squares through the origin) and ``nu_D = (3 / c)^(1/3)``.

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_freq,)``, strictly increasing, THz.
    dos
        Shape ``(n_freq,)``, any normalisation.
    fit_max_THz
        Upper end of the fit window in THz; should lie in the linear-dispersion range of
        the acoustic branches.

    Returns
    -------
    float
        Debye frequency ``nu_D`` in THz.
    """
    nu, g = _positive_part(*_dos_arrays(frequencies_THz, dos))
    if not fit_max_THz > 0:
        raise ValueError(f"fit_max_THz must be positive, got {fit_max_THz}")
    g_norm = g / np.trapezoid(g, nu)
    window = (nu > 0) & (nu <= fit_max_THz)
    if np.count_nonzero(window) < 3:
        raise ValueError(
            f"fewer than 3 DOS points in the fit window 0 < nu <= {fit_max_THz} THz; "
            "use a finer frequency grid or a wider window"
        )
    coefficient = np.sum(g_norm[window] * nu[window] ** 2) / np.sum(nu[window] ** 4)
    if coefficient <= 0:
        raise ValueError("the low-frequency DOS has no weight; cannot fit a Debye nu^2 law")
    return float((3.0 / coefficient) ** (1.0 / 3.0))


def debye_dos(frequencies_THz: ArrayLike, debye_frequency_THz: float, n_modes: float) -> NDArray:
    """Debye-model DOS ``g(nu) = 3 n_modes nu^2 / nu_D^3`` for ``0 <= nu <= nu_D``, else 0.

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_freq,)``, THz.
    debye_frequency_THz
        ``nu_D`` in THz.
    n_modes
        Total number of modes the curve integrates to (``3N`` per cell of ``N`` atoms).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_freq,)``, modes per THz.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    inside = (nu >= 0) & (nu <= debye_frequency_THz)
    return np.where(inside, n_modes * 3.0 * nu**2 / debye_frequency_THz**3, 0.0)


def band_center_THz(frequencies_THz: ArrayLike, dos: ArrayLike) -> float:
    """Band centre (mean frequency) ``int nu g dnu / int g dnu`` over ``nu >= 0``, in THz.

    Applied to the DOS projected on the mobile species it gives the mobile-ion phonon
    band centre (Muy et al.).

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_freq,)``, strictly increasing, THz.
    dos
        Shape ``(n_freq,)``, e.g. the sum of the projected DOS of all mobile-ion sites.
    """
    nu, g = _positive_part(*_dos_arrays(frequencies_THz, dos))
    return float(np.trapezoid(nu * g, nu) / np.trapezoid(g, nu))


def species_projections(
    eigenvectors: ArrayLike, atom_species: list[str]
) -> dict[str, NDArray[np.float64]]:
    """Weight of each species in each phonon mode.

    ``P_s(q, j) = sum_{i in s} sum_alpha |e_{3i+alpha, j}(q)|^2``; for normalised
    eigenvectors ``sum_s P_s = 1``. The per-species sums are invariant under the crystal
    symmetry, so a symmetry-reduced q-mesh (with its weights) gives exact projections.

    Parameters
    ----------
    eigenvectors
        Shape ``(n_q, 3N, n_bands)``, complex; column ``j`` is the eigenvector of band
        ``j`` (phonopy's layout), row ``3i + alpha`` is atom ``i``, direction ``alpha``.
    atom_species
        Length ``N``: the species of each atom of the (primitive) cell.

    Returns
    -------
    dict
        ``{species: array of shape (n_q, n_bands)}``, dimensionless.
    """
    vecs = np.asarray(eigenvectors)
    n_atoms = len(atom_species)
    if vecs.ndim != 3 or vecs.shape[1] != 3 * n_atoms:
        raise ValueError(
            f"eigenvectors must have shape (n_q, 3N, n_bands) with N={n_atoms}, got {vecs.shape}"
        )
    weight = (np.abs(vecs) ** 2).reshape(vecs.shape[0], n_atoms, 3, vecs.shape[2]).sum(axis=2)
    labels = np.asarray(atom_species)
    return {s: weight[:, labels == s, :].sum(axis=1) for s in dict.fromkeys(atom_species)}


def band_center_from_modes_THz(
    frequencies_THz: ArrayLike, weights: ArrayLike, projection: ArrayLike
) -> float:
    """Exact band centre of a projected DOS from the modes of a q-mesh.

    ``nu_c = sum_{q,j} w_q P(q,j) nu_qj / sum_{q,j} w_q P(q,j)`` over modes with
    ``nu_qj >= 0``: the mean frequency ``int nu g_P dnu / int g_P dnu`` of the projected
    DOS ``g_P(nu) = sum w_q P(q,j) delta(nu - nu_qj)`` without smearing.

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_q, n_bands)``, THz.
    weights
        Shape ``(n_q,)``, q-point weights (multiplicities).
    projection
        Shape ``(n_q, n_bands)``, e.g. `species_projections` summed over mobile species.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    w = np.asarray(weights, dtype=float)
    p = np.asarray(projection, dtype=float)
    if nu.ndim != 2 or p.shape != nu.shape or w.shape != (nu.shape[0],):
        raise ValueError(
            f"shapes must be (n_q, n_bands), (n_q,), (n_q, n_bands); got {nu.shape}, "
            f"{w.shape}, {p.shape}"
        )
    mass = w[:, None] * p * (nu >= 0)
    if mass.sum() <= 0:
        raise ValueError("the projection has no weight at non-negative frequencies")
    return float(np.sum(mass * nu) / mass.sum())


def smeared_dos(
    frequencies_THz: ArrayLike,
    weights: ArrayLike,
    grid_THz: ArrayLike,
    sigma_THz: float,
    projection: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Gaussian-smeared (projected) DOS per cell on a frequency grid.

    ``g(nu) = sum_{q,j} w_q P(q,j) G_sigma(nu - nu_qj) / sum_q w_q`` (``P = 1`` for the
    total DOS, which then integrates to ``n_bands = 3N``).

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_q, n_bands)``, THz.
    weights
        Shape ``(n_q,)``.
    grid_THz
        Shape ``(n_freq,)``, THz.
    sigma_THz
        Gaussian standard deviation, THz.
    projection
        Shape ``(n_q, n_bands)`` or None.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_freq,)``, modes per THz per cell.
    """
    nu = np.asarray(frequencies_THz, dtype=float)
    w = np.asarray(weights, dtype=float)
    grid = np.asarray(grid_THz, dtype=float)
    p = np.ones_like(nu) if projection is None else np.asarray(projection, dtype=float)
    if sigma_THz <= 0:
        raise ValueError(f"sigma_THz must be positive, got {sigma_THz}")
    mode_weight = (w[:, None] * p).ravel() / w.sum()
    centres = nu.ravel()
    out = np.zeros_like(grid)
    norm = 1.0 / (sigma_THz * np.sqrt(2 * np.pi))
    for start in range(0, centres.size, 4096):
        c = centres[start : start + 4096]
        m = mode_weight[start : start + 4096]
        out += (m[None, :] * np.exp(-0.5 * ((grid[:, None] - c[None, :]) / sigma_THz) ** 2)).sum(
            axis=1
        )
    return out * norm


@dataclass(frozen=True)
class ImaginaryModes:
    """Summary of imaginary (negative-reported) phonon modes on a q-point set.

    Attributes
    ----------
    n_imaginary_modes
        Number of (q-point, band) pairs with ``nu < -tolerance_THz``.
    n_qpoints_with_imaginary
        Number of q-points carrying at least one imaginary mode.
    n_modes_total
        Number of (q-point, band) pairs examined.
    min_frequency_THz
        The most negative (or lowest) frequency found, THz.
    min_qpoint
        Reduced coordinates of the q-point of ``min_frequency_THz``.
    at_gamma
        True when that q-point is Γ (integer reduced coordinates).
    tolerance_THz
        Frequencies down to ``-tolerance_THz`` count as zero (acoustic modes near Γ).
    """

    n_imaginary_modes: int
    n_qpoints_with_imaginary: int
    n_modes_total: int
    min_frequency_THz: float
    min_qpoint: tuple[float, float, float]
    at_gamma: bool
    tolerance_THz: float

    @property
    def unstable(self) -> bool:
        """True when any imaginary mode was found."""
        return self.n_imaginary_modes > 0

    def describe(self) -> str:
        """One line for warnings and error messages."""
        if not self.unstable:
            return f"no imaginary modes (lowest frequency {self.min_frequency_THz:.3f} THz)"
        where = (
            "at Γ" if self.at_gamma else "at q = ({:.3f}, {:.3f}, {:.3f})".format(*self.min_qpoint)
        )
        return (
            f"dynamically unstable: {self.n_imaginary_modes} imaginary modes of "
            f"{self.n_modes_total} on {self.n_qpoints_with_imaginary} q-points, deepest "
            f"{self.min_frequency_THz:.3f} THz {where}"
        )


def imaginary_modes(
    frequencies_THz: ArrayLike,
    qpoints: ArrayLike,
    tolerance_THz: float = 0.05,
    weights: ArrayLike | None = None,
) -> ImaginaryModes:
    """Count and locate imaginary modes (reported as negative frequencies).

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_q, n_bands)``, THz; imaginary modes are negative.
    qpoints
        Shape ``(n_q, 3)``, reduced coordinates of the q-points.
    tolerance_THz
        Frequencies above ``-tolerance_THz`` count as real (numerical noise of the
        acoustic modes at Γ).
    weights
        Shape ``(n_q,)``, integer multiplicities of a symmetry-reduced mesh; counts are
        then those of the full mesh. ``None``: every q-point counts once.

    Returns
    -------
    ImaginaryModes
    """
    freqs = np.asarray(frequencies_THz, dtype=float)
    qs = np.asarray(qpoints, dtype=float)
    if freqs.ndim != 2 or qs.shape != (freqs.shape[0], 3) or freqs.size == 0:
        raise ValueError(
            f"need frequencies of shape (n_q, n_bands) and q-points (n_q, 3); got "
            f"{freqs.shape} and {qs.shape}"
        )
    if tolerance_THz < 0:
        raise ValueError(f"tolerance_THz must be >= 0, got {tolerance_THz}")
    w = np.ones(freqs.shape[0], dtype=int) if weights is None else np.asarray(weights)
    if w.shape != (freqs.shape[0],):
        raise ValueError(f"weights must have shape ({freqs.shape[0]},), got {w.shape}")
    imaginary = freqs < -tolerance_THz
    iq, _ = np.unravel_index(int(np.argmin(freqs)), freqs.shape)
    q = qs[iq]
    return ImaginaryModes(
        n_imaginary_modes=int(np.sum(imaginary.sum(axis=1) * w)),
        n_qpoints_with_imaginary=int(np.sum(imaginary.any(axis=1) * w)),
        n_modes_total=int(freqs.shape[1] * w.sum()),
        min_frequency_THz=float(freqs.min()),
        min_qpoint=(float(q[0]), float(q[1]), float(q[2])),
        at_gamma=bool(np.allclose(q, np.round(q), atol=1e-8)),
        tolerance_THz=float(tolerance_THz),
    )


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


def projected_dos_by_species(
    frequencies_THz: ArrayLike,
    weights: ArrayLike,
    eigenvectors: ArrayLike,
    atom_species: list[str],
    grid_THz: ArrayLike,
    smearing_steps: float = 3.0,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]], float]:
    """Per-species mode weights and Gaussian-smeared projected DOS on a frequency grid.

    Parameters
    ----------
    frequencies_THz
        Shape ``(n_q, n_bands)``, THz.
    weights
        Shape ``(n_q,)``, q-point multiplicities.
    eigenvectors
        Shape ``(n_q, 3N, n_bands)``, complex (`species_projections`).
    atom_species
        Length ``N``: species of the atoms of the primitive cell.
    grid_THz
        Shape ``(n_freq,)``, evenly spaced, THz (the total DOS grid).
    smearing_steps
        Gaussian standard deviation in grid steps.

    Returns
    -------
    projections : dict
        ``{species: (n_q, n_bands)}`` mode weights (`species_projections`).
    projected_dos : dict
        ``{species: (n_freq,)}`` modes/THz per cell (`smeared_dos`).
    sigma_THz : float
        The smearing used, ``smearing_steps`` grid steps.
    """
    grid = np.asarray(grid_THz, dtype=float)
    projections = species_projections(eigenvectors, atom_species)
    sigma = smearing_steps * float(grid[1] - grid[0])
    projected = {
        s: smeared_dos(frequencies_THz, weights, grid, sigma, projection=p)
        for s, p in projections.items()
    }
    return projections, projected, sigma


@dataclass(frozen=True)
class DebyeSummary:
    """Debye frequencies and mobile-ion band centre of one phonon spectrum.

    Attributes
    ----------
    debye_frequency_THz
        Moment definition (`debye_frequency_moment_THz`), THz.
    debye_frequency_acoustic_THz
        Low-frequency fit (`debye_frequency_acoustic_THz`), THz.
    acoustic_fit_max_THz
        Upper end of the fit window, THz.
    mobile_ion_band_center_THz
        Band centre of the mobile species' modes (`band_center_from_modes_THz`), THz;
        ``None`` without mobile species.
    """

    debye_frequency_THz: float
    debye_frequency_acoustic_THz: float
    acoustic_fit_max_THz: float
    mobile_ion_band_center_THz: float | None

    @property
    def debye_temperature_K(self) -> float:
        """``h nu_D / k_B`` of the moment definition, K."""
        return debye_temperature_K(self.debye_frequency_THz)

    @property
    def debye_temperature_acoustic_K(self) -> float:
        """``h nu_D / k_B`` of the low-frequency fit, K."""
        return debye_temperature_K(self.debye_frequency_acoustic_THz)


def debye_summary(
    dos_frequencies_THz: ArrayLike,
    total_dos: ArrayLike,
    mode_frequencies_THz: ArrayLike,
    weights: ArrayLike,
    projections: dict[str, ArrayLike],
    mobile_species: list[str],
    acoustic_fit_fraction: float,
) -> DebyeSummary:
    """Both Debye frequencies and the mobile-ion band centre.

    Parameters
    ----------
    dos_frequencies_THz, total_dos
        Shape ``(n_freq,)``: total DOS, modes/THz per cell.
    mode_frequencies_THz
        Shape ``(n_q, n_bands)``: the q-mesh frequencies, THz.
    weights
        Shape ``(n_q,)``: q-point multiplicities.
    projections
        ``{species: (n_q, n_bands)}`` (`species_projections`).
    mobile_species
        Species whose summed projection gives the band centre (empty: no band centre).
    acoustic_fit_fraction
        The low-frequency fit uses ``0 < nu <= fraction * max mode frequency``.

    Raises
    ------
    ValueError
        A DOS with no weight at positive frequencies (e.g. isolated atoms).
    """
    fit_max = acoustic_fit_fraction * float(np.max(mode_frequencies_THz))
    nu_moment = debye_frequency_moment_THz(dos_frequencies_THz, total_dos)
    nu_acoustic = debye_frequency_acoustic_THz(dos_frequencies_THz, total_dos, fit_max)
    band_center = None
    if mobile_species:
        band_center = band_center_from_modes_THz(
            mode_frequencies_THz, weights, sum(np.asarray(projections[s]) for s in mobile_species)
        )
    return DebyeSummary(nu_moment, nu_acoustic, fit_max, band_center)


def per_formula_unit(
    value_per_cell: float, n_atoms_cell: int, n_atoms_formula_unit: float
) -> float:
    """A per-cell (per mole of cells) quantity per formula unit (per mole of formula units).

    Parameters
    ----------
    value_per_cell
        The quantity for one cell of ``n_atoms_cell`` atoms.
    n_atoms_cell
        Atoms in the cell.
    n_atoms_formula_unit
        Atoms in one formula unit (reduced formula).
    """
    return value_per_cell / (n_atoms_cell / n_atoms_formula_unit)
