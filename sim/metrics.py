"""Market-structure statistics on vectors of amounts and shares.

Every function here is pure: it takes numpy arrays (or anything
``np.asarray`` accepts) and returns a float, an array or a dict, never touching
the model. An empty vector, or one whose entries are all zero, is an *empty
market*; concentration is undefined there, so the indices return ``nan``.

Scales:

* Shares are fractions in [0, 1] that sum to 1 (see :func:`shares`).
* The Herfindahl-Hirschman index (:func:`hhi`) is on the 0-10,000 scale,
  ``10,000 * sum(s_i ** 2)``: 10,000 for a monopoly and ``10,000 / n`` for
  ``n`` equal lenders. The 2023 US merger guidelines (DoJ/FTC) call a market
  with HHI above 1,800 highly concentrated and a change of more than 100
  points significant (:data:`HHI_HIGHLY_CONCENTRATED`,
  :data:`HHI_SIGNIFICANT_CHANGE`).
* Concentration ratios (:func:`concentration_ratio`) are fractions in [0, 1].
* Shannon entropy (:func:`entropy`) is in nats, from 0 (monopoly) to
  ``ln n`` (``n`` equal lenders).
* The Hannah-Kay index (:func:`hannah_kay`) is a numbers-equivalent: the
  number of equal-sized lenders that would give the same concentration, from
  1 to ``n``. With ``alpha = 2`` it equals ``10,000 / HHI``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

HHI_HIGHLY_CONCENTRATED: float = 1800.0
"""HHI above which the 2023 US merger guidelines call a market highly concentrated."""

HHI_SIGNIFICANT_CHANGE: float = 100.0
"""HHI change above which the 2023 US merger guidelines call a change significant."""

HHI_SCALE: float = 10_000.0
"""HHI of a monopoly: shares are squared and multiplied by this."""


def _nonnegative_vector(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float array; raise ValueError if negative or not finite."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative")
    return array


def _market_shares(values: ArrayLike) -> np.ndarray | None:
    """Validated share vector, or None for an empty market (no entries or all zero)."""
    array = _nonnegative_vector(values, "shares")
    if array.sum() <= 0:
        return None
    return array


def shares(amounts: ArrayLike) -> np.ndarray:
    """Fractions of the total held by each entry of ``amounts``.

    Args:
        amounts: Non-negative, finite amounts (e.g. loan volume per lender).

    Returns:
        An array of the same length summing to 1. If the total is 0 (including
        an empty vector) every share is 0: the market is empty and concentration
        is undefined, which the indices report as ``nan``.

    Raises:
        ValueError: If an amount is negative or not finite.
    """
    array = _nonnegative_vector(amounts, "amounts")
    total = array.sum()
    if total <= 0:
        return np.zeros_like(array)
    return array / total


def hhi(shares: ArrayLike) -> float:
    """Herfindahl-Hirschman index on the 0-10,000 scale: ``10,000 * sum(s ** 2)``.

    Args:
        shares: Market shares as fractions summing to 1 (see :func:`shares`).

    Returns:
        The index, or ``nan`` when the shares sum to 0 (no market).
    """
    market = _market_shares(shares)
    if market is None:
        return float("nan")
    return float(HHI_SCALE * np.sum(market**2))


def concentration_ratio(shares: ArrayLike, n: int) -> float:
    """CRn: the combined share of the ``n`` largest lenders.

    Args:
        shares: Market shares as fractions summing to 1.
        n: How many of the largest shares to add (at least 1); if the market
            has fewer lenders, all are added.

    Returns:
        A fraction in [0, 1], or ``nan`` for an empty market.

    Raises:
        ValueError: If ``n`` is less than 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    market = _market_shares(shares)
    if market is None:
        return float("nan")
    return float(np.sort(market)[::-1][:n].sum())


def entropy(shares: ArrayLike) -> float:
    """Shannon entropy ``-sum(s * ln s)`` in nats, taking ``0 * ln 0 = 0``.

    Args:
        shares: Market shares as fractions summing to 1.

    Returns:
        From 0 (monopoly) to ``ln n`` (``n`` equal lenders), or ``nan`` for an
        empty market.
    """
    market = _market_shares(shares)
    if market is None:
        return float("nan")
    positive = market[market > 0]
    return float(-np.sum(positive * np.log(positive)))


def hannah_kay(shares: ArrayLike, alpha: float = 2.0) -> float:
    """Hannah-Kay numbers-equivalent index ``(sum s ** alpha) ** (1 / (1 - alpha))``.

    The number of equal-sized lenders that would be as concentrated as this
    market; larger ``alpha`` weighs the big lenders more. With ``alpha = 2`` it
    is ``10,000 / HHI``; its limit at ``alpha = 1`` is ``exp(entropy)``.

    Args:
        shares: Market shares as fractions summing to 1.
        alpha: Elasticity, positive and not 1.

    Returns:
        From 1 (monopoly) to ``n`` (``n`` equal lenders), or ``nan`` for an
        empty market.

    Raises:
        ValueError: If ``alpha`` is not positive or equals 1.
    """
    if not alpha > 0 or alpha == 1:
        raise ValueError(f"alpha must be positive and not 1 (use exp(entropy)), got {alpha}")
    market = _market_shares(shares)
    if market is None:
        return float("nan")
    # In logs (log-sum-exp), so s ** alpha cannot underflow for large alpha and
    # the 0 / 0 limit stays accurate for alpha near 1.
    logs = alpha * np.log(market[market > 0])
    top = logs.max()
    log_sum = top + np.log(np.sum(np.exp(logs - top)))
    return float(np.exp(log_sum / (1.0 - alpha)))


