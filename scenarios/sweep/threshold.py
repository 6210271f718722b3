"""Thresholds on a metric (``hhi>1800``, ``served_share<0.65``) and how often runs cross them.

A :class:`Threshold` is read from text by :func:`parse_threshold`; it tells
for each run whether the metric crosses it in one year or in any year up to
it (:func:`run_outcomes`), and, for groups of runs (the seeds of a policy
point), the share that do with a Wilson interval (:func:`exceedance`). Pure:
nothing is read or written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.sweep.registry import metric
from scenarios.sweep.stats import CONFIDENCE, wilson_interval

_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<|=)\s*([-+0-9.eE_,]+)\s*$")
_WORDS = {">": "exceeds", ">=": "reaches", "<": "falls below", "<=": "is at most"}


@dataclass(frozen=True)
class Threshold:
    """A metric compared with a value: ``metric op value`` (op one of > >= < <=)."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        """The threshold as written on the command line: ``hhi>1800``."""
        return f"{self.metric}{self.op}{self.value:g}"

    def holds(self, values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
        """Boolean array: where ``values`` cross the threshold (never where not finite)."""
        x = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            out = {
                ">": x > self.value,
                ">=": x >= self.value,
                "<": x < self.value,
                "<=": x <= self.value,
            }[self.op]
        return out & np.isfinite(x)

    def describe(self) -> str:
        """The threshold in words: ``HHI exceeds 1,800``."""
        m = metric(self.metric)
        return f"{m.label} {_WORDS[self.op]} {m.format(self.value)}"


def parse_threshold(text: str) -> Threshold:
    """``hhi>1800``, ``served_share<0.65`` or ``hhi=1800`` (read as ``>``) as a Threshold.

    Raises:
        ValueError: The text is not ``METRIC OP NUMBER`` or the metric is unknown
            (the message lists the known ones).
    """
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(
            f"{text!r}: expected METRIC>VALUE or METRIC<VALUE (e.g. hhi>1800, served_share<0.65)"
        )
    name, op, number = match.groups()
    metric(name)  # unknown metric: the error lists the known ones
    try:
        value = float(number.replace("_", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"{text!r}: {number!r} is not a number") from None
    return Threshold(name, ">" if op == "=" else op, value)


def run_outcomes(
    yearly: pd.DataFrame,
    run_columns: Sequence[str],
    threshold: Threshold,
    year: int,
    any_year: bool = False,
) -> pd.DataFrame:
    """Per run: the metric and whether it crosses ``threshold`` in ``year`` (or any year to it).

    Args:
        yearly: One row per run and year, with ``year``, ``run_columns`` and the metric.
        run_columns: Columns naming a run (e.g. design row and seed).
        threshold: What counts as crossing.
        year: The year looked at (``any_year``: the last year looked at).
        any_year: Count a run that crosses in any year up to ``year``.

    Returns:
        ``run_columns``, ``value`` (the metric in ``year``, or with ``any_year``
        its most extreme value in the direction of the threshold) and ``hit``.

    Raises:
        ValueError: No row has ``year`` (the message lists the years there are).
    """
    if threshold.metric not in yearly.columns:
        raise ValueError(f"metric {threshold.metric!r} is not in the runs' yearly table")
    years = sorted(int(y) for y in yearly["year"].unique())
    if int(year) not in years:
        raise ValueError(f"year {year} is not simulated; years: {years}")
    rows = yearly[yearly["year"] <= year] if any_year else yearly[yearly["year"] == year]
    grouped = rows.groupby(list(run_columns), sort=True, dropna=False)[threshold.metric]
    agg = "max" if threshold.op in (">", ">=") else "min"
    values = grouped.agg(agg) if any_year else grouped.mean()
    out = values.rename("value").reset_index()
    out["hit"] = threshold.holds(out["value"])
    return out


def exceedance(
    outcomes: pd.DataFrame, group_columns: Sequence[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Share of runs with ``hit`` per group, with its Wilson interval.

    Returns:
        ``group_columns``, ``k`` (runs crossing), ``n`` (runs with a finite
        value), ``probability``, ``ci_low``, ``ci_high``.
    """
    rows = []
    finite = outcomes[np.isfinite(outcomes["value"].astype(float))]
    groups = finite.groupby(list(group_columns), sort=False, dropna=False) if group_columns else [
        ((), finite)
    ]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        w = wilson_interval(int(group["hit"].sum()), len(group), confidence)
        rows.append(
            {
                **dict(zip(group_columns, key, strict=True)),
                "k": w.k,
                "n": w.n,
                "probability": w.p,
                "ci_low": w.low,
                "ci_high": w.high,
            }
        )
    columns = [*group_columns, "k", "n", "probability", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)
