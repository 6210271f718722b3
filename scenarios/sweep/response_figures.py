"""How outcomes respond to a lever: the dose-response figure and the heat map of differences.

Both are drawn from the last year of the comparison table (one row per point
and metric, :func:`scenarios.sweep.paired.comparison_table`):

* ``dose_response.png`` (one numeric swept parameter): each metric against the
  lever's value, mean and 5-95 % band across seeds (top row), and the paired
  difference from the baseline with its 95 % interval (bottom row; filled
  markers where the interval excludes zero, hollow where it does not);
* ``heatmap.png`` (two numeric swept parameters): the level of HHI over the
  grid with the 1,800 contour, and the paired difference from the baseline
  of HHI and of the online platforms' share on a diverging scale centred on
  zero, cells whose interval includes zero hatched and marked ``n.s.``.

Labels and formats come from :mod:`scenarios.sweep.registry`; each PNG
(300 dpi) has an SVG beside it and the sweep's caption under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import FuncFormatter

from scenarios.sweep.registry import format_parameter, metric, parameter
from sim.metrics import HHI_HIGHLY_CONCENTRATED
from sim.output.atomic import save_figure

DOSE_METRICS = ("hhi", "share_online_platform", "avg_rate", "served_share")
"""Metrics of the dose-response figure (those present)."""

DIFF_METRICS = ("hhi", "share_online_platform")
"""Metrics whose paired difference the heat map shows (those present)."""


def numeric_keys(table: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """The swept parameters whose values are all numbers."""
    return [k for k in keys if k in table and pd.api.types.is_numeric_dtype(table[k])]


def _scale(key: str, values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=float) * parameter(key).scale


def _percent(name: str) -> float:
    """Display factor: 100 for shares and rates (drawn in percent), 1 otherwise."""
    return 100.0 if "%" in metric(name).fmt else 1.0


def plot_dose_response(
    table: pd.DataFrame, keys: Sequence[str], out_dir: Path, caption: str | None = None
) -> Path | None:
    """Metric against lever value with band, and paired difference; None unless one numeric key."""
    if len(keys) != 1 or numeric_keys(table, keys) != list(keys):
        return None
    (key,) = keys
    names = [m for m in DOSE_METRICS if m in set(table["metric"])]
    if not names:
        return None
    fig, axes = plt.subplots(
        2, len(names), figsize=(3.4 * len(names) + 0.6, 6.2), sharex=True, squeeze=False,
        layout="constrained",
    )
    year = int(table["last_year"].iloc[0])
    for j, name in enumerate(names):
        t = table[table["metric"] == name].sort_values(key)
        t = t[t["n_seeds"] > 0]
        x, k = _scale(key, t[key]), _percent(name)
        top, bottom = axes[0][j], axes[1][j]
        top.fill_between(x, t["p05"] * k, t["p95"] * k, color="tab:blue", alpha=0.2,
                         label="5-95 % band")
        top.plot(x, t["mean"] * k, marker="o", color="tab:blue", label="mean")
        base = t[t["baseline"].astype(bool)]
        top.plot(_scale(key, base[key]), base["mean"] * k, "k*", ms=11, label="baseline")
        if name == "hhi":
            top.axhline(HHI_HIGHLY_CONCENTRATED, color="tab:red", ls="--", lw=1,
                        label="1,800: highly concentrated")
        m = metric(name)
        top.set_title(f"{m.label}, {year}", fontsize=9)
        top.set_ylabel(m.axis_label.replace("(share)", "(%)").replace("(APR)", "(APR, %)"))
        sig = t["significant"].astype(bool).to_numpy()
        y = t["diff_mean"].to_numpy(dtype=float) * k
        err = np.vstack([y - t["diff_ci_low"] * k, t["diff_ci_high"] * k - y])
        bottom.errorbar(x, y, yerr=np.nan_to_num(err), fmt="none", ecolor="tab:blue", capsize=3)
        bottom.plot(x[sig], y[sig], "o", color="tab:blue", label="interval excludes 0")
        bottom.plot(x[~sig], y[~sig], "o", mfc="white", color="tab:blue",
                    label="not significant")
        bottom.axhline(0, color="black", lw=0.8)
        unit = "points" if k == 1 else "pp"
        bottom.set_ylabel(f"vs baseline ({unit}; paired, 95 % CI)")
        bottom.set_xlabel(parameter(key).label)
        bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _: parameter(key).fmt.format(v)))
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in (axes[0][0], axes[1][0]):
        h, lab = ax.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    fig.suptitle(f"Response to {parameter(key).label}: level (top), difference from "
                 "the baseline (bottom)")
    return save_figure(fig, out_dir / "dose_response.png", caption=caption)


def grid(table: pd.DataFrame, keys: Sequence[str], name: str, column: str) -> pd.DataFrame:
    """``column`` of metric ``name`` over the two-key grid (rows: second key, columns: first)."""
    x_key, y_key = keys
    t = table[table["metric"] == name]
    return t.pivot_table(index=y_key, columns=x_key, values=column, aggfunc="first", dropna=False)


def not_significant(table: pd.DataFrame, keys: Sequence[str], name: str) -> np.ndarray:
    """Boolean grid: True where a non-baseline cell's difference interval includes zero."""
    flags = table.assign(
        _ns=~table["significant"].astype(bool) & ~table["baseline"].astype(bool)
    )
    return grid(flags, keys, name, "_ns").fillna(False).to_numpy(dtype=bool)


