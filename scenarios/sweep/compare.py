"""Side-by-side comparison of policy points across seeds, paired against a baseline.

    python -m scenarios.sweep.compare SWEEP_DIR [SWEEP_DIR|RUN_DIR ...] [--baseline OVERRIDES]
        [--threshold hhi=1800 ...] [--half-width hhi=100 ...] [--out DIR]

(``python -m scenarios.compare`` and ``lendsim-compare`` run the same.)

Each argument is a sweep directory (a multirun) or a plain run directory. A
*policy point* is one combination of the parameters that differ between jobs
(``seed`` aside); its seeds are its replications. ``--baseline`` names the
baseline point by its overrides (``regulation.rate_cap_apr=0.24``, several
joined by commas); by default it is the first point. The metrics are every
column of the runs' yearly table known to :mod:`scenarios.sweep.registry`
(concentration, each lender type's share of balances and of new lending,
served share, unmet demand by segment and by reason, NPL ratio, ...) and the
exits by lender type counted from the lender table. Writes into ``--out``
(default: the sweep directory when there is one, else
``outputs/comparisons/TIMESTAMP``):

* ``comparison_yearly.csv``: per point, metric and year, the mean and 5-95 %
  band across seeds and the paired difference from the baseline in the same
  year (matched on seed) with a 95 % t-interval, ``significant`` (the interval
  excludes zero) and ``seeds_needed`` for an interval of ``half_width``
  (:func:`scenarios.sweep.stats.seeds_needed`, from the observed paired sd);
* ``comparison.csv``: the last year of that, with the change from the first
  year (mean and band) and ``missing_seeds`` (seeds other points have and
  this one lacks: failed or never run);
* ``exceedance.csv``: per threshold (``--threshold``, default ``hhi>1800``)
  and point, the seeds past it in the last year and the probability with a
  95 % Wilson interval;
* ``concentration.png``, ``type_shares.png`` (:mod:`scenarios.sweep.figures`),
  ``dose_response.png`` (one numeric parameter) and ``heatmap.png`` (two;
  :mod:`scenarios.sweep.response_figures`);
* ``summary.md``: a short Markdown report (:mod:`scenarios.sweep.summary`).
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.sweep.aggregate import combine
from scenarios.sweep.figures import (
    format_value,
    plot_concentration,
    plot_type_shares,
    sweep_caption,
)
from scenarios.sweep.io import collect, convert, is_run_dir, override_key
from scenarios.sweep.paired import (
    comparison_table,
    exceedance_table,
    resolution_summary,
    yearly_comparison,
)
from scenarios.sweep.registry import EXIT_PREFIX, metric, point_display, present
from scenarios.sweep.response_figures import plot_dose_response, plot_heatmap
from scenarios.sweep.summary import summary_markdown
from scenarios.sweep.threshold import Threshold, parse_threshold
from sim.output.atomic import atomic_write_text, write_csv

log = logging.getLogger(__name__)

METRICS = ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio", "n_active", "exits", "unmet")
"""The core market metrics, columns of ``market_yearly.csv`` (compared whenever present)."""

DEFAULT_THRESHOLDS = (Threshold("hhi", ">", 1800.0),)
"""Exceedance reported unless other thresholds are given: HHI above 1,800."""

_NOT_PARAMETERS = ("job", "seed", "status", "error", "config_hash", "directory", "source")


# --- loading -----------------------------------------------------------------------------


def exits_by_type(lenders: pd.DataFrame) -> pd.DataFrame:
    """Exits per job, year and lender type (``exits_<type>`` columns) from a lender table.

    A lender exits in the year its ``exit_cause`` is set; types without an
    exit count zero. Empty (no rows, only ``job`` and ``year``) without the columns.
    """
    needed = {"job", "year", "lender_type", "exit_cause"}
    if lenders.empty or not needed <= set(lenders.columns):
        return pd.DataFrame(columns=["job", "year"])
    left = lenders["exit_cause"].fillna("").astype(str) != ""
    counts = (
        lenders.assign(_exit=left.astype(int))
        .pivot_table(index=["job", "year"], columns="lender_type", values="_exit", aggfunc="sum",
                     fill_value=0)
        .add_prefix(EXIT_PREFIX)
    )
    counts.columns.name = None
    return counts.reset_index()


def load(dirs: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jobs and yearly tables of every directory, stacked, with ``source`` and exits by type."""
    jobs, yearly = [], []
    for i, directory in enumerate(dirs):
        tables = combine(collect(Path(directory), lenders=True))
        source = f"{i}:{Path(directory).name}"
        year_table = tables["yearly"]
        exits = exits_by_type(tables["lenders"])
        if len(exits.columns) > 2 and not year_table.empty:
            year_table = year_table.merge(exits, on=["job", "year"], how="left")
            added = [c for c in exits.columns if c.startswith(EXIT_PREFIX)]
            year_table[added] = year_table[added].fillna(0)
        jobs.append(tables["jobs"].assign(source=source))
        yearly.append(year_table.assign(source=source))
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