def group_shares(
    amounts: ArrayLike, groups: ArrayLike, group_names: Sequence[str]
) -> dict[str, float]:
    """Share of the total amount held by each group.

    Args:
        amounts: Non-negative, finite amounts, one per entity.
        groups: The group of each entity, either as a string from
            ``group_names`` or as an integer index into ``group_names``.
        group_names: The distinct group names, in the order of the result.

    Returns:
        ``{name: share}`` for every name in ``group_names`` (absent groups get
        0). The shares sum to 1, or are all 0 if the total amount is 0, as in
        :func:`shares`.

    Raises:
        ValueError: If the lengths differ, a name repeats, an amount is
            negative or not finite, or a label is not one of the groups.
        TypeError: If ``groups`` holds neither integers nor strings.
    """
    names = [str(name) for name in group_names]
    if len(set(names)) != len(names):
        raise ValueError(f"group_names must be distinct, got {names}")
    fractions = shares(amounts)
    labels = np.asarray(groups)
    if labels.shape != fractions.shape:
        raise ValueError(f"groups has shape {labels.shape} but amounts has shape {fractions.shape}")
    if labels.size == 0:
        return dict.fromkeys(names, 0.0)
    if labels.dtype.kind in "iu":
        if labels.min() < 0 or labels.max() >= len(names):
            raise ValueError(f"group codes must lie in [0, {len(names)}), got {labels}")
        codes = labels
    elif labels.dtype.kind in "USO":
        index = {name: code for code, name in enumerate(names)}
        unknown = sorted({str(label) for label in labels} - index.keys())
        if unknown:
            raise ValueError(f"groups {unknown} are not among group_names {names}")
        codes = np.array([index[str(label)] for label in labels], dtype=int)
    else:
        raise TypeError(f"groups must hold integers or strings, got dtype {labels.dtype}")
    totals = np.bincount(codes, weights=fractions, minlength=len(names))
    return {name: float(total) for name, total in zip(names, totals, strict=True)}


def weighted_mean(values: ArrayLike, weights: ArrayLike) -> float:
    """Mean of ``values`` weighted by ``weights`` (e.g. loan rate by loan volume).

    Values with zero weight are ignored, so they may be ``nan``.

    Args:
        values: The values to average.
        weights: Non-negative, finite weights, one per value.

    Returns:
        ``sum(w * v) / sum(w)``, or ``nan`` when the weights sum to 0
        (including empty vectors).

    Raises:
        ValueError: If the lengths differ or a weight is negative or not finite.
    """
    vals = np.asarray(values, dtype=float)
    wts = _nonnegative_vector(weights, "weights")
    if vals.shape != wts.shape:
        raise ValueError(f"values has shape {vals.shape} but weights has shape {wts.shape}")
    used = wts > 0
    total = wts[used].sum()
    if total <= 0:
        return float("nan")
    return float(np.dot(vals[used], wts[used]) / total)


def safe_ratio(num: float, den: float) -> float:
    """``num / den``, or ``nan`` when ``den`` is 0 (e.g. a default rate with no loans)."""
    if den == 0:
        return float("nan")
    return float(num) / float(den)


def merger_hhi_effect(share_acquirer: float, share_target: float) -> float:
    """Static effect of a merger on HHI (0-10,000 scale): ``2 s_a s_t x 10,000``.

    The rise in HHI if the two market shares (fractions) simply add up:
    ``(s_a + s_t)^2 - s_a^2 - s_t^2 = 2 s_a s_t``.
    """
    return 2.0 * share_acquirer * share_target * HHI_SCALE


def histogram_quantiles(weights: ArrayLike, bin_width: float, qs: ArrayLike) -> np.ndarray:
    """Weighted quantiles ``qs`` of values binned as ``weights[k]`` on ``[k w, (k + 1) w)``.

    Linear within a bin (values spread evenly across it), so exact to within one
    bin width; NaN for every quantile when the weights sum to zero.
    """
    w = np.asarray(weights, dtype=float)
    qs = np.asarray(qs, dtype=float)
    total = w.sum()
    if total <= 0:
        return np.full(qs.shape, np.nan)
    cum = np.concatenate(([0.0], np.cumsum(w)))
    target = qs * total
    k = np.clip(np.searchsorted(cum, target, side="left") - 1, 0, w.size - 1)
    inside = np.where(w[k] > 0, (target - cum[k]) / np.where(w[k] > 0, w[k], 1.0), 0.0)
    return (k + inside) * bin_width
