"""The comparison's tables: every metric of every point against the baseline, year by year.

Pure functions of the stacked yearly table (one row per job and year, with a
``point`` column naming its policy point and a ``seed``):

* :func:`yearly_comparison`: per point, metric and year, the mean and band
  across seeds and the paired difference from the baseline point in the same
  year (matched on seed) with its t-interval, a significance flag and the
  seeds a chosen half-width would need;
* :func:`comparison_table`: the last year of that, with the change from the
  first year beside it (``comparison.csv``);
* :func:`exceedance_table`: per point and threshold, the share of seeds whose
  metric crosses it in the last year, with a Wilson interval;
* :func:`resolution_summary`: per metric, whether any point differs
  significantly and how many seeds would resolve the metric's half-width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scenarios.sweep.registry import metric
from scenarios.sweep.stats import (
    CONFIDENCE,
    seeds_needed,
    significant,
    summarize,
    t_interval,
)
from scenarios.sweep.threshold import Threshold, exceedance, run_outcomes


def seed_means(yearly: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """``metrics`` by point, year and seed (mean where a seed appears twice)."""
    return yearly.groupby(["point", "year", "seed"], sort=True)[list(metrics)].mean()


def half_widths(
    metrics: Sequence[str], overrides: Mapping[str, float] | None = None
) -> dict[str, tuple[float, bool]]:
    """Half-width to resolve per metric and whether it is relative to the baseline's mean.

    The registry's, unless ``overrides`` gives one (then absolute, in the metric's unit).
    """
    out = {m: (metric(m).resolution, metric(m).relative) for m in metrics}
    out.update({k: (float(v), False) for k, v in (overrides or {}).items() if k in out})
    return out


def _width(spec: tuple[float, bool], baseline_mean: float) -> float:
    value, relative = spec
    return value * abs(baseline_mean) if relative else value


def yearly_comparison(
    yearly: pd.DataFrame,
    points: pd.DataFrame,
    keys: Sequence[str],
    baseline: str,
    metrics: Sequence[str],
    resolution: Mapping[str, float] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Per point, metric and year: level across seeds and paired difference from the baseline.

    Returns:
        One row per point, metric and year: the point's parameters, ``metric`` and
        its ``label`` (with the unit, from the registry), ``baseline``
        (is it the baseline point), ``n_seeds``, ``mean``, ``p05``, ``p95``,
        ``diff_mean``, ``diff_sd``, ``diff_ci_low``, ``diff_ci_high``,
        ``n_pairs``, ``significant`` (the interval excludes zero), ``half_width``
        and ``seeds_needed`` (for an interval of that half-width, from the
        observed paired sd).
    """
    widths = half_widths(metrics, resolution)
    means = seed_means(yearly, metrics)
    years = sorted(int(y) for y in yearly["year"].dropna().unique())
    have_base = baseline in means.index.get_level_values(0)
    base = means.xs(baseline, level="point") if have_base else None
    rows = []
    for p in points.to_dict("records"):
        label = p["point"]
        for year in years:
            try:
                frame = means.loc[(label, year)]
            except KeyError:
                frame = pd.DataFrame(columns=list(metrics), dtype=float)
            other = base.loc[year] if base is not None and year in base.index else None
            for name in metrics:
                level = summarize(frame[name])
                if other is None:
                    diff, width = t_interval([]), _width(widths[name], np.nan)
                else:
                    diff = t_interval((frame[name] - other[name]).dropna(), confidence)
                    width = _width(widths[name], float(other[name].mean()))
                rows.append(
                    {
                        "point": label,
                        **{k: p[k] for k in keys},
                        "metric": name,
                        "label": metric(name).axis_label,
                        "year": year,
                        "baseline": label == baseline,
                        "n_seeds": level.n,
                        "mean": level.mean,
                        "p05": level.low,
                        "p95": level.high,
                        "diff_mean": diff.mean,
                        "diff_sd": diff.sd,
                        "diff_ci_low": diff.ci_low,
                        "diff_ci_high": diff.ci_high,
                        "n_pairs": diff.n,
                        "significant": label != baseline and significant(diff),
                        "half_width": width,
                        "seeds_needed": seeds_needed(diff.sd, width, confidence),
                    }
                )
    return pd.DataFrame(rows)