def _ticks(ax, g: pd.DataFrame, keys: Sequence[str]) -> None:
    x_key, y_key = keys
    ax.set_xticks(range(g.shape[1]), [format_parameter(x_key, v) for v in g.columns])
    ax.set_yticks(range(g.shape[0]), [format_parameter(y_key, v) for v in g.index])
    ax.set_xlabel(parameter(x_key).label)
    ax.set_ylabel(parameter(y_key).label)


def _level_panel(fig, ax, table, keys) -> None:
    g = grid(table, keys, "hhi", "mean")
    values = g.to_numpy(dtype=float)
    image = ax.imshow(values, origin="lower", cmap="magma_r", aspect="auto")
    _ticks(ax, g, keys)
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, metric("hhi").format(value), ha="center", va="center", fontsize=8,
                    color="white" if value > middle else "black")
    crosses = finite.size and finite.min() < HHI_HIGHLY_CONCENTRATED < finite.max()
    if crosses and min(values.shape) >= 2:
        ax.contour(np.arange(values.shape[1]), np.arange(values.shape[0]), values,
                   levels=[HHI_HIGHLY_CONCENTRATED], colors="tab:cyan", linewidths=2)
        ax.plot([], [], color="tab:cyan", lw=2, label="HHI 1,800")
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), fontsize=7)
        note = ""
    else:
        side = "above" if finite.size and finite.min() >= HHI_HIGHLY_CONCENTRATED else "below"
        note = f"\n(every cell {side} 1,800)"
    fig.colorbar(image, ax=ax, label=metric("hhi").axis_label)
    ax.set_title(f"HHI, mean across seeds{note}", fontsize=9)


def _diff_panel(fig, ax, table, keys, name) -> None:
    g = grid(table, keys, name, "diff_mean")
    k = _percent(name)
    values = g.to_numpy(dtype=float) * k
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    image = ax.imshow(values, origin="lower", cmap="RdBu_r", norm=norm, aspect="auto")
    _ticks(ax, g, keys)
    ns = not_significant(table, keys, name)
    base = grid(table, keys, name, "baseline").fillna(False).to_numpy(dtype=bool)
    m = metric(name)
    for (i, j), value in np.ndenumerate(values):
        if base[i, j]:
            ax.text(j, i, "baseline", ha="center", va="center", fontsize=7)
            continue
        if not np.isfinite(value):
            continue
        text = m.format_difference(value / k)
        if ns[i, j]:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                       edgecolor="0.6", lw=0))
            text += "\nn.s."
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
    unit = "points" if name == "hhi" else "percentage points"
    fig.colorbar(image, ax=ax, label=f"difference ({unit})")
    ax.set_title(f"{m.label} vs baseline (paired)\nhatched, n.s.: 95 % CI includes 0",
                 fontsize=9)


def plot_heatmap(
    table: pd.DataFrame, keys: Sequence[str], out_dir: Path, caption: str | None = None
) -> Path | None:
    """HHI level with the 1,800 contour and paired differences; None unless two numeric keys."""
    if len(keys) != 2 or numeric_keys(table, keys) != list(keys):
        return None
    diffs = [m for m in DIFF_METRICS if m in set(table["metric"])]
    fig, axes = plt.subplots(
        1, 1 + len(diffs), figsize=(5.2 * (1 + len(diffs)), 4.8), layout="constrained",
        squeeze=False,
    )
    _level_panel(fig, axes[0][0], table, keys)
    for ax, name in zip(axes[0][1:], diffs, strict=True):
        _diff_panel(fig, ax, table, keys, name)
    year = int(table["last_year"].iloc[0])
    fig.suptitle(f"{year}: concentration over the grid and differences from the baseline")
    return save_figure(fig, out_dir / "heatmap.png", caption=caption)
