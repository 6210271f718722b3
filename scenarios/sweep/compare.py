"""Side-by-side comparison of policy points across seeds, paired against a baseline.

    python -m scenarios.sweep.compare SWEEP_DIR [SWEEP_DIR|RUN_DIR ...] [--baseline OVERRIDES]
        [--out DIR]

(``python -m scenarios.compare`` runs the same.)

Each argument is a sweep directory (a multirun) or a plain run directory. A
*policy point* is one combination of the parameters that differ between jobs
(``seed`` aside); its seeds are its replications. ``--baseline`` names the
baseline point by its overrides (``regulation.rate_cap_apr=0.24``, several
joined by commas); by default it is the first point. Writes into ``--out``
(default: the sweep directory when there is one, else
``outputs/comparisons/TIMESTAMP``):

* ``comparison.csv``: per point and metric (hhi, cr5, online_share, avg_rate,
  npl_ratio, n_active, exits, unmet), the mean and 5-95 % band across seeds in
  the last year, the change from the first year (mean and band), and the paired
  difference from the baseline in the last year (matched on seed) with a 95 %
  t-interval; ``missing_seeds`` names seeds other points have and this one
  lacks (failed or never run);
* ``concentration.png``: HHI and CR5 by year, one line per point with its band,
  the 1,800 line and the baseline's first-year HHI + 100 (2023 US merger
  guidelines);
* ``type_shares.png``: share of each lender type by year, one panel per type;
* ``heatmap.png`` (two-parameter sweeps): last-year HHI and CR5 over the grid;
* ``summary.md``: a short Markdown summary to paste into a report.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from scenarios.sweep.aggregate import combine
from scenarios.sweep.io import collect, convert, is_run_dir, override_key
from scenarios.sweep.stats import BAND, CONFIDENCE, changes, paired_difference, summarize
from sim.metrics import HHI_HIGHLY_CONCENTRATED, HHI_SIGNIFICANT_CHANGE
from sim.output.atomic import atomic_write_text, save_figure, write_csv
from sim.output.plots import TYPE_LABELS

log = logging.getLogger(__name__)

METRICS = ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio", "n_active", "exits", "unmet")
"""Market metrics compared, columns of ``market_yearly.csv``."""

_NOT_PARAMETERS = ("job", "seed", "status", "error", "config_hash", "directory", "source")
_FORMATS = {
    "hhi": "{:,.0f}",
    "cr5": "{:.1%}",
    "online_share": "{:.1%}",
    "avg_rate": "{:.2%}",
    "npl_ratio": "{:.2%}",
    "n_active": "{:.1f}",
    "exits": "{:.1f}",
    "unmet": "{:,.0f}",
}
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


# --- loading -----------------------------------------------------------------------------


def load(dirs: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jobs and yearly market tables of every directory, stacked, with a ``source`` column."""
    jobs, yearly = [], []
    for i, directory in enumerate(dirs):
        tables = combine(collect(Path(directory), lenders=False))
        source = f"{i}:{Path(directory).name}"
        jobs.append(tables["jobs"].assign(source=source))
        yearly.append(tables["yearly"].assign(source=source))
    return pd.concat(jobs, ignore_index=True), pd.concat(yearly, ignore_index=True)


def policy_keys(jobs: pd.DataFrame) -> list[str]:
    """Parameter columns whose value differs between jobs (``seed`` and bookkeeping aside)."""
    keys = []
    for column in jobs.columns:
        if column in _NOT_PARAMETERS:
            continue
        values = jobs[column].astype(object).where(jobs[column].notna(), None)
        if values.map(repr).nunique() > 1:
            keys.append(column)
    return keys


def _short(key: str, keys: Sequence[str]) -> str:
    short = key.replace("/", ".").rsplit(".", 1)[-1]
    clashes = [k for k in keys if k.replace("/", ".").rsplit(".", 1)[-1] == short]
    return key if len(clashes) > 1 else short


def _fmt_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def point_labels(jobs: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """A label per job naming its policy point (``all`` when nothing varies)."""
    if not keys:
        return pd.Series("all", index=jobs.index)
    return jobs[list(keys)].apply(
        lambda row: ", ".join(f"{_short(k, keys)}={_fmt_value(row[k])}" for k in keys), axis=1
    )


def parse_baseline(text: str | None) -> dict[str, Any]:
    """``"k=v,k2=v2"`` (or space-separated) as ``{k: converted v}``."""
    if not text:
        return {}
    out = {}
    for part in text.replace(",", " ").split():
        key, value = override_key(part)
        out[key] = convert(value)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float | np.number) and isinstance(b, int | float | np.number):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def find_baseline(points: pd.DataFrame, keys: Sequence[str], spec: dict[str, Any]) -> str:
    """Label of the point matching ``spec`` (by full or short key); the first point if empty."""
    if not spec:
        return str(points["point"].iloc[0])
    resolved = {}
    for key, value in spec.items():
        matches = [k for k in points.columns if k == key or (k in keys and _short(k, keys) == key)]
        if not matches:
            raise ValueError(f"baseline key {key!r} is not a swept parameter; swept: {list(keys)}")
        resolved[matches[0]] = value
    for values in points.to_dict("records"):
        if all(_same(values.get(k), v) for k, v in resolved.items()):
            return str(values["point"])
    raise ValueError(f"no point matches baseline {spec}; points: {points['point'].tolist()}")


