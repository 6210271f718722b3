"""The comparison's figures: metrics by year with bands across seeds, and a heat map.

Each figure is drawn from the comparison's long tables (``point`` labels the
policy point of every row) and written atomically as PNG:

* ``concentration.png``: HHI and CR5 by year, one line per point with its band,
  the 1,800 line and the baseline's first-year HHI + 100 (2023 US merger
  guidelines);
* ``type_shares.png``: share of each lender type by year, one panel per type;
* ``heatmap.png`` (two-parameter sweeps): last-year HHI and CR5 over the grid.

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

from scenarios.sweep.stats import summarize
from sim.metrics import HHI_HIGHLY_CONCENTRATED, HHI_SIGNIFICANT_CHANGE
from sim.output.atomic import save_figure
from sim.output.plots import TYPE_LABELS, figure_caption

FORMATS = {
    "hhi": "{:,.0f}",
    "cr5": "{:.1%}",
    "online_share": "{:.1%}",
    "avg_rate": "{:.2%}",
    "npl_ratio": "{:.2%}",
    "n_active": "{:.1f}",
    "exits": "{:.1f}",
    "unmet": "{:,.0f}",
}
"""How each metric is written in tables, labels and the summary."""

_TITLES = {
    "hhi": "HHI",
    "cr5": "CR5",
    "online_share": "online share",
    "avg_rate": "avg rate",
    "npl_ratio": "NPL ratio",
    "n_active": "active lenders",
    "exits": "exits",
    "unmet": "unmet demand (100m CNY)",
}


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


def _band_lines(ax, yearly, metric, order, scale=1.0) -> None:
    bands = yearly_bands(yearly, metric)
    colours = plt.get_cmap("viridis" if len(order) > 10 else "tab10")
    for i, point in enumerate(order):
        b = bands[bands["point"] == point].sort_values("year")
        if b.empty:
            continue
        colour = colours(i / max(1, len(order) - 1)) if len(order) > 10 else colours(i % 10)
        ax.plot(b["year"], b["mean"] * scale, marker="o", ms=3, color=colour, label=point)
        ax.fill_between(b["year"], b["low"] * scale, b["high"] * scale, color=colour, alpha=0.15)
    ax.grid(alpha=0.3)
    ax.set_xlabel("Year")


def plot_concentration(yearly, order, baseline, out_dir: Path, caption=None) -> Path:
    """HHI and CR5 by year per point with 5-95 % bands and the merger-guideline lines."""
    fig, (hhi_ax, cr5_ax) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    _band_lines(hhi_ax, yearly, "hhi", order)
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
    hhi_ax.set_ylabel("HHI (0-10,000)")
    hhi_ax.set_title("HHI, mean and 5-95 % band across seeds")
    _band_lines(cr5_ax, yearly, "cr5", order, scale=100)
    cr5_ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    cr5_ax.set_ylabel("CR5: share of the five largest lenders")
    cr5_ax.set_title("CR5")
    handles, labels = hhi_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=7)
    fig.suptitle("Concentration of outstanding small loans by policy point (2023 US guidelines)")
    return save_figure(fig, out_dir / "concentration.png", caption=caption)


def plot_type_shares(yearly, order, out_dir: Path, caption=None) -> Path:
    """Share of each lender type by year, one panel per type, a line per point."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, layout="constrained")
    for ax, (column, label) in zip(axes.ravel(), TYPE_LABELS.items(), strict=True):
        _band_lines(ax, yearly, column, order, scale=100)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
        ax.set_title(label)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=7)
    fig.suptitle("Share of outstanding small loans by lender type (mean, 5-95 % band)")
    return save_figure(fig, out_dir / "type_shares.png", caption=caption)


def plot_heatmap(
    table: pd.DataFrame, keys: Sequence[str], out_dir: Path, caption: str | None = None
) -> Path | None:
    """Last-year HHI and CR5 means over a two-parameter grid; None unless exactly 2 numeric keys."""
    numeric = [k for k in keys if pd.api.types.is_numeric_dtype(table[k])]
    if len(keys) != 2 or len(numeric) != 2:
        return None
    x_key, y_key = keys
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for ax, metric in zip(axes, ("hhi", "cr5"), strict=True):
        grid = table[table["metric"] == metric].pivot_table(
            index=y_key, columns=x_key, values="mean", aggfunc="mean"
        )
        image = ax.imshow(grid.to_numpy(), origin="lower", cmap="magma_r", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [format_value(v) for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [format_value(v) for v in grid.index])
        ax.set_xlabel(x_key)
        ax.set_ylabel(y_key)
        values = grid.to_numpy(dtype=float)
        middle = np.nanmean([np.nanmin(values), np.nanmax(values)])
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                colour = "white" if value > middle else "black"  # readable on dark cells
                text = FORMATS[metric].format(value)
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
        fig.colorbar(image, ax=ax)
        year = int(table["last_year"].iloc[0])
        ax.set_title(f"{_TITLES[metric]} in {year}, mean across seeds")
    return save_figure(fig, out_dir / "heatmap.png", caption=caption)
