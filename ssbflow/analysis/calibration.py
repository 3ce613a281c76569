"""Calibration of ML potentials against a reference (DFT): errors, signs and rankings.

Pure numerics (numpy only). Values keep the unit they come in (J/m² for surface
energies and works of adhesion); never mix units in one call. The error statistics are
those of `ssbflow.analysis.parity` (MAE, maximum |error|, mean signed error), with the
reference in the place of the published value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ssbflow.analysis.parity import parity_statistics


def _pairs(reference: Sequence[float], predicted: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(reference, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if r.shape != p.shape or r.ndim != 1:
        raise ValueError(
            f"reference and predicted must be 1-D of equal length, got {r.shape}, {p.shape}"
        )
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(p))):
        raise ValueError("reference and predicted values must be finite")
    return r, p


def sign_agreement(reference: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Fraction of pairs whose predicted value has the sign of the reference value.

    Used for the work of adhesion: a positive W_ad binds, a negative one repels. A zero
    agrees only with a zero.

    Parameters
    ----------
    reference, predicted
        Shape (n,), same unit.

    Returns
    -------
    float or None
        In [0, 1]; None when n = 0.
    """
    r, p = _pairs(reference, predicted)
    if r.size == 0:
        return None
    return float(np.mean(np.sign(r) == np.sign(p)))


def pairwise_order_agreement(
    reference: Sequence[float], predicted: Sequence[float]
) -> float | None:
    """Fraction of pairs (i, j) that the prediction orders as the reference does.

    Pairs whose reference values are equal are left out (no order to agree with); a
    predicted tie of a reference-ordered pair counts as a disagreement. Comparisons use
    no tolerance.

    Parameters
    ----------
    reference, predicted
        Shape (n,), same unit.

    Returns
    -------
    float or None
        In [0, 1]; None when no pair has distinct reference values (n < 2).
    """
    r, p = _pairs(reference, predicted)
    agree = total = 0
    for i in range(r.size):
        for j in range(i + 1, r.size):
            dr = r[i] - r[j]
            if dr == 0:
                continue
            total += 1
            agree += int(np.sign(p[i] - p[j]) == np.sign(dr))
    return None if total == 0 else agree / total


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=float)
    ranks[order] = np.arange(1, x.size + 1, dtype=float)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman_rho(reference: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Spearman rank correlation (Pearson correlation of average ranks).

    Returns
    -------
    float or None
        In [-1, 1]; None when n < 2 or either set of values is constant.
    """
    r, p = _pairs(reference, predicted)
    if r.size < 2:
        return None
    rr, rp = _average_ranks(r), _average_ranks(p)
    if np.ptp(rr) == 0 or np.ptp(rp) == 0:
        return None
    return float(np.corrcoef(rr, rp)[0, 1])


@dataclass(frozen=True)
class QuantityScore:
    """How well one potential reproduces the reference on one quantity.

    Attributes
    ----------
    quantity
        e.g. "gamma_metal", "gamma_electrolyte", "work_of_adhesion".
    n
        Number of (reference, predicted) pairs.
    mae, max_abs_error, mean_signed_error, rmse
        In the unit of the values; mean signed error = mean(predicted − reference),
        positive when the potential overestimates.
    sign_agreement
        Fraction of equal signs (None when not asked for).
    pairwise_order_agreement
        Fraction of pairs ordered as by the reference (None when fewer than two values).
    spearman
        Spearman rank correlation (None when undefined).
    """

    quantity: str
    n: int
    mae: float
    max_abs_error: float
    mean_signed_error: float
    rmse: float
    sign_agreement: float | None
    pairwise_order_agreement: float | None
    spearman: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)


def score_quantity(
    quantity: str,
    reference: Sequence[float],
    predicted: Sequence[float],
    with_sign: bool = False,
) -> QuantityScore:
    """Error, sign and ranking statistics of ``predicted`` against ``reference``.

    Parameters
    ----------
    quantity
        Name of the quantity (kept in the result).
    reference, predicted
        Shape (n,), n ≥ 1, same unit.
    with_sign
        Also report the sign agreement (for works of adhesion).

    Raises
    ------
    ValueError
        No pairs, different lengths or non-finite values.
    """
    r, p = _pairs(reference, predicted)
    stats = parity_statistics(r, p)
    return QuantityScore(
        quantity=quantity,
        n=stats.n,
        mae=stats.mae,
        max_abs_error=stats.max_abs_error,
        mean_signed_error=stats.mean_signed_error,
        rmse=stats.rmse,
        sign_agreement=sign_agreement(r, p) if with_sign else None,
        pairwise_order_agreement=pairwise_order_agreement(r, p),
        spearman=spearman_rho(r, p),
    )


def relative_times(times_s: dict[str, float], baseline: str) -> dict[str, float | None]:
    """Each time divided by the baseline's (None where the baseline time is not positive).

    Parameters
    ----------
    times_s
        Name -> time, s (e.g. mean time per structure of each potential).
    baseline
        Key of the reference time (e.g. "chgnet").
    """
    base = times_s.get(baseline)
    if base is None or not base > 0:
        return {k: None for k in times_s}
    return {k: float(v / base) for k, v in times_s.items()}
