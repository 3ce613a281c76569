"""Tracer diffusivity of a mobile species from an MD trajectory, with an honest uncertainty.

The mean-squared displacement (MSD) and its fit are delegated to kinisi
(McCluskey et al., J. Chem. Theory Comput. 2024, doi:10.1021/acs.jctc.4c01249):

- positions are unwrapped from consecutive frames (minimum image in fractional
  coordinates; triclinic cells are handled by kinisi's 8-image search), so frames must be
  sampled often enough that no atom moves more than half a cell between two frames;
- the drift of the framework (all atoms that are not of the mobile species; equal
  weights, kinisi's convention) is subtracted from every displacement;
- the MSD is averaged over all non-overlapping time origins and mobile atoms, its
  covariance between time intervals is modelled, and D comes from a Bayesian
  generalised-least-squares fit of MSD = 6 D t + c over the diffusive window. The
  reported standard error is the standard deviation of the posterior of D; it accounts for
  the strong correlation of MSD points, which an ordinary least-squares error does not.

Pure numerics: arrays in, a frozen dataclass out; no file I/O, no jobflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ssbflow.errors import InputError

#: 1 Å²/ps in cm²/s.
A2_PER_PS_TO_CM2_PER_S = 1e-4

#: Default threshold on the rise of the fitted MSD across the fit window (Å²). Below it the
#: mobile ions have, on average, made less than about one hop and D is not trustworthy.
DEFAULT_MIN_MSD_INCREASE_A2 = 3.0

#: Minimum number of frames for an MSD fit.
MIN_FRAMES = 8


@dataclass(frozen=True)
class DiffusivityResult:
    """Tracer diffusivity at one temperature.

    Attributes
    ----------
    temperature_K
        Temperature of the trajectory (K).
    diffusivity_cm2_per_s
        Posterior mean of the tracer diffusivity D (cm²/s).
    diffusivity_stderr_cm2_per_s
        Posterior standard deviation of D (cm²/s).
    diffusivity_ci95_cm2_per_s
        Central 95 % credible interval of D (cm²/s).
    time_interval_ps
        Time intervals of the MSD curve, shape (n_dt,), ps.
    msd_A2
        MSD of the mobile species, shape (n_dt,), Å².
    msd_stderr_A2
        Standard error of each MSD value, shape (n_dt,), Å².
    fit_start_ps, fit_end_ps
        The diffusive window fitted (ps).
    msd_intercept_A2
        Posterior mean of the fitted intercept (Å²).
    msd_increase_over_fit_A2
        Rise of the fitted line over the fit window, 6 D (t_end - t_start) (Å²).
    framework_msd_A2
        Drift-corrected MSD of the framework atoms over the longest interval (Å²);
        ``None`` when there is no framework. A large value means the framework melts or
        reorganises.
    n_mobile, n_atoms, n_frames
        Counts of mobile atoms, all atoms and frames.
    frame_interval_ps
        Time between frames (ps).
    volume_A3
        Mean cell volume (Å³).
    too_small
        True when ``msd_increase_over_fit_A2`` is below the threshold.
    flag_reason
        Why the temperature should not be fitted, or ``None``.
    """

    temperature_K: float
    diffusivity_cm2_per_s: float
    diffusivity_stderr_cm2_per_s: float
    diffusivity_ci95_cm2_per_s: tuple[float, float]
    time_interval_ps: np.ndarray
    msd_A2: np.ndarray
    msd_stderr_A2: np.ndarray
    fit_start_ps: float
    fit_end_ps: float
    msd_intercept_A2: float
    msd_increase_over_fit_A2: float
    framework_msd_A2: float | None
    n_mobile: int
    n_atoms: int
    n_frames: int
    frame_interval_ps: float
    volume_A3: float
    too_small: bool
    flag_reason: str | None = None
    notes: list[str] = field(default_factory=list)


def check_trajectory(
    positions_A: np.ndarray,
    cells_A: np.ndarray,
    symbols: Sequence[str],
    species: str,
    cell_tolerance_A: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a trajectory and return it as arrays.

    Parameters
    ----------
    positions_A
        Cartesian positions, shape (n_frames, n_atoms, 3), Å (wrapped or not).
    cells_A
        Cell vectors as rows, shape (3, 3) or (n_frames, 3, 3), Å.
    symbols
        Chemical symbols, length n_atoms.
    species
        Mobile species, e.g. ``"Li"``.
    cell_tolerance_A
        Largest allowed difference of any cell component from the first frame's (Å).

    Returns
    -------
    positions_A, cells_A
        Float arrays of shapes (n_frames, n_atoms, 3) and (n_frames, 3, 3).

    Raises
    ------
    InputError
        Fewer than `MIN_FRAMES` frames, no atom of ``species``, inconsistent shapes, or
        cells that differ between frames (NPT trajectories are not supported).
    """
    positions = np.asarray(positions_A, dtype=float)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise InputError(f"positions must have shape (n_frames, n_atoms, 3), got {positions.shape}")
    n_frames, n_atoms = positions.shape[:2]
    if n_frames < 2:
        raise InputError(
            "the trajectory has a single frame; an MSD needs a time series — give an MD "
            "trajectory with many frames"
        )
    if n_frames < MIN_FRAMES:
        raise InputError(
            f"the trajectory has only {n_frames} frames; an MSD fit needs at least "
            f"{MIN_FRAMES} (better hundreds) — sample the MD more often or run it longer"
        )
    if len(symbols) != n_atoms:
        raise InputError(f"{len(symbols)} symbols given for {n_atoms} atoms")
    if species not in set(symbols):
        present = ", ".join(sorted(set(symbols)))
        raise InputError(
            f"no {species} atoms in the trajectory (it contains {present}); "
            "choose one of those with species",
            field="species",
        )
    if not np.all(np.isfinite(positions)):
        raise InputError("the trajectory contains non-finite positions (NaN or inf)")
    cells = np.asarray(cells_A, dtype=float)
    if cells.shape == (3, 3):
        cells = np.broadcast_to(cells, (n_frames, 3, 3)).copy()
    if cells.shape != (n_frames, 3, 3):
        raise InputError(f"cells must have shape (3, 3) or ({n_frames}, 3, 3), got {cells.shape}")
    deviation = np.abs(cells - cells[0]).max()
    if deviation > cell_tolerance_A:
        frame = int(np.argmax(np.abs(cells - cells[0]).reshape(n_frames, -1).max(axis=1)))
        raise InputError(
            f"the cell of frame {frame} differs from the first frame's by {deviation:.3g} Å; "
            "give a constant-volume (NVT/NVE) trajectory"
        )
    if abs(np.linalg.det(cells[0])) < 1e-6:
        raise InputError("the cell has zero volume; give a periodic 3-D trajectory")
    return positions, cells


