"""Charts of a run's yearly market indicators, written as PNG (300 dpi) and SVG files.

Each function takes the ``yearly`` table (one row per year, shares and rates
as fractions) and an output directory, draws one figure, writes it atomically
with :func:`sim.output.atomic.save_figure` (the PNG and an SVG beside it) and
returns the PNG's path. Years missing from the table, or holding ``nan``, show
as gaps in the lines. A ``caption`` (see :func:`figure_caption`) says under the figure
what produced it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: must precede the pyplot import

import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim import __version__
from sim.metrics import HHI_HIGHLY_CONCENTRATED, HHI_SCALE
from sim.output.atomic import save_figure

TYPE_LABELS: dict[str, str] = {
    "share_bank": "Commercial banks",
    "share_credit_cooperative": "Credit cooperatives",
    "share_online_platform": "Online platforms",
    "share_policy_lender": "Policy lenders",
}
"""Column of each lender type's share in ``yearly``, and its legend label."""

_MAX_LABELLED_YEARS = 15


def seed_text(seeds: Iterable[int]) -> str:
    """Seeds as a caption writes them: ``seed 3``, ``seeds 0-4`` or ``seeds 1, 4, 9``."""
    unique = sorted({int(s) for s in seeds})
    if len(unique) == 1:
        return f"seed {unique[0]}"
    if unique and unique == list(range(unique[0], unique[-1] + 1)):
        return f"seeds {unique[0]}-{unique[-1]}"
    return "seeds " + ", ".join(str(s) for s in unique)


def figure_caption(scenarios: Iterable[str], seeds: Iterable[int], config: str) -> str:
    """What produced a figure: scenario(s), seed(s), config hash and the model's version."""
    names = ", ".join(dict.fromkeys(str(s) for s in scenarios)) or "-"
    version = f"microlending-abm {__version__}"
    return f"scenario {names} | {seed_text(seeds)} | config {config} | {version}"


def run_caption(scenario: str, seed: int, config: str) -> str:
    """The caption of one run's figures."""
    return figure_caption([scenario], [seed], config)
_THRESHOLD_LABEL = "1,800: highly concentrated (2023 US merger guidelines)"


