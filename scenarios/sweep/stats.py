"""Pure statistics for sweeps: bands across seeds, summaries, paired differences.

Every function takes plain numbers (sequences, numpy arrays or pandas Series)
and returns numbers; none reads or writes files. Non-finite values (a seed
whose metric is undefined, e.g. HHI of an empty market) are dropped first.

* Bands are the 5th and 95th percentiles across seeds, numpy's default
  (linear interpolation between order statistics): with 5 seeds the 5 %
  point lies a fifth of the way from the smallest to the second smallest.
* Paired differences match two points seed by seed (common random numbers)
  and give a two-sided Student-t interval on their mean,
  ``mean +/- t_{1 - alpha/2, n-1} * sd / sqrt(n)`` with the sample standard
  deviation (``ddof=1``); with one pair the interval is undefined (nan).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

BAND = (5.0, 95.0)
"""Percentiles of the band across seeds."""

CONFIDENCE = 0.95
"""Coverage of the t-interval on paired differences."""


def finite(values: ArrayLike) -> np.ndarray:
    """``values`` as a 1-D float array without nan or infinities."""
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


@dataclass(frozen=True)
class Summary:
    """Mean and band of one metric across seeds."""

    n: int
    mean: float
    low: float
    high: float


def summarize(values: ArrayLike, band: tuple[float, float] = BAND) -> Summary:
    """Mean and ``band`` percentiles of the finite ``values`` (nan when there are none)."""
    x = finite(values)
    if x.size == 0:
        return Summary(0, np.nan, np.nan, np.nan)
    low, high = np.percentile(x, band)
    return Summary(int(x.size), float(x.mean()), float(low), float(high))


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``policy - baseline`` over matched seeds, with a t-interval."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float


def t_interval(diffs: ArrayLike, confidence: float = CONFIDENCE) -> PairedDifference:
    """Student-t interval for the mean of ``diffs`` (nan bounds with fewer than two values)."""
    d = finite(diffs)
    n = int(d.size)
    if n == 0:
        return PairedDifference(0, np.nan, np.nan, np.nan, np.nan)
    mean = float(d.mean())
    if n < 2:
        return PairedDifference(n, mean, np.nan, np.nan, np.nan)
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n)
    return PairedDifference(n, mean, sd, mean - half, mean + half)


def paired_difference(
    policy: Mapping[int, float],
    baseline: Mapping[int, float],
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """``policy - baseline`` on the seeds both have (finite values only), with a t-interval.

    Args:
        policy: Metric by seed at the policy point.
        baseline: Metric by seed at the baseline point.
        confidence: Coverage of the two-sided interval.
    """
    seeds = sorted(set(policy) & set(baseline))
    diffs = np.array([float(policy[s]) - float(baseline[s]) for s in seeds], dtype=float)
    return t_interval(diffs, confidence)


def changes(first: Mapping[int, float], last: Mapping[int, float]) -> dict[int, float]:
    """``last - first`` for each seed present in both."""
    return {s: float(last[s]) - float(first[s]) for s in sorted(set(first) & set(last))}


def missing_seeds(expected: ArrayLike, present: ArrayLike) -> list[int]:
    """Seeds of ``expected`` not in ``present``, sorted."""
    have = {int(s) for s in np.asarray(present).ravel()}
    return sorted({int(s) for s in np.asarray(expected).ravel()} - have)


def significant(diff: PairedDifference) -> bool:
    """True when the interval on a paired difference lies wholly above or below zero."""
    if not (np.isfinite(diff.ci_low) and np.isfinite(diff.ci_high)):
        return False
    return bool(diff.ci_low > 0 or diff.ci_high < 0)


def seeds_needed(sd: float, half_width: float, confidence: float = CONFIDENCE) -> float:
    """Seeds for a ``confidence`` interval of half-width ``half_width`` on a paired mean.

    ``n = ceil((z * sd / h) ** 2)`` with ``z`` the normal quantile at
    ``0.5 + confidence / 2`` (1.96 at 95 %), at least 2 (a t-interval needs
    two pairs); nan when ``sd`` is not finite or ``half_width`` not positive.
    """
    if not (np.isfinite(sd) and np.isfinite(half_width)) or half_width <= 0:
        return float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return float(max(2, int(np.ceil((z * sd / half_width) ** 2 - 1e-9))))


def seeds_to_exclude_zero(effect: PairedDifference, most: int = 10_000) -> int | None:
    """Fewest seeds whose 95 % t-interval, at this mean and spread, would exclude 0.

    None when the mean is 0 or the spread unknown, or when more than ``most``
    seeds would be needed.
    """
    if not (math.isfinite(effect.sd) and effect.mean):
        return None
    ratio = abs(effect.mean) / effect.sd if effect.sd > 0 else math.inf
    for n in range(2, most + 1):
        if stats.t.ppf(0.975, n - 1) / math.sqrt(n) < ratio:
            return n
    return None


@dataclass(frozen=True)
class Proportion:
    """``k`` of ``n`` with a Wilson score interval."""

    k: int
    n: int
    p: float
    low: float
    high: float


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> Proportion:
    """The share ``k / n`` with its Wilson score interval (nan for ``n = 0``).

    ``(p + z^2/2n +/- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``z``
    the normal quantile at ``0.5 + confidence / 2``.

    Raises:
        ValueError: ``k`` is negative or above ``n``.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Proportion(0, 0, np.nan, np.nan, np.nan)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    low = 0.0 if k == 0 else max(0.0, (centre - spread) / denominator)
    high = 1.0 if k == n else min(1.0, (centre + spread) / denominator)
    return Proportion(int(k), int(n), float(p), float(low), float(high))