def tracer_diffusivity(
    positions_A: np.ndarray,
    cells_A: np.ndarray,
    symbols: Sequence[str],
    species: str,
    frame_interval_ps: float,
    temperature_K: float,
    *,
    fit_start_fraction: float = 0.1,
    max_interval_fraction: float = 0.5,
    n_time_intervals: int = 100,
    min_msd_increase_A2: float = DEFAULT_MIN_MSD_INCREASE_A2,
    n_samples: int = 1000,
    seed: int = 0,
) -> DiffusivityResult:
    """Tracer diffusivity of ``species`` from one trajectory (kinisi).

    Parameters
    ----------
    positions_A
        Cartesian positions, shape (n_frames, n_atoms, 3), Å; wrapped or unwrapped.
    cells_A
        Cell vectors as rows, shape (3, 3) or (n_frames, 3, 3), Å; constant.
    symbols
        Chemical symbols, length n_atoms.
    species
        Mobile species.
    frame_interval_ps
        Time between consecutive frames (ps), > 0.
    temperature_K
        Temperature of the run (K), > 0; only carried into the result.
    fit_start_fraction
        Start of the fitted diffusive window, as a fraction of the trajectory length.
    max_interval_fraction
        Longest time interval analysed, as a fraction of the trajectory length (longer
        intervals have too few independent origins).
    n_time_intervals
        Number of time intervals (linearly spaced) at which the MSD is evaluated.
    min_msd_increase_A2
        Flag the result when the fitted MSD rises less than this over the fit window (Å²).
    n_samples
        MCMC samples of the posterior (kinisi, 32 walkers, thinned by 10).
    seed
        Seed of the MCMC; numpy's global random state is restored afterwards.

    Returns
    -------
    DiffusivityResult

    Raises
    ------
    InputError
        Bad trajectory (see `check_trajectory`), non-positive time or temperature, or a
        fit window without enough time intervals.
    """
    _check_fit_options(frame_interval_ps, temperature_K, fit_start_fraction, max_interval_fraction)
    positions, cells = check_trajectory(positions_A, cells_A, symbols, species)
    n_frames, n_atoms = positions.shape[:2]

    from kinisi.analyze import DiffusionAnalyzer

    analyzer, fit_start_ps = _kinisi_fit(
        DiffusionAnalyzer,
        "diffusion",
        positions,
        cells,
        symbols,
        species,
        frame_interval_ps,
        fit_start_fraction,
        max_interval_fraction,
        n_time_intervals,
        n_samples,
        seed,
    )

    samples = np.asarray(analyzer.D.values, dtype=float)
    time_ps = np.asarray(analyzer.da.coords["time interval"].values, dtype=float)
    msd = np.asarray(analyzer.msd.values, dtype=float)
    msd_err = np.sqrt(np.asarray(analyzer.msd.variances, dtype=float))
    intercept = float(np.mean(analyzer.diff.intercept.values))
    fit_end_ps = float(time_ps[-1])
    fit_start_actual = float(time_ps[time_ps >= fit_start_ps - 1e-12][0])
    d_mean = float(np.mean(samples))
    d_std = float(np.std(samples, ddof=1))
    lo, hi = (float(x) for x in np.percentile(samples, [2.5, 97.5]))
    slope_A2_per_ps = d_mean / A2_PER_PS_TO_CM2_PER_S * 6.0
    rise = slope_A2_per_ps * (fit_end_ps - fit_start_actual)

    framework_msd = _framework_msd(analyzer, symbols, species)
    volume = float(np.mean(np.abs(np.linalg.det(cells))))
    too_small = bool(rise < min_msd_increase_A2)
    reason = None
    if too_small:
        reason = (
            f"MSD rises only {rise:.2g} Å² over the fit window "
            f"({fit_start_actual:.3g}-{fit_end_ps:.3g} ps), below {min_msd_increase_A2:g} Å²: "
            "too few hops for a trustworthy D (run longer or hotter)"
        )
    notes = []
    if framework_msd is not None and framework_msd > min_msd_increase_A2:
        notes.append(
            f"framework atoms moved {framework_msd:.2g} Å² (MSD) at {temperature_K:g} K: "
            "the framework may melt or change phase"
        )
    return DiffusivityResult(
        temperature_K=float(temperature_K),
        diffusivity_cm2_per_s=d_mean,
        diffusivity_stderr_cm2_per_s=d_std,
        diffusivity_ci95_cm2_per_s=(lo, hi),
        time_interval_ps=time_ps,
        msd_A2=msd,
        msd_stderr_A2=msd_err,
        fit_start_ps=fit_start_actual,
        fit_end_ps=fit_end_ps,
        msd_intercept_A2=intercept,
        msd_increase_over_fit_A2=float(rise),
        framework_msd_A2=framework_msd,
        n_mobile=int(sum(1 for s in symbols if s == species)),
        n_atoms=int(n_atoms),
        n_frames=int(n_frames),
        frame_interval_ps=float(frame_interval_ps),
        volume_A3=volume,
        too_small=too_small,
        flag_reason=reason,
        notes=notes,
    )