def _by_year(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` indexed by every year from first to last, gaps as nan.

    Raises:
        KeyError: If a column is missing.
        ValueError: If a year is not a whole number or occurs twice.
    """
    missing = [column for column in ["year", *columns] if column not in frame.columns]
    if missing:
        raise KeyError(f"yearly table lacks columns {missing}")
    years = pd.to_numeric(frame["year"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(years)) or np.any(years != np.round(years)):
        raise ValueError(f"years must be whole numbers, got {frame['year'].tolist()}")
    table = frame[columns].astype(float).set_axis(years.astype(int))
    if table.index.has_duplicates:
        repeated = sorted(set(table.index[table.index.duplicated()]))
        raise ValueError(f"years occur more than once: {repeated}")
    if table.empty:
        return table
    return table.reindex(range(table.index.min(), table.index.max() + 1))


def _year_axis(ax: Axes, years: pd.Index) -> None:
    """Label the x axis with whole calendar years."""
    ax.set_xlabel("Year")
    if 0 < len(years) <= _MAX_LABELLED_YEARS:
        ax.set_xticks(list(years))
        ax.set_xlim(years.min() - 0.5, years.max() + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _output_path(out_dir: str | os.PathLike[str], name: str) -> Path:
    """``out_dir / name``, creating ``out_dir`` if needed."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


def plot_concentration(
    yearly: pd.DataFrame, out_dir: str | os.PathLike[str], caption: str | None = None
) -> Path:
    """Plot HHI (left axis) and CR5 in percent (right axis) by year to ``concentration.png``.

    A dashed line marks HHI 1,800, above which the 2023 US merger guidelines
    call a market highly concentrated.
    """
    table = _by_year(yearly, ["hhi", "cr5"])
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    hhi_line = ax.plot(table.index, table["hhi"], marker="o", color="tab:blue", label="HHI")
    threshold = ax.axhline(
        HHI_HIGHLY_CONCENTRATED, color="tab:red", linestyle="--", label=_THRESHOLD_LABEL
    )
    top = np.nanmax([HHI_HIGHLY_CONCENTRATED, *table["hhi"].to_numpy()])
    ax.set_ylim(0, min(HHI_SCALE, top * 1.15))
    ax.set_ylabel("Herfindahl-Hirschman index (0-10,000)")
    _year_axis(ax, table.index)
    ax.grid(alpha=0.3)

    right = ax.twinx()
    cr5_line = right.plot(
        table.index,
        table["cr5"] * 100,
        marker="s",
        color="tab:green",
        label="CR5 (right axis)",
    )
    right.set_ylim(0, 100)
    right.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    right.set_ylabel("CR5: combined share of the five largest lenders")

    handles = [*hhi_line, threshold, *cr5_line]
    fig.legend(
        handles,
        [handle.get_label() for handle in handles],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
    )
    ax.set_title("Concentration of outstanding small loans across lenders")
    return save_figure(fig, _output_path(out_dir, "concentration.png"), caption=caption)


def plot_type_shares(
    yearly: pd.DataFrame, out_dir: str | os.PathLike[str], caption: str | None = None
) -> Path:
    """Plot the market shares of the four lender types, stacked, by year to ``type_shares.png``."""
    table = _by_year(yearly, list(TYPE_LABELS))
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.stackplot(
        table.index,
        *(table[column].to_numpy() * 100 for column in TYPE_LABELS),
        labels=list(TYPE_LABELS.values()),
        alpha=0.85,
    )
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    ax.set_ylabel("Share of outstanding small loans")
    _year_axis(ax, table.index)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title("Market share of outstanding small loans by lender type")
    return save_figure(fig, _output_path(out_dir, "type_shares.png"), caption=caption)


def _percent_panel(
    ax: Axes,
    table: pd.DataFrame,
    targets: pd.DataFrame | None,
    column: str,
    ylabel: str,
) -> None:
    """Draw ``column`` (a fraction) in percent by year, with report values as markers."""
    ax.plot(table.index, table[column] * 100, marker="o", label="simulated")
    years = table.index
    if targets is not None:
        reported = _by_year(targets, [column])[column].dropna()
        if not reported.empty:
            ax.plot(
                reported.index,
                reported * 100,
                linestyle="none",
                marker="D",
                color="black",
                label="report",
            )
            years = years.union(reported.index)
    lines = [line.get_ydata() for line in ax.get_lines()]
    finite = np.concatenate([np.asarray(data, dtype=float) for data in lines])
    finite = finite[np.isfinite(finite)]
    top = finite.max() if finite.size and finite.max() > 0 else 100.0 / 1.15
    ax.set_ylim(0, top * 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    ax.set_ylabel(ylabel)
    _year_axis(ax, years)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_online_and_rate(
    yearly: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    targets: pd.DataFrame | None = None,
    caption: str | None = None,
) -> Path:
    """Plot the online share of new lending and the average loan rate to ``online_share_rate.png``.

    Args:
        yearly: The run's yearly table, with ``year``, ``online_share`` and ``avg_rate``.
        out_dir: Directory for the PNG, created if needed.
        targets: Optional reported values with columns ``year``, ``online_share``
            and ``avg_rate`` (fractions; ``nan`` where not reported), drawn as
            markers labelled "report".
        caption: What produced the figure, written under it.

    Returns:
        The path of the PNG.
    """
    table = _by_year(yearly, ["online_share", "avg_rate"])
    fig, (online_ax, rate_ax) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    _percent_panel(online_ax, table, targets, "online_share", "Online channel share of new lending")
    online_ax.set_title("Online lending channel")
    _percent_panel(
        rate_ax, table, targets, "avg_rate", "Volume-weighted average loan rate (annual)"
    )
    rate_ax.set_title("Price of credit")
    return save_figure(fig, _output_path(out_dir, "online_share_rate.png"), caption=caption)


def plot_run(
    yearly: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    targets: pd.DataFrame | None = None,
    caption: str | None = None,
) -> list[Path]:
    """Draw all of a run's charts into ``out_dir``; return the PNGs' paths (SVGs beside them)."""
    return [
        plot_concentration(yearly, out_dir, caption),
        plot_type_shares(yearly, out_dir, caption),
        plot_online_and_rate(yearly, out_dir, targets, caption),
    ]
