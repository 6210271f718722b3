"""The Run page's figures of a batch, written as PNG (300 dpi) and SVG with a caption.

Concentration and type shares are the sweeps' own figures
(:mod:`scenarios.sweep.figures`: a line per point with its 5-95 % band across
seeds, the 1,800 line); the online share and average rate carry the report's
values as markers; unmet demand (by segment and by reason) and exits (by
lender type and cause) are the last year's, resp. the whole run's, means
across seeds per point.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from explore.results import Results
from scenarios.sweep.figures import plot_concentration, plot_type_shares, yearly_bands
from sim.output.atomic import save_figure
from sim.output.report import report_trajectory

SEGMENTS = ("consumer", "sme", "agriculture", "welfare")
REASONS = ("rate_cap", "loan_cap", "capacity", "priced_out", "risk_screening", "no_lender")
EXIT_CAUSES = (
    "n_failed",
    "n_voluntary",
    "n_licence_lost",
    "n_acquired_failing",
    "n_acquired_distressed",
)
LENDER_TYPES = ("bank", "credit_cooperative", "online_platform", "policy_lender")


@dataclass(frozen=True)
class Figure:
    """A written figure: its file stem, title and PNG path (the SVG beside it)."""

    name: str
    title: str
    png: Path

    @property
    def svg(self) -> Path:
        """The SVG beside the PNG."""
        return self.png.with_suffix(".svg")


def _colours(order: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {point: cmap(i % 10) for i, point in enumerate(order)}


def plot_online_and_rate(results: Results, out_dir: Path, caption: str) -> Path:
    """Online share of new lending and average rate by year, bands across seeds, the report's."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    targets = report_trajectory()
    colours = _colours(results.order)
    titles = {"online_share": "Online channel share of new lending", "avg_rate": "Average rate"}
    for ax, metric in zip(axes, titles, strict=True):
        bands = yearly_bands(results.yearly, metric)
        for point in results.order:
            b = bands[bands["point"] == point].sort_values("year")
            colour = colours[point]
            ax.plot(b["year"], b["mean"] * 100, marker="o", ms=3, color=colour, label=point)
            ax.fill_between(b["year"], b["low"] * 100, b["high"] * 100, color=colour, alpha=0.15)
        if targets is not None:
            ax.plot(
                targets["year"],
                targets[metric] * 100,
                ls="none",
                marker="D",
                color="black",
                label="report",
            )
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
        ax.set_title(titles[metric])
        ax.set_xlabel("Year")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    fig.suptitle("Online share and price of credit (mean, 5-95 % band; report's values)")
    return save_figure(fig, out_dir / "online_share_rate.png", caption=caption)


def _grouped_bars(ax, means: pd.DataFrame, lows: pd.DataFrame, highs: pd.DataFrame, colours):
    """Bars per category (rows) and point (columns), 5-95 % whiskers."""
    width = 0.8 / max(1, len(means.columns))
    x = np.arange(len(means.index))
    for i, point in enumerate(means.columns):
        err = np.vstack([means[point] - lows[point], highs[point] - means[point]])
        ax.bar(
            x + i * width - 0.4 + width / 2,
            means[point],
            width,
            yerr=np.clip(err, 0, None),
            color=colours[point],
            label=point,
            capsize=2,
        )
    ax.set_xticks(x, [str(c).replace("_", " ") for c in means.index], rotation=20, fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def _last_year_bars(yearly: pd.DataFrame, columns: dict[str, str], order: list[str]):
    last = yearly[yearly["year"] == yearly["year"].max()]
    stats = {}
    for name, column in columns.items():
        grouped = last.groupby("point")[column]
        stats[name] = (grouped.mean(), grouped.quantile(0.05), grouped.quantile(0.95))
    frames = [pd.DataFrame({n: s[k] for n, s in stats.items()}).T[order] for k in range(3)]
    return frames


def plot_unmet(results: Results, out_dir: Path, caption: str) -> Path:
    """Unmet demand in the last year, by segment and by reason, per point."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    colours = _colours(results.order)
    year = int(results.yearly["year"].max())
    panels = (
        ("by borrower segment", {s: f"unmet_{s}" for s in SEGMENTS}),
        ("by reason", {r: f"unmet_{r}" for r in REASONS}),
    )
    for ax, (title, columns) in zip(axes, panels, strict=True):
        present = {k: c for k, c in columns.items() if c in results.yearly}
        _grouped_bars(ax, *_last_year_bars(results.yearly, present, results.order), colours)
        ax.set_title(f"Unmet demand {year}, {title}")
        ax.set_ylabel("100m CNY")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    fig.suptitle("Credit demand left unmet (mean across seeds, 5-95 % whiskers)")
    return save_figure(fig, out_dir / "unmet_demand.png", caption=caption)


def plot_exits(results: Results, out_dir: Path, caption: str) -> Path:
    """Exits over the whole run by lender type and cause, one panel per point."""
    order = results.order
    fig, axes = plt.subplots(
        1,
        len(order),
        figsize=(5.5 * len(order), 4.4),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    cmap = plt.get_cmap("Set2")
    totals = results.types.groupby(["point", "seed", "lender_type"])[list(EXIT_CAUSES)].sum()
    means = totals.groupby(["point", "lender_type"]).mean()
    for ax, point in zip(axes[0], order, strict=True):
        table = means.loc[point].reindex(LENDER_TYPES).fillna(0.0)
        bottom = np.zeros(len(table))
        for i, cause in enumerate(EXIT_CAUSES):
            label = cause.removeprefix("n_").replace("_", " ")
            ax.bar(range(len(table)), table[cause], bottom=bottom, color=cmap(i), label=label)
            bottom += table[cause].to_numpy()
        ax.set_xticks(range(len(table)), [t.replace("_", " ") for t in table.index], fontsize=8)
        ax.set_title(point, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("lenders leaving, whole run (mean across seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    fig.suptitle("Exits by lender type and cause")
    return save_figure(fig, out_dir / "exits.png", caption=caption)


def draw_all(results: Results, out_dir: Path) -> list[Figure]:
    """Every figure of the Run page, written into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    caption = results.caption()
    order = results.order
    base = order[-1] if results.has_baseline else order[0]
    return [
        Figure(
            "concentration",
            "Concentration: HHI and CR5",
            plot_concentration(results.yearly, order, base, out_dir, caption),
        ),
        Figure(
            "type_shares",
            "Shares by lender type",
            plot_type_shares(results.yearly, order, out_dir, caption),
        ),
        Figure(
            "online_share_rate",
            "Online share and average rate",
            plot_online_and_rate(results, out_dir, caption),
        ),
        Figure("unmet_demand", "Unmet demand", plot_unmet(results, out_dir, caption)),
        Figure("exits", "Exits by lender type", plot_exits(results, out_dir, caption)),
    ]