def _check_fit_options(
    frame_interval_ps: float,
    temperature_K: float,
    fit_start_fraction: float,
    max_interval_fraction: float,
) -> None:
    if not np.isfinite(frame_interval_ps) or frame_interval_ps <= 0:
        raise InputError(
            f"the time between frames must be positive, got {frame_interval_ps} ps; "
            "check frame_interval_ps",
            field="frame_interval_ps",
        )
    if not np.isfinite(temperature_K) or temperature_K <= 0:
        raise InputError(f"temperature must be positive, got {temperature_K} K")
    if not 0 <= fit_start_fraction < max_interval_fraction <= 1:
        raise InputError(
            "need 0 <= fit_start_fraction < max_interval_fraction <= 1, got "
            f"{fit_start_fraction} and {max_interval_fraction}"
        )


def _kinisi_fit(
    analyzer_class: type,
    method: str,
    positions: np.ndarray,
    cells: np.ndarray,
    symbols: Sequence[str],
    species: str,
    frame_interval_ps: float,
    fit_start_fraction: float,
    max_interval_fraction: float,
    n_time_intervals: int,
    n_samples: int,
    seed: int,
) -> tuple[object, float]:
    """Build a kinisi analyzer on checked arrays and run its Bayesian fit.

    Returns the analyzer and the requested start of the fit window (ps). numpy's global
    random state, which kinisi seeds, is restored afterwards.
    """
    import scipp as sc
    from ase import Atoms

    n_frames = positions.shape[0]
    max_index = int(np.floor(max_interval_fraction * (n_frames - 1)))
    indices = np.unique(np.linspace(1, max_index, n_time_intervals).round().astype(int))
    indices = indices[indices >= 1]
    duration_ps = (n_frames - 1) * frame_interval_ps
    fit_start_ps = max(fit_start_fraction * duration_ps, frame_interval_ps)
    n_fit = int(np.sum(indices * frame_interval_ps >= fit_start_ps - 1e-12))
    if n_fit < 3:
        raise InputError(
            f"only {n_fit} time intervals fall in the fit window of a {n_frames}-frame "
            "trajectory; give a longer trajectory or more frames"
        )
    frames = [
        Atoms(list(symbols), positions=p, cell=c, pbc=True)
        for p, c in zip(positions, cells, strict=True)
    ]
    state = np.random.get_state()  # noqa: NPY002 - kinisi seeds the global RNG; restore it
    try:
        analyzer = analyzer_class.from_ase(
            frames,
            specie=species,
            time_step=sc.scalar(float(frame_interval_ps), unit="ps"),
            step_skip=sc.scalar(1),
            dt=sc.array(
                dims=["time interval"], values=indices * float(frame_interval_ps), unit="ps"
            ),
            progress=False,
        )
        getattr(analyzer, method)(
            start_dt=sc.scalar(float(fit_start_ps), unit="ps"),
            n_samples=n_samples,
            progress=False,
            random_state=np.random.RandomState(seed),
        )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return analyzer, fit_start_ps