def comparison_table(
    yearly: pd.DataFrame,
    points: pd.DataFrame,
    keys: Sequence[str],
    baseline: str,
    all_seeds: Sequence[int],
    metrics: Sequence[str],
    by_year: pd.DataFrame | None = None,
    resolution: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per point and metric: the last year of :func:`yearly_comparison` and the change over time.

    ``change_*`` is the last year minus the first on each seed (mean and band);
    ``missing_seeds`` lists the seeds of ``all_seeds`` the point lacks.
    """
    if by_year is None:
        by_year = yearly_comparison(yearly, points, keys, baseline, metrics, resolution)
    first, last = int(yearly["year"].min()), int(yearly["year"].max())
    means = seed_means(yearly, metrics)
    present = yearly.groupby("point")["seed"].agg(lambda s: sorted({int(v) for v in s}))
    last_rows = by_year[by_year["year"] == last].set_index(["point", "metric"])
    rows = []
    for p in points.to_dict("records"):
        label = p["point"]
        have = present.get(label, [])
        missing = sorted(set(all_seeds) - set(have))
        for name in metrics:
            row = last_rows.loc[(label, name)]
            try:
                change = summarize(
                    (means.loc[(label, last)][name] - means.loc[(label, first)][name]).dropna()
                )
            except KeyError:
                change = summarize([])
            rows.append(
                {
                    "point": label,
                    **{k: p[k] for k in keys},
                    "metric": name,
                    "label": metric(name).axis_label,
                    "baseline": label == baseline,
                    "first_year": first,
                    "last_year": last,
                    "n_seeds": len(have),
                    "missing_seeds": " ".join(map(str, missing)),
                    "mean": row["mean"],
                    "p05": row["p05"],
                    "p95": row["p95"],
                    "change_mean": change.mean,
                    "change_p05": change.low,
                    "change_p95": change.high,
                    "diff_mean": row["diff_mean"],
                    "diff_ci_low": row["diff_ci_low"],
                    "diff_ci_high": row["diff_ci_high"],
                    "n_pairs": row["n_pairs"],
                    "diff_sd": row["diff_sd"],
                    "significant": bool(row["significant"]),
                    "half_width": row["half_width"],
                    "seeds_needed": row["seeds_needed"],
                }
            )
    return pd.DataFrame(rows)


def exceedance_table(
    yearly: pd.DataFrame,
    points: pd.DataFrame,
    keys: Sequence[str],
    thresholds: Sequence[Threshold],
    year: int | None = None,
) -> pd.DataFrame:
    """Per threshold and point: seeds past it in ``year`` (default the last), Wilson interval."""
    year = int(yearly["year"].max()) if year is None else int(year)
    frames = []
    for threshold in thresholds:
        if threshold.metric not in yearly.columns:
            continue
        outcomes = run_outcomes(yearly, ["point", "seed"], threshold, year)
        table = exceedance(outcomes, ["point"])
        table = points[["point", *keys]].merge(table, on="point", how="left")
        table[["k", "n"]] = table[["k", "n"]].fillna(0).astype(int)
        table.insert(len(keys) + 1, "threshold", threshold.text)
        table.insert(len(keys) + 2, "year", year)
        frames.append(table)
    if not frames:
        return pd.DataFrame(
            columns=["point", *keys, "threshold", "year", "k", "n", "probability", "ci_low",
                     "ci_high"]
        )
    return pd.concat(frames, ignore_index=True)


def resolution_summary(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per metric: points differing significantly, the largest paired sd, seeds needed.

    ``seeds_needed`` is the most any non-baseline point needs for the
    metric's half-width (so that every point's difference would be resolved).
    """
    rows = []
    others = table[~table["baseline"].astype(bool)]
    for name in metrics:
        t = others[others["metric"] == name]
        sd = t["diff_sd"].astype(float)
        need = t["seeds_needed"].astype(float)
        rows.append(
            {
                "metric": name,
                "n_points": len(t),
                "n_significant": int(t["significant"].astype(bool).sum()),
                "significant_points": " | ".join(t.loc[t["significant"].astype(bool), "point"]),
                "max_diff_sd": float(sd.max()) if sd.notna().any() else np.nan,
                "half_width": float(t["half_width"].iloc[0]) if len(t) else np.nan,
                "seeds_needed": float(need.max()) if need.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows)
