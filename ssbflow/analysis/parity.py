"""Computed-versus-published statistics: errors of numeric values, checks of rankings.

Pure numerics (numpy only). Values keep the unit they come in (J/m^2 for energies per
area, degrees for contact angles); never mix units in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class ParityStatistics:
    """Error statistics of computed against published values (same unit as the inputs).

    Attributes
    ----------
    n
        Number of (published, computed) pairs.
    mae
        Mean absolute error, mean(|computed - published|).
    rmse
        Root-mean-square error, sqrt(mean((computed - published)**2)).
    max_abs_error
        Largest |computed - published|.
    mean_signed_error
        mean(computed - published); positive when the computation overestimates.
    """

    n: int
    mae: float
    rmse: float
    max_abs_error: float
    mean_signed_error: float


def differences(published: Sequence[float], computed: Sequence[float]) -> np.ndarray:
    """Signed differences ``computed - published``.

    Parameters
    ----------
    published, computed
        Shape (n,), same unit.

    Returns
    -------
    numpy.ndarray
        Shape (n,).

    Raises
    ------
    ValueError
        Different lengths or non-finite values.
    """
    p = np.asarray(published, dtype=float)
    c = np.asarray(computed, dtype=float)
    if p.shape != c.shape or p.ndim != 1:
        raise ValueError(
            f"published and computed must be 1-D of equal length, got {p.shape}, {c.shape}"
        )
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(c))):
        raise ValueError("published and computed values must be finite")
    return c - p


def relative_differences(published: Sequence[float], computed: Sequence[float]) -> np.ndarray:
    """Relative differences ``(computed - published) / |published|``.

    Parameters
    ----------
    published, computed
        Shape (n,), same unit.

    Returns
    -------
    numpy.ndarray
        Shape (n,), dimensionless; NaN where the published value is 0 (undefined).
    """
    diff = differences(published, computed)
    p = np.abs(np.asarray(published, dtype=float))
    out = np.full_like(diff, np.nan)
    nonzero = p > 0
    out[nonzero] = diff[nonzero] / p[nonzero]
    return out


def parity_statistics(published: Sequence[float], computed: Sequence[float]) -> ParityStatistics:
    """MAE, RMSE, maximum absolute error and mean signed error.

    Parameters
    ----------
    published, computed
        Shape (n,), n >= 1, same unit.

    Returns
    -------
    ParityStatistics

    Raises
    ------
    ValueError
        No pairs (statistics of nothing are undefined, not zero), or bad inputs.
    """
    diff = differences(published, computed)
    if diff.size == 0:
        raise ValueError("no (published, computed) pairs: error statistics are undefined")
    abs_diff = np.abs(diff)
    return ParityStatistics(
        n=int(diff.size),
        mae=float(abs_diff.mean()),
        rmse=float(np.sqrt(np.mean(diff**2))),
        max_abs_error=float(abs_diff.max()),
        mean_signed_error=float(diff.mean()),
    )


@dataclass(frozen=True)
class OrderingResult:
    """Outcome of checking a published ranking against computed values.

    Attributes
    ----------
    passed
        True when every evaluated pair is ordered as claimed, False when one is not, None
        when fewer than two members have values (not evaluated).
    n_members
        Members in the claim.
    evaluated
        Indices (into the claim) of members that have a computed value.
    violated_pairs
        Pairs (i, j), i before j in the claim, whose computed values contradict it.
    margins
        For each evaluated adjacent pair (i, j): signed margin, positive when the claim
        holds (``v_i - v_j`` for '>', ``v_j - v_i`` for '<'), in the unit of the values.
    """

    passed: bool | None
    n_members: int
    evaluated: tuple[int, ...]
    violated_pairs: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    margins: tuple[tuple[int, int, float], ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        """True when every member of the claim had a value."""
        return len(self.evaluated) == self.n_members


def evaluate_ordering(
    values: Sequence[float | None], direction: Literal[">", "<"]
) -> OrderingResult:
    """Check the chain ``v0 > v1 > v2 ...`` (or ``<``) on computed values.

    Members without a value (None or NaN) are left out; the claim being a chain, every
    remaining pair (i < j) must still satisfy it, so a claim is checked on the members
    that could be computed. Comparisons are strict and use no tolerance: equal values
    violate the claim.

    Parameters
    ----------
    values
        Shape (n_members,): computed value of each member in claim order, or None.
    direction
        ``">"`` (decreasing chain) or ``"<"`` (increasing chain).

    Returns
    -------
    OrderingResult
    """
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', got {direction!r}")
    present = [
        (i, float(v)) for i, v in enumerate(values) if v is not None and np.isfinite(float(v))
    ]
    evaluated = tuple(i for i, _ in present)
    if len(present) < 2:
        return OrderingResult(passed=None, n_members=len(values), evaluated=evaluated)
    sign = 1.0 if direction == ">" else -1.0
    violated = []
    for a in range(len(present)):
        for b in range(a + 1, len(present)):
            (i, vi), (j, vj) = present[a], present[b]
            if not sign * (vi - vj) > 0:
                violated.append((i, j))
    margins = tuple(
        (present[a][0], present[a + 1][0], sign * (present[a][1] - present[a + 1][1]))
        for a in range(len(present) - 1)
    )
    return OrderingResult(
        passed=not violated,
        n_members=len(values),
        evaluated=evaluated,
        violated_pairs=tuple(violated),
        margins=margins,
    )