@dataclass(frozen=True)
class CollectiveDiffusivityResult:
    """Collective (jump, "charge") diffusivity of the mobile species at one temperature.

    Attributes
    ----------
    temperature_K
        Temperature of the trajectory (K).
    collective_diffusivity_cm2_per_s
        Posterior mean of D_J = lim <|Σ_i Δr_i(t)|²> / (6 N t) over the N mobile ions
        (cm²/s). For uncorrelated hops D_J = D*; correlated hops make them differ.
    collective_diffusivity_stderr_cm2_per_s
        Posterior standard deviation of D_J (cm²/s). The collective displacement is one
        vector per time origin, so D_J is about √N times noisier than D* from the same run.
    collective_diffusivity_ci95_cm2_per_s
        Central 95 % credible interval (cm²/s).
    fit_start_ps, fit_end_ps
        The fitted window (ps).
    n_mobile
        Number of mobile ions N.
    """

    temperature_K: float
    collective_diffusivity_cm2_per_s: float
    collective_diffusivity_stderr_cm2_per_s: float
    collective_diffusivity_ci95_cm2_per_s: tuple[float, float]
    fit_start_ps: float
    fit_end_ps: float
    n_mobile: int


def collective_diffusivity(
    positions_A: np.ndarray,
    cells_A: np.ndarray,
    symbols: Sequence[str],
    species: str,
    frame_interval_ps: float,
    temperature_K: float,
    *,
    fit_start_fraction: float = 0.1,
    max_interval_fraction: float = 0.5,
    n_time_intervals: int = 100,
    n_samples: int = 1000,
    seed: int = 0,
) -> CollectiveDiffusivityResult:
    """Collective (jump) diffusivity D_J of ``species`` from one trajectory (kinisi).

    The mean-squared total displacement of the mobile ions (framework drift removed, as
    for the tracer D) is fitted like the MSD in `tracer_diffusivity`, with the same
    parameters and the same window; kinisi's ``JumpDiffusionAnalyzer`` models its
    covariance and samples the posterior of D_J. D_J enters the Haven ratio
    H_R = D* / D_J (`haven_ratio`) and the Nernst–Einstein conductivity without the
    uncorrelated-hop assumption.

    Parameters
    ----------
    positions_A, cells_A, symbols, species, frame_interval_ps, temperature_K
        As in `tracer_diffusivity`: shapes (n_frames, n_atoms, 3) and (3, 3) or
        (n_frames, 3, 3), Å; time between frames in ps; temperature in K.
    fit_start_fraction, max_interval_fraction, n_time_intervals, n_samples, seed
        As in `tracer_diffusivity`.

    Returns
    -------
    CollectiveDiffusivityResult

    Raises
    ------
    InputError
        Bad trajectory or options (the same checks as `tracer_diffusivity`), or no
        framework (every atom mobile: D_J is then centre-of-mass motion).
    """
    _check_fit_options(frame_interval_ps, temperature_K, fit_start_fraction, max_interval_fraction)
    positions, cells = check_trajectory(positions_A, cells_A, symbols, species)
    if all(s == species for s in symbols):
        raise InputError(
            f"every atom is {species}: their total displacement is the centre-of-mass "
            "motion, which momentum conservation keeps at zero, so D_J has no meaning here"
        )
    from kinisi.analyze import JumpDiffusionAnalyzer

    analyzer, fit_start_ps = _kinisi_fit(
        JumpDiffusionAnalyzer,
        "jump_diffusion",
        positions,
        cells,
        symbols,
        species,
        frame_interval_ps,
        fit_start_fraction,
        max_interval_fraction,
        n_time_intervals,
        n_samples,
        seed,
    )
    samples = np.asarray(analyzer.D_J.values, dtype=float)
    if str(analyzer.D_J.unit) != "cm^2/s":  # pragma: no cover - kinisi's documented unit
        raise ValueError(f"kinisi returned D_J in {analyzer.D_J.unit}, expected cm^2/s")
    time_ps = np.asarray(analyzer.da.coords["time interval"].values, dtype=float)
    lo, hi = (float(x) for x in np.percentile(samples, [2.5, 97.5]))
    return CollectiveDiffusivityResult(
        temperature_K=float(temperature_K),
        collective_diffusivity_cm2_per_s=float(np.mean(samples)),
        collective_diffusivity_stderr_cm2_per_s=float(np.std(samples, ddof=1)),
        collective_diffusivity_ci95_cm2_per_s=(lo, hi),
        fit_start_ps=float(time_ps[time_ps >= fit_start_ps - 1e-12][0]),
        fit_end_ps=float(time_ps[-1]),
        n_mobile=int(sum(1 for s in symbols if s == species)),
    )


