"""The comparison's ``summary.md``: levels, paired differences, significance, seeds needed.

:func:`summary_markdown` turns the comparison's tables into a short report to
paste: the points in the last year with their paired differences from the
baseline (``n.s.`` where the interval includes zero), a sentence per metric
on whether any point differs significantly and how many seeds would resolve
the metric's half-width, the exceedance probabilities, and the points missing
seeds. Pure: it returns text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.sweep.registry import metric
from scenarios.sweep.stats import BAND, CONFIDENCE
from scenarios.sweep.threshold import parse_threshold

TABLE_METRICS = (
    "hhi",
    "cr5",
    "share_online_platform",
    "online_share",
    "avg_rate",
    "served_share",
    "npl_ratio",
    "n_active",
)
"""Metrics of the summary's main table (those present)."""

SIGNIFICANCE_METRICS = (
    "hhi",
    "cr5",
    "share_online_platform",
    "share_new_online_platform",
    "avg_rate",
    "served_share",
    "npl_ratio",
    "unmet",
)
"""Metrics the summary states significance and seeds needed for (those present)."""


def _diff_cell(row: pd.Series, name: str) -> str:
    """``+12 [+3, +21]`` (paired difference and interval), ``n.s.`` if it includes zero."""
    m = metric(name)
    text = (
        f"{m.format_difference(row['diff_mean'])} [{m.format_difference(row['diff_ci_low'])}, "
        f"{m.format_difference(row['diff_ci_high'])}]"
    )
    return text if bool(row["significant"]) else text + " n.s."


def _main_table(
    table: pd.DataFrame, baseline: str, display: Mapping[str, str], last: int
) -> list[str]:
    names = [m for m in TABLE_METRICS if m in set(table["metric"])]
    if not names:
        return []
    t = table.set_index(["point", "metric"])
    header = ["point", "seeds"]
    for name in names:
        header.append(f"{metric(name).label} {last}")
        if name in ("hhi", "share_online_platform"):
            header.append(f"{metric(name).label} vs baseline [CI]")
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for point in dict.fromkeys(table["point"]):
        seeds = int(t.loc[(point, names[0]), "n_seeds"])
        label = display.get(point, point)
        if seeds == 0:
            lines.append(f"| {label} | 0 | no complete seed |" + " |" * (len(header) - 3))
            continue
        cells = [label, str(seeds)]
        for name in names:
            row = t.loc[(point, name)]
            m = metric(name)
            level = m.format(row["mean"])
            cells.append(f"{level} ({m.format(row['p05'])}-{m.format(row['p95'])})"
                         if name == "hhi" else level)
            if name in ("hhi", "share_online_platform"):
                cells.append("baseline" if point == baseline else _diff_cell(row, name))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def resolution_sentences(
    resolution: pd.DataFrame, baseline_label: str, display: Mapping[str, str]
) -> list[str]:
    """One sentence per metric: which points differ significantly, how many seeds would resolve."""
    lines = []
    for row in resolution.itertuples():
        if row.metric not in SIGNIFICANCE_METRICS or row.n_points == 0:
            continue
        m = metric(row.metric)
        width = m.format_difference(row.half_width).lstrip("+")
        if m.relative:
            width += f" ({m.resolution:.0%} of the baseline)"
        if row.n_significant == 0:
            head = f"**{m.label}**: no point differs significantly from {baseline_label}"
        else:
            names = [display.get(p, p) for p in row.significant_points.split(" | ")]
            head = (
                f"**{m.label}**: {row.n_significant} of {row.n_points} points differ "
                f"significantly from {baseline_label} ({'; '.join(names)})"
            )
        if np.isfinite(row.seeds_needed):
            sd = m.format_difference(row.max_diff_sd).lstrip("+")
            tail = (
                f"; about {int(row.seeds_needed):,} seeds would resolve {width} "
                f"(95 % half-width; largest paired sd {sd})."
            )
        else:
            tail = "; seeds needed unknown (fewer than two paired seeds)."
        lines.append(f"- {head}{tail}")
    return lines


def _exceedance_lines(exceed: pd.DataFrame, display: Mapping[str, str]) -> list[str]:
    if exceed.empty:
        return []
    lines = ["", f"**Exceedance** (share of seeds past the threshold, {CONFIDENCE:.0%} Wilson "
             "interval):", "", "| point | threshold | year | seeds | probability [CI] |",
             "| --- | --- | ---: | ---: | ---: |"]
    for row in exceed.itertuples():
        words = parse_threshold(row.threshold).describe()
        if row.n == 0:
            cell = "n/a"
        else:
            cell = f"{row.probability:.0%} [{row.ci_low:.0%}, {row.ci_high:.0%}]"
        lines.append(
            f"| {display.get(row.point, row.point)} | {words} | {row.year} | {row.k}/{row.n} "
            f"| {cell} |"
        )
    return lines


def summary_markdown(
    table: pd.DataFrame,
    baseline: str,
    failed: pd.DataFrame,
    sources: Sequence[str],
    figures: Sequence[Path],
    resolution: pd.DataFrame | None = None,
    exceed: pd.DataFrame | None = None,
    display: Mapping[str, str] | None = None,
) -> str:
    """A short Markdown report of the comparison."""
    display = dict(display or {})
    first, last = int(table["first_year"].iloc[0]), int(table["last_year"].iloc[0])
    points = list(dict.fromkeys(table["point"]))
    base_label = display.get(baseline, baseline)
    lines = [
        "# Policy comparison",
        "",
        f"Sources: {', '.join(sources)}. {len(points)} policy points; baseline: **{base_label}**.",
        f"Values are for {last} (mean across seeds, {BAND[0]:g}-{BAND[1]:g} % band in brackets "
        f"for HHI); differences are paired by seed against the baseline in the same year "
        f"(every year in `comparison_yearly.csv`), with a {CONFIDENCE:.0%} t-interval; `n.s.`: "
        "the interval includes zero. A lever set in the config acts from the first simulated "
        f"month, so the change since {first} understates it: read the difference from the "
        "baseline. HHI on the 0-10,000 scale; above 1,800 is highly concentrated and a rise of "
        "more than 100 significant (2023 US merger guidelines).",
        "",
        *_main_table(table, baseline, display, last),
    ]
    if resolution is not None and not resolution.empty:
        lines += ["", f"**Significance and seeds needed** ({last}):", ""]
        lines += resolution_sentences(resolution, base_label, display)
    if exceed is not None:
        lines += _exceedance_lines(exceed, display)
    missing = table.groupby("point", sort=False)["missing_seeds"].first()
    missing = missing[missing != ""]
    lines.append("")
    if missing.empty:
        lines.append("Every point has every seed.")
    else:
        lines.append("**Points missing seeds** (failed or not run; see failed.csv):")
        lines += [f"- {point}: seed {seeds_}" for point, seeds_ in missing.items()]
    if not failed.empty:
        lines += ["", f"**{len(failed)} job(s) not complete:**"]
        for row in failed.itertuples():
            error = str(row.error).splitlines()[0][:200] if row.error else ""
            lines.append(f"- job {row.job} ({row.point}, seed {row.seed}): {row.status}. {error}")
    lines += ["", "Figures: " + ", ".join(f"`{p.name}`" for p in figures), ""]
    return "\n".join(lines)