# --- statistics --------------------------------------------------------------------------


def by_seed(yearly: pd.DataFrame, point: str, year: int, metric: str) -> dict[int, float]:
    """``metric`` of ``point`` in ``year`` by seed (mean if a seed appears twice)."""
    rows = yearly[(yearly["point"] == point) & (yearly["year"] == year)]
    return {int(s): float(v) for s, v in rows.groupby("seed")[metric].mean().items()}


def comparison_table(
    yearly: pd.DataFrame,
    points: pd.DataFrame,
    keys: Sequence[str],
    baseline: str,
    all_seeds: Sequence[int],
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """Per point and metric: last-year summary, change from the first year, paired difference."""
    first, last = int(yearly["year"].min()), int(yearly["year"].max())
    rows = []
    for p in points.to_dict("records"):
        label = p["point"]
        present = sorted({int(s) for s in yearly.loc[yearly["point"] == label, "seed"]})
        missing = sorted(set(all_seeds) - set(present))
        for metric in metrics:
            lasts = by_seed(yearly, label, last, metric)
            firsts = by_seed(yearly, label, first, metric)
            level = summarize(list(lasts.values()))
            change = summarize(list(changes(firsts, lasts).values()))
            diff = paired_difference(lasts, by_seed(yearly, baseline, last, metric))
            rows.append(
                {
                    "point": label,
                    **{k: p[k] for k in keys},
                    "metric": metric,
                    "baseline": label == baseline,
                    "first_year": first,
                    "last_year": last,
                    "n_seeds": len(present),
                    "missing_seeds": " ".join(map(str, missing)),
                    "mean": level.mean,
                    "p05": level.low,
                    "p95": level.high,
                    "change_mean": change.mean,
                    "change_p05": change.low,
                    "change_p95": change.high,
                    "diff_mean": diff.mean,
                    "diff_ci_low": diff.ci_low,
                    "diff_ci_high": diff.ci_high,
                    "n_pairs": diff.n,
                }
            )
    return pd.DataFrame(rows)


def yearly_bands(yearly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and band of ``metric`` across seeds, per point and year."""
    rows = []
    for (point, year), group in yearly.groupby(["point", "year"], sort=False):
        s = summarize(group[metric])
        rows.append({"point": point, "year": year, "mean": s.mean, "low": s.low, "high": s.high})
    return pd.DataFrame(rows, columns=["point", "year", "mean", "low", "high"])


# --- figures -----------------------------------------------------------------------------


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


def plot_concentration(yearly, order, baseline, out_dir: Path) -> Path:
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
    return save_figure(fig, out_dir / "concentration.png")


def plot_type_shares(yearly, order, out_dir: Path) -> Path:
    """Share of each lender type by year, one panel per type, a line per point."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, layout="constrained")
    for ax, (column, label) in zip(axes.ravel(), TYPE_LABELS.items(), strict=True):
        _band_lines(ax, yearly, column, order, scale=100)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
        ax.set_title(label)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=7)
    fig.suptitle("Share of outstanding small loans by lender type (mean, 5-95 % band)")
    return save_figure(fig, out_dir / "type_shares.png")


def plot_heatmap(table: pd.DataFrame, keys: Sequence[str], out_dir: Path) -> Path | None:
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
        ax.set_xticks(range(grid.shape[1]), [_fmt_value(v) for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [_fmt_value(v) for v in grid.index])
        ax.set_xlabel(x_key)
        ax.set_ylabel(y_key)
        values = grid.to_numpy(dtype=float)
        middle = np.nanmean([np.nanmin(values), np.nanmax(values)])
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                colour = "white" if value > middle else "black"  # readable on dark cells
                text = _FORMATS[metric].format(value)
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
        fig.colorbar(image, ax=ax)
        year = int(table["last_year"].iloc[0])
        ax.set_title(f"{_TITLES[metric]} in {year}, mean across seeds")
    return save_figure(fig, out_dir / "heatmap.png")


# --- summary -----------------------------------------------------------------------------


def _cell(metric: str, value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else _FORMATS[metric].format(value)


def _signed(metric: str, value: float) -> str:
    text = _cell(metric, value)
    return text if text == "n/a" or text.startswith("-") else "+" + text


def summary_markdown(
    table: pd.DataFrame,
    baseline: str,
    failed: pd.DataFrame,
    sources: Sequence[str],
    figures: Sequence[Path],
) -> str:
    """A short Markdown report of the comparison."""
    first, last = int(table["first_year"].iloc[0]), int(table["last_year"].iloc[0])
    points = list(dict.fromkeys(table["point"]))
    seeds = table.groupby("point", sort=False)["n_seeds"].first()
    lines = [
        "# Policy comparison",
        "",
        f"Sources: {', '.join(sources)}. {len(points)} policy points; baseline: **{baseline}**.",
        f"Values are for {last} (mean across seeds, {BAND[0]:g}-{BAND[1]:g} % band in brackets);",
        f"differences are paired by seed against the baseline, with a {CONFIDENCE:.0%} "
        "t-interval. HHI on the 0-10,000 scale; above 1,800 is highly concentrated and a rise "
        "of more than 100 significant (2023 US merger guidelines).",
        "",
        f"| point | seeds | HHI {last} | HHI change since {first} | HHI vs baseline [CI] "
        f"| CR5 {last} | online share | avg rate | NPL ratio | active lenders |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    t = table.set_index(["point", "metric"])
    for point in points:
        if int(seeds[point]) == 0:
            lines.append(f"| {point} | 0 | no complete seed |" + " |" * 7)
            continue
        h = t.loc[(point, "hhi")]
        diff = (
            "baseline"
            if point == baseline
            else f"{_signed('hhi', h['diff_mean'])} [{_signed('hhi', h['diff_ci_low'])}, "
            f"{_signed('hhi', h['diff_ci_high'])}]"
        )
        cells = [
            point,
            str(int(seeds[point])),
            f"{_cell('hhi', h['mean'])} ({_cell('hhi', h['p05'])}-{_cell('hhi', h['p95'])})",
            _signed("hhi", h["change_mean"]),
            diff,
            *(_cell(m, t.loc[(point, m), "mean"]) for m in ("cr5", "online_share", "avg_rate")),
            _cell("npl_ratio", t.loc[(point, "npl_ratio"), "mean"]),
            _cell("n_active", t.loc[(point, "n_active"), "mean"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
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


# --- entry points ------------------------------------------------------------------------


def compare(
    dirs: Sequence[Path],
    baseline: str | None = None,
    out_dir: Path | None = None,
    baseline_fallback: bool = False,
) -> dict[str, Any]:
    """Compare the policy points in ``dirs``; write the table, figures and summary.

    With ``baseline_fallback`` a ``baseline`` that matches no point (e.g. a
    sweep run with other values than its file lists) falls back to the first
    point with a warning instead of raising ValueError.

    Returns:
        ``table`` (the comparison), ``baseline`` (its label), ``out_dir`` and ``files``.
    """
    dirs = [Path(d) for d in dirs]
    if out_dir is None:
        sweeps = [d for d in dirs if not is_run_dir(d)]
        out_dir = (
            sweeps[0]
            if len(dirs) == 1 and sweeps
            else Path("outputs/comparisons") / time.strftime("%Y-%m-%d_%H-%M-%S")
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, yearly = load(dirs)
    keys = policy_keys(jobs)
    jobs["point"] = point_labels(jobs, keys)
    points = jobs.drop_duplicates("point")[["point", *keys]].reset_index(drop=True)
    if yearly.empty:
        raise ValueError(f"no complete job in {', '.join(map(str, dirs))}")
    yearly = yearly.merge(
        jobs[["source", "job", "point"]], on=["source", "job"], how="left", validate="m:1"
    )
    try:
        base = find_baseline(points, keys, parse_baseline(baseline))
    except ValueError as exc:
        if not baseline_fallback:
            raise
        base = find_baseline(points, keys, {})
        log.warning("%s; comparing against the first point, %s", exc, base)
    all_seeds = sorted({int(s) for s in jobs["seed"].dropna()})
    table = comparison_table(yearly, points, keys, base, all_seeds)
    order = list(points["point"])
    files = [write_csv(table, out_dir / "comparison.csv")]
    figures = [
        plot_concentration(yearly, order, base, out_dir),
        plot_type_shares(yearly, order, out_dir),
    ]
    heatmap = plot_heatmap(table, keys, out_dir)
    if heatmap is not None:
        figures.append(heatmap)
    failed = jobs[jobs["status"] != "complete"]
    sources = [str(d) for d in dirs]
    text = summary_markdown(table, base, failed, sources, figures)
    files += [*figures, atomic_write_text(out_dir / "summary.md", text)]
    return {"table": table, "baseline": base, "out_dir": out_dir, "files": files}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        description="Compare policy points of sweeps or runs across seeds."
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep or run directories")
    parser.add_argument(
        "--baseline",
        default=None,
        help="overrides naming the baseline point, e.g. regulation.rate_cap_apr=0.24",
    )
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    args = parser.parse_args(argv)
    for directory in args.dirs:
        if not directory.is_dir():
            parser.error(f"{directory}: not a directory")
    try:
        result = compare(args.dirs, baseline=args.baseline, out_dir=args.out)
    except ValueError as exc:
        parser.exit(2, f"compare: {exc}\n")
    print(f"baseline: {result['baseline']}")
    for path in result["files"]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