def haven_ratio(
    tracer_cm2_per_s: float,
    tracer_stderr_cm2_per_s: float,
    collective_cm2_per_s: float,
    collective_stderr_cm2_per_s: float,
) -> tuple[float, float]:
    """Haven ratio H_R = D* / D_J and its standard error (first-order propagation).

    Parameters
    ----------
    tracer_cm2_per_s, tracer_stderr_cm2_per_s
        Tracer diffusivity D* and its standard error (cm²/s), D* > 0.
    collective_cm2_per_s, collective_stderr_cm2_per_s
        Collective diffusivity D_J and its standard error (cm²/s), D_J > 0.

    Returns
    -------
    (float, float)
        H_R and σ(H_R) = H_R √((σ*/D*)² + (σ_J/D_J)²), dimensionless.

    Raises
    ------
    InputError
        A non-positive diffusivity or a negative error.
    """
    if not (tracer_cm2_per_s > 0 and collective_cm2_per_s > 0):
        raise InputError(
            f"the Haven ratio needs positive D* and D_J, got {tracer_cm2_per_s:.3g} and "
            f"{collective_cm2_per_s:.3g} cm²/s"
        )
    if tracer_stderr_cm2_per_s < 0 or collective_stderr_cm2_per_s < 0:
        raise InputError("standard errors must be >= 0")
    ratio = tracer_cm2_per_s / collective_cm2_per_s
    rel = np.hypot(
        tracer_stderr_cm2_per_s / tracer_cm2_per_s,
        collective_stderr_cm2_per_s / collective_cm2_per_s,
    )
    return float(ratio), float(ratio * rel)


def _framework_msd(analyzer, symbols: Sequence[str], species: str) -> float | None:
    """Drift-corrected MSD of the framework atoms at the last frame (Å²)."""
    framework = np.array([i for i, s in enumerate(symbols) if s != species], dtype=int)
    if framework.size == 0:
        return None
    disp = np.asarray(analyzer.trajectory.disp.values, dtype=float)  # (obs, particle, 3)
    fw = disp[:, framework, :]
    fw = fw - fw.mean(axis=1, keepdims=True)
    return float(np.mean(np.sum(fw[-1] ** 2, axis=-1)))