def point_labels(jobs: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """A label per job naming its policy point (``all`` when nothing varies)."""
    if not keys:
        return pd.Series("all", index=jobs.index)
    return jobs[list(keys)].apply(
        lambda row: ", ".join(f"{_short(k, keys)}={format_value(row[k])}" for k in keys), axis=1
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


# --- entry points ------------------------------------------------------------------------


def compare(
    dirs: Sequence[Path],
    baseline: str | None = None,
    out_dir: Path | None = None,
    baseline_fallback: bool = False,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    half_width: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Compare the policy points in ``dirs``; write the tables, figures and summary.

    With ``baseline_fallback`` a ``baseline`` that matches no point (e.g. a
    sweep run with other values than its file lists) falls back to the first
    point with a warning instead of raising ValueError. ``thresholds`` give
    the exceedance table; ``half_width`` overrides the registry's half-width
    per metric for the seeds needed.

    Returns:
        ``table`` (the comparison), ``yearly_table``, ``exceedance``, ``baseline``
        (its label), ``out_dir`` and ``files``.
    """
    dirs = [Path(d) for d in dirs]
    for name in half_width or {}:
        metric(name)  # an unknown metric is refused, naming the known ones
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
    metrics = list(dict.fromkeys([*(m for m in METRICS if m in yearly), *present(yearly)]))
    by_year = yearly_comparison(yearly, points, keys, base, metrics, half_width)
    table = comparison_table(yearly, points, keys, base, all_seeds, metrics, by_year)
    exceed = exceedance_table(yearly, points, keys, thresholds)
    display = {p["point"]: point_display(p, keys) for p in points.to_dict("records")}
    order = list(points["point"])
    files = [
        write_csv(table, out_dir / "comparison.csv"),
        write_csv(by_year, out_dir / "comparison_yearly.csv"),
        write_csv(exceed, out_dir / "exceedance.csv"),
    ]
    caption = sweep_caption(jobs)
    figures = [
        plot_concentration(yearly, order, base, out_dir, caption, display),
        plot_type_shares(yearly, order, out_dir, caption, base, display),
    ]
    for extra in (plot_dose_response(table, keys, out_dir, caption),
                  plot_heatmap(table, keys, out_dir, caption)):
        if extra is not None:
            figures.append(extra)
    failed = jobs[jobs["status"] != "complete"]
    sources = [str(d) for d in dirs]
    resolution = resolution_summary(table, metrics)
    text = summary_markdown(table, base, failed, sources, figures, resolution, exceed, display)
    files += [*figures, atomic_write_text(out_dir / "summary.md", text)]
    return {
        "table": table,
        "yearly_table": by_year,
        "exceedance": exceed,
        "baseline": base,
        "out_dir": out_dir,
        "files": files,
    }


def _metric_value(text: str) -> tuple[str, float]:
    """``hhi=100`` as ``("hhi", 100.0)`` (argparse type; the metric must be known)."""
    name, sep, value = text.partition("=")
    try:
        metric(name)
        if not sep:
            raise ValueError(f"{text!r}: expected METRIC=VALUE")
        return name, float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threshold(text: str) -> Threshold:
    try:
        return parse_threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
    parser.add_argument(
        "--threshold", action="append", type=_threshold, default=None,
        help="exceedance threshold, e.g. hhi=1800 (read as hhi>1800), served_share<0.65; "
        "repeat; default hhi>1800",
    )
    parser.add_argument(
        "--half-width", action="append", type=_metric_value, default=None,
        help="half-width to resolve for the seeds needed, e.g. hhi=100 (repeat)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    args = parser.parse_args(argv)
    for directory in args.dirs:
        if not directory.is_dir():
            parser.error(f"{directory}: not a directory")
    try:
        result = compare(
            args.dirs,
            baseline=args.baseline,
            out_dir=args.out,
            thresholds=args.threshold or DEFAULT_THRESHOLDS,
            half_width=dict(args.half_width or []),
        )
    except ValueError as exc:
        parser.exit(2, f"compare: {exc}\n")
    print(f"baseline: {result['baseline']}")
    for path in result["files"]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
