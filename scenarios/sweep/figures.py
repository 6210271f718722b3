"""The comparison's figures: metrics by year with bands across seeds, and a heat map.

Each figure is drawn from the comparison's long tables (``point`` labels the
policy point of every row) and written atomically as PNG:

* ``concentration.png``: HHI and CR5 by year, one line per point with its band,
  the 1,800 line and the baseline's first-year HHI + 100 (2023 US merger
  guidelines);
* ``type_shares.png``: share of each lender type by year, one panel per type;
With more than :data:`HIGHLIGHT` points, the baseline and the points lowest
and highest in the last year are drawn in colour and the rest in grey; the
legend is outside the axes. The dose-response figure and the heat map are in
:mod:`scenarios.sweep.response_figures`.

Each PNG (300 dpi) has an SVG beside it and a caption under it naming the
scenarios, the seeds, the hash of the runs' config hashes and the version
(:func:`sweep_caption`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from scenarios.sweep.registry import METRICS
from scenarios.sweep.stats import summarize
from sim.metrics import HHI_HIGHLY_CONCENTRATED, HHI_SIGNIFICANT_CHANGE
from sim.output.atomic import save_figure
from sim.output.plots import TYPE_LABELS, figure_caption

FORMATS = {name: m.fmt for name, m in METRICS.items()}
"""How each metric is written in tables, labels and the summary (from the registry)."""


def configs_hash(hashes: Sequence[Any]) -> str:
    """One short hash for a set of runs: SHA-256 of their sorted config hashes."""
    text = ",".join(sorted(str(h) for h in hashes if isinstance(h, str) and h))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sweep_caption(jobs: pd.DataFrame) -> str:
    """The caption of a sweep's figures, from its jobs table (``scenario``, ``seed``, hashes)."""
    done = jobs[jobs["status"] == "complete"] if "status" in jobs else jobs
    scenarios = [str(s) for s in done["scenario"].dropna()]
    seeds = [int(s) for s in done["seed"].dropna()]
    hashes = list(done["config_hash"]) if "config_hash" in done else []
    config = f"set {configs_hash(hashes)} ({len(done)} runs)"
    return figure_caption(scenarios, seeds, config)


def format_value(value: Any) -> str:
    """A parameter value as written in point labels: ``default`` when unset, floats by %g."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def yearly_bands(yearly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and band of ``metric`` across seeds, per point and year."""
    rows = []
    for (point, year), group in yearly.groupby(["point", "year"], sort=False):
        s = summarize(group[metric])
        rows.append({"point": point, "year": year, "mean": s.mean, "low": s.low, "high": s.high})
    return pd.DataFrame(rows, columns=["point", "year", "mean", "low", "high"])


HIGHLIGHT = 8
"""Above this many points, lines are grey except the baseline and the extremes."""


def highlighted(yearly: pd.DataFrame, metric: str, order: Sequence[str], baseline: str | None):
    """The points drawn in colour: all up to :data:`HIGHLIGHT`, else baseline, lowest, highest.

    The lowest and highest are by the metric's mean in the last year.
    """
    if len(order) <= HIGHLIGHT:
        return list(order)
    last = yearly[yearly["year"] == yearly["year"].max()].groupby("point")[metric].mean()
    last = last.reindex(list(order)).dropna()
    extremes = [last.idxmin(), last.idxmax()] if len(last) else []
    keep = [p for p in (baseline, *extremes) if p]
    return list(dict.fromkeys(p for p in keep if p in order))


def _band_lines(ax, yearly, metric, order, scale=1.0, baseline=None, display=None) -> None:
    """Mean and band by year per point; with many points, grey lines and a few in colour.

    The points in colour are chosen by HHI (when the table has it) in every panel, so a
    point keeps its colour across panels and figures.
    """
    display = display or {}
    bands = yearly_bands(yearly, metric)
    shown = highlighted(yearly, "hhi" if "hhi" in yearly else metric, order, baseline)
    colours = plt.get_cmap("tab10")
    for point in order:
        b = bands[bands["point"] == point].sort_values("year")
        if b.empty:
            continue
        if point not in shown:
            ax.plot(b["year"], b["mean"] * scale, color="0.75", lw=0.8, zorder=1,
                    label=f"other points ({len(order) - len(shown)})")
            continue
        i = shown.index(point)
        colour = "black" if point == baseline and len(order) > HIGHLIGHT else colours(i % 10)
        name = display.get(point, point) + (" (baseline)" if point == baseline else "")
        ax.plot(b["year"], b["mean"] * scale, marker="o", ms=3, color=colour, label=name, zorder=3)
        ax.fill_between(b["year"], b["low"] * scale, b["high"] * scale, color=colour, alpha=0.15)
    ax.grid(alpha=0.3)
    ax.set_xlabel("Year")


def _legend(fig, ax) -> None:
    """One legend outside the axes, each label once."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="outside right upper", fontsize=7)


def plot_concentration(yearly, order, baseline, out_dir: Path, caption=None, display=None) -> Path:
    """HHI and CR5 by year per point with 5-95 % bands and the merger-guideline lines."""
    fig, (hhi_ax, cr5_ax) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    _band_lines(hhi_ax, yearly, "hhi", order, baseline=baseline, display=display)
    hhi_ax.axhline(
        HHI_HIGHLY_CONCENTRATED, color="tab:red", ls="--", lw=1, label="1,800: highly concentrated"
    )
    first = int(yearly["year"].min())
    base_first = yearly.loc[(yearly["point"] == baseline) & (yearly["year"] == first), "hhi"]
    if base_first.notna().any():
        hhi_ax.axhline(
            float(base_first.mean()) + HHI_SIGNIFICANT_CHANGE,
            color="grey",
            ls=":",
            lw=1.2,
            label=f"baseline {first} + 100: significant rise",
        )
    hhi_ax.set_ylim(bottom=0)
    hhi_ax.set_ylabel(METRICS["hhi"].axis_label)
    hhi_ax.set_title("HHI, mean and 5-95 % band across seeds")
    _band_lines(cr5_ax, yearly, "cr5", order, scale=100, baseline=baseline, display=display)
    cr5_ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    cr5_ax.set_ylabel("CR5: share of the five largest lenders")
    cr5_ax.set_title("CR5")
    _legend(fig, hhi_ax)
    fig.suptitle("Concentration of outstanding small loans by policy point (2023 US guidelines)")
    return save_figure(fig, out_dir / "concentration.png", caption=caption)


def plot_type_shares(yearly, order, out_dir: Path, caption=None, baseline=None,
                     display=None) -> Path:
    """Share of each lender type by year, one panel per type, a line per point."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, layout="constrained")
    for ax, (column, label) in zip(axes.ravel(), TYPE_LABELS.items(), strict=True):
        _band_lines(ax, yearly, column, order, scale=100, baseline=baseline, display=display)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
        ax.set_title(label)
    _legend(fig, axes.ravel()[0])
    fig.suptitle("Share of outstanding small loans by lender type (mean, 5-95 % band)")
    return save_figure(fig, out_dir / "type_shares.png", caption=caption)
