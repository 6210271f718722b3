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

The figures are drawn by :mod:`scenarios.sweep.figures`.
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
    FORMATS,
    format_value,
    plot_concentration,
    plot_heatmap,
    plot_type_shares,
    sweep_caption,
)
from scenarios.sweep.io import collect, convert, is_run_dir, override_key
from scenarios.sweep.stats import BAND, CONFIDENCE, changes, paired_difference, summarize
from sim.output.atomic import atomic_write_text, write_csv

log = logging.getLogger(__name__)

METRICS = ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio", "n_active", "exits", "unmet")
"""Market metrics compared, columns of ``market_yearly.csv``."""

_NOT_PARAMETERS = ("job", "seed", "status", "error", "config_hash", "directory", "source")


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


# --- summary -----------------------------------------------------------------------------


def _cell(metric: str, value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else FORMATS[metric].format(value)


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
    caption = sweep_caption(jobs)
    figures = [
        plot_concentration(yearly, order, base, out_dir, caption),
        plot_type_shares(yearly, order, out_dir, caption),
    ]
    heatmap = plot_heatmap(table, keys, out_dir, caption)
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