def unwrap_positions_A(positions_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Unwrap a trajectory by the minimum-image convention between consecutive frames.

    Independent of kinisi; used for checks and plots. Valid when no atom moves more than
    half a cell width between two frames.

    Parameters
    ----------
    positions_A
        Cartesian positions, shape (n_frames, n_atoms, 3), Å.
    cell_A
        Constant cell, rows are lattice vectors, shape (3, 3), Å.

    Returns
    -------
    numpy.ndarray
        Unwrapped Cartesian positions, shape (n_frames, n_atoms, 3), Å, continuous in time
        and equal to the input in the first frame.
    """
    positions = np.asarray(positions_A, dtype=float)
    cell = np.asarray(cell_A, dtype=float)
    frac = positions @ np.linalg.inv(cell)
    step = np.diff(frac, axis=0)
    step -= np.round(step)
    unwrapped = np.concatenate([frac[:1], frac[:1] + np.cumsum(step, axis=0)])
    return unwrapped @ cell


def nearest_neighbour_distance_A(
    positions_A: np.ndarray, cell_A: np.ndarray, indices: Sequence[int]
) -> float:
    """Shortest periodic distance between two of the atoms ``indices`` (Å).

    Used as the default jump distance: the mobile ions' nearest-neighbour separation.

    Parameters
    ----------
    positions_A
        Cartesian positions of one frame, shape (n_atoms, 3), Å.
    cell_A
        Cell, rows are lattice vectors, shape (3, 3), Å.
    indices
        Atoms to consider (at least one; a single atom gives its distance to its own
        periodic image).

    Returns
    -------
    float
        Distance in Å.
    """
    idx = np.asarray(indices, dtype=int)
    if idx.size == 0:
        raise InputError("no atoms of the mobile species to measure a jump distance")
    cell = np.asarray(cell_A, dtype=float)
    frac = np.asarray(positions_A, dtype=float)[idx] @ np.linalg.inv(cell)
    diff = frac[:, None, :] - frac[None, :, :]
    diff -= np.round(diff)
    shifts = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T
    vectors = (diff[:, :, None, :] + shifts[None, None]) @ cell
    dist = np.linalg.norm(vectors, axis=-1)
    n = len(idx)
    dist[np.arange(n), np.arange(n), shifts.tolist().index([0, 0, 0])] = np.inf
    return float(dist.min())


def relative_stderr(result: DiffusivityResult) -> float:
    """σ(D*) / D*: the precision of a tracer diffusivity (``inf`` when D* <= 0)."""
    d = result.diffusivity_cm2_per_s
    return float(result.diffusivity_stderr_cm2_per_s / d) if d > 0 else float("inf")


def framework_rmsd_A(positions_A: np.ndarray, framework_indices: Sequence[int]) -> float | None:
    """Root-mean-square displacement of the framework atoms, last frame against the first.

    The mean displacement of the framework (drift of the whole sublattice) is removed
    first. A solid framework vibrates about its sites (RMSD of a few tenths of an Å); a
    molten or collapsing one keeps moving away (RMSD of several Å after some ps).

    Parameters
    ----------
    positions_A
        Unwrapped Cartesian positions (as integrated by the MD), shape
        (n_frames, n_atoms, 3), Å.
    framework_indices
        Indices of the non-mobile atoms.

    Returns
    -------
    float or None
        RMSD in Å, or ``None`` without framework atoms.
    """
    idx = np.asarray(framework_indices, dtype=int)
    if idx.size == 0:
        return None
    positions = np.asarray(positions_A, dtype=float)
    disp = positions[-1, idx] - positions[0, idx]
    disp -= disp.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(disp**2, axis=-1))))


@dataclass(frozen=True)
class StopDecision:
    """Whether an adaptive production run stops after the trajectory analysed so far.

    Attributes
    ----------
    stop
        True to stop now.
    kind
        "precision" (target reached), "max_duration" (ceiling reached), "hopeless"
        (the target would need more than ``hopeless_factor`` times the ceiling),
        or "continue".
    reason
        A sentence for the document (``None`` while continuing).
    relative_stderr
        σ(D*)/D* of the analysis the decision used (``None`` without one).
    projected_duration_ps
        Duration expected to reach the target, t (σ/D / target)² (the error of D* falls
        as 1/√t for a diffusive trajectory); ``None`` when D* is not measurable yet.
    """

    stop: bool
    kind: str
    reason: str | None
    relative_stderr: float | None
    projected_duration_ps: float | None


def precision_stop_decision(
    result: DiffusivityResult | None,
    duration_ps: float,
    target_relative_stderr: float,
    max_duration_ps: float,
    hopeless_factor: float = 3.0,
    min_duration_for_projection_ps: float = 0.0,
) -> StopDecision:
    """Decide whether an adaptive MD run has measured D* to the target precision.

    Parameters
    ----------
    result
        `tracer_diffusivity` of the whole trajectory so far, or ``None`` when it could not
        be analysed yet (too few frames).
    duration_ps
        Length of that trajectory (ps).
    target_relative_stderr
        Wanted σ(D*)/D* (e.g. 0.1).
    max_duration_ps
        Ceiling on the run (ps).
    hopeless_factor
        Stop early when the projected duration exceeds this multiple of the ceiling (and
        the MSD rose enough for the projection to mean something).
    min_duration_for_projection_ps
        No "hopeless" stop before this duration (short runs give noisy projections).

    Returns
    -------
    StopDecision
        Target reached only when D* is usable: the MSD rose by more than the threshold
        (``result.too_small`` is False), so the final analysis keeps the temperature.
    """
    rel = relative_stderr(result) if result is not None else None
    usable = result is not None and not result.too_small and rel is not None
    projected = None
    if usable and np.isfinite(rel):
        projected = float(duration_ps * (rel / target_relative_stderr) ** 2)
    if usable and rel <= target_relative_stderr:
        return StopDecision(
            True,
            "precision",
            f"target precision reached: σ(D*)/D* = {rel:.3f} <= {target_relative_stderr:g} "
            f"after {duration_ps:.3g} ps",
            rel,
            projected,
        )
    if duration_ps >= max_duration_ps * (1 - 1e-9):
        if result is None:
            why = "trajectory too short to analyse"
        elif result.too_small:
            why = result.flag_reason or "MSD rise too small"
        else:
            why = f"σ(D*)/D* = {rel:.3f} > {target_relative_stderr:g}"
        return StopDecision(
            True,
            "max_duration",
            f"maximum duration {max_duration_ps:g} ps reached before the target precision ({why})",
            rel,
            projected,
        )
    if (
        projected is not None
        and duration_ps >= min_duration_for_projection_ps
        and projected > hopeless_factor * max_duration_ps
    ):
        return StopDecision(
            True,
            "hopeless",
            f"stopped after {duration_ps:.3g} ps: σ(D*)/D* = {rel:.3f} projects to "
            f"{projected:.3g} ps for {target_relative_stderr:g}, more than {hopeless_factor:g} x "
            f"the {max_duration_ps:g} ps ceiling",
            rel,
            projected,
        )
    return StopDecision(False, "continue", None, rel, projected)


def sublattice_rmsd_A(
    positions_A: np.ndarray, symbols: Sequence[str], species: str
) -> dict[str, float]:
    """RMSD of each non-mobile element, last frame against the first (Å).

    The drift of the whole framework (all atoms not ``species``) is removed first. A
    framework that melts moves every sublattice; one whose polyanions rotate (PS4 in a
    rotor phase) moves the outer atoms (S) but not the centres (P). The least mobile
    sublattice therefore tells breakdown apart from rotation.

    Parameters
    ----------
    positions_A
        Unwrapped Cartesian positions, shape (n_frames, n_atoms, 3), Å.
    symbols
        Chemical symbols, length n_atoms.
    species
        Mobile species (left out).

    Returns
    -------
    dict
        Element -> RMSD (Å); empty without framework atoms.
    """
    positions = np.asarray(positions_A, dtype=float)
    symbols = list(symbols)
    framework = np.array([i for i, s in enumerate(symbols) if s != species], dtype=int)
    if framework.size == 0:
        return {}
    disp = positions[-1, framework] - positions[0, framework]
    disp -= disp.mean(axis=0)
    out = {}
    for element in sorted({symbols[i] for i in framework}):
        mask = np.array([symbols[i] == element for i in framework])
        out[element] = float(np.sqrt(np.mean(np.sum(disp[mask] ** 2, axis=-1))))
    return out
