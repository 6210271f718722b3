"""Back-test a history scenario against observed data: shape and level, per metric, with a score.

    python -m scenarios.backtest                                   # history_2019_2024, 5 seeds
    python -m scenarios.backtest --observed my_data.csv --seeds 10 --out outputs/bt
    python -m scenarios.backtest --runs outputs/history/*/        # existing runs, no simulation

The observed file is tidy: one row per ``year, metric, value, unit, source``.
A metric is any column of ``market_yearly.csv`` (``hhi``, ``avg_rate``,
``share_credit_cooperative`` ...) or a per-type aggregate of ``types_yearly.csv``:
``n_active_<type>``, ``outstanding_<type>`` (by originator), ``funded_<type>``
(on its own balance sheet), ``new_lending_<type>`` and ``avg_rate_<type>`` (the
volume-weighted new-loan rate) for each lender type; metrics of one unit joined
by ``+`` are summed (``outstanding_bank+outstanding_credit_cooperative``). An
unknown metric, a missing column or a non-numeric value is refused before
anything runs.

For each metric and observed year the back-test reports the simulated seed mean
and its band (lowest to highest seed), the observed value, and both as ratios to
the metric's first observed year (the *shape*). Levels are compared only where
the units agree (a ``fraction`` such as a rate or share, ``hhi``): simulated
balances are in the simulated market's CNY and lender counts are agents, each
standing for a group of real lenders, so for those only the shape is comparable.
An observed ``percent`` is read as a fraction. The score of a metric is the mean
absolute log error of the simulated mean ratio against the observed ratio over
its later observed years (0 is a perfect shape; 0.1 is about 10 % off); the
overall score is the mean over metrics with a shape score. The seed-to-seed
standard deviation of each metric in its last observed year, and the seeds
needed for a 95 % interval of the metric's resolution (``scenarios.sweep.registry``;
1 point for rates and shares, 50 for HHI, 5 % of the level otherwise), say how
far the seed means can be trusted.

The back-test never feeds the calibration: the history scenario runs with the
baseline's fitted behaviour, untuned to these outcomes. Writes ``backtest.csv``,
``backtest.md`` and ``backtest.png`` (one panel per metric: observed points over
the simulated band, as ratios to the first observed year).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import operator
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from agents.lenders import LENDER_TYPES
from scenarios.sweep.registry import METRICS
from scenarios.sweep.stats import seeds_needed
from sim.config import CONF_DIR
from sim.output.atomic import atomic_write_text, save_figure, write_csv

Tables = dict[str, pd.DataFrame]
DATA = CONF_DIR.parent / "scenarios" / "data" / "history_observed.csv"
OUTPUT_DIR = CONF_DIR.parent / "outputs" / "backtest"
COLUMNS = ("year", "metric", "value", "unit", "source")
TYPE_AGGREGATES = {
    "n_active": "n_active",
    "outstanding": "outstanding",
    "funded": "funded",
    "new_lending": "new_lending",
    "avg_rate": "rate",
}
"""Per-type metrics (``<name>_<type>``) and the ``types_yearly`` column each reads."""
FRACTIONS = ("online_share", "served_share", "new_loan_pd", "npl_ratio")
COUNT_COLUMNS = ("entries", "exits", "acquisitions", "deals_blocked", "inspections")
BAND_RESOLUTION = {"fraction": 0.01, "hhi": 50.0}
"""Interval half-width the seeds needed are stated for, by unit; else 5 % of the level."""
RELATIVE_RESOLUTION = 0.05


class ObservedDataError(ValueError):
    """An observed-data file that cannot be used: every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ----------------------------------------------------------------- metrics
def known_metrics(market_columns: Sequence[str]) -> list[str]:
    """Every metric the back-test can read: market columns, then per-type aggregates."""
    per_type = [f"{m}_{t}" for m in TYPE_AGGREGATES for t in LENDER_TYPES]
    market = [c for c in market_columns if c != "year"]
    return market + [m for m in per_type if m not in market]


def model_unit(metric: str) -> str:
    """The unit of a simulated metric, as an observed file should name it to compare levels.

    ``hhi`` (0-10,000); ``fraction`` for rates, shares, CR-n, PDs and the NPL
    ratio; ``agents`` for lender counts (each agent stands for a group of real
    lenders) and events; ``nats`` (entropy); ``equivalent lenders``
    (Hannah-Kay); else ``simulated CNY`` (the simulated market's balance sheets).
    """
    if "+" in metric:
        return model_unit(metric.split("+")[0])
    if metric.startswith("hhi"):
        return "hhi"
    if metric.startswith("entropy"):
        return "nats"
    if metric.startswith("hannah_kay"):
        return "equivalent lenders"
    if metric.startswith("n_") or metric in COUNT_COLUMNS:
        return "agents"
    if metric.startswith(("cr4", "cr5", "share", "avg_rate")) or metric in FRACTIONS:
        return "fraction"
    return "simulated CNY"


def is_known(metric: str, known: Sequence[str]) -> bool:
    """A known metric, or known metrics of one unit joined by ``+``."""
    parts = metric.split("+")
    return all(p in known for p in parts) and len({model_unit(p) for p in parts}) == 1


def series(tables: Tables, metric: str) -> pd.Series:
    """One run's yearly values of ``metric`` (a sum for ``a+b``), indexed by year."""
    if "+" in metric:
        parts = [series(tables, part) for part in metric.split("+")]
        return functools.reduce(operator.add, parts)
    market = tables["market_yearly"].set_index("year")
    if metric in market.columns:
        return market[metric].astype(float)
    name, lender_type = _split_type_metric(metric)
    types = tables["types_yearly"]
    rows = types[types["lender_type"] == lender_type].set_index("year")
    return rows[TYPE_AGGREGATES[name]].astype(float)


def _split_type_metric(metric: str) -> tuple[str, str]:
    for name in TYPE_AGGREGATES:
        for lender_type in LENDER_TYPES:
            if metric == f"{name}_{lender_type}":
                return name, lender_type
    raise KeyError(metric)


# ----------------------------------------------------------- observed data
def load_observed(path: Path, known: Sequence[str]) -> pd.DataFrame:
    """Read and check an observed-data file; ``percent`` values become fractions.

    Raises :class:`ObservedDataError` listing every problem: a missing column,
    a non-integer year, a non-numeric value, an unknown metric (with the known
    ones), a metric given twice for one year.
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ObservedDataError([f"{path}: cannot read it as CSV ({exc})"]) from exc
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ObservedDataError(
            [f"{path}: missing column(s) {', '.join(missing)}; the file needs {', '.join(COLUMNS)}"]
        )
    problems: list[str] = []
    if raw.empty:
        problems.append(f"{path}: no rows")
    year = pd.to_numeric(raw["year"], errors="coerce")
    value = pd.to_numeric(raw["value"], errors="coerce")
    for i in np.flatnonzero(year.isna() | (year % 1 != 0)):
        problems.append(f"{path} row {i + 2}: year {raw['year'][i]!r} is not a whole number")
    for i in np.flatnonzero(value.isna()):
        problems.append(f"{path} row {i + 2}: value {raw['value'][i]!r} is not a number")
    unknown = sorted(m for m in set(raw["metric"]) if not is_known(m, known))
    if unknown:
        problems.append(
            f"{path}: unknown metric(s) {', '.join(unknown)}; known: {', '.join(known)}"
            " (or known metrics of one unit joined by +)"
        )
    frame = raw.assign(year=year, value=value)
    twice = frame[frame.duplicated(["year", "metric"], keep=False)]
    for (y, m), _ in twice.groupby(["year", "metric"]):
        problems.append(f"{path}: metric {m} is given more than once for {int(y)}")
    if problems:
        raise ObservedDataError(problems)
    percent = frame["unit"].str.strip().str.lower() == "percent"
    frame.loc[percent, "value"] = frame.loc[percent, "value"] / 100.0
    frame.loc[percent, "unit"] = "fraction"
    return frame.astype({"year": int}).sort_values(["metric", "year"], ignore_index=True)


# -------------------------------------------------------------- comparison
def compare(observed: pd.DataFrame, runs: Sequence[Tables]) -> pd.DataFrame:
    """One row per observed metric and year: observed and simulated levels and shapes.

    ``sim_low`` / ``sim_high`` are the lowest and highest seed; ratios are to
    the metric's first observed year, per seed for the simulated band.
    """
    rows = []
    for metric, obs in observed.groupby("metric", sort=False):
        years = obs["year"].tolist()
        base_year = years[0]
        sims = np.array([[series(t, metric).get(y, np.nan) for y in years] for t in runs])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = sims / sims[:, :1]
        unit = model_unit(metric)
        for k, (_, o) in enumerate(obs.iterrows()):
            column, ratio = sims[:, k], ratios[:, k]
            rows.append(
                {
                    "metric": metric,
                    "year": int(o["year"]),
                    "observed": float(o["value"]),
                    "observed_ratio": float(o["value"]) / float(obs["value"].iloc[0]),
                    "sim_mean": float(np.nanmean(column)),
                    "sim_low": float(np.nanmin(column)),
                    "sim_high": float(np.nanmax(column)),
                    "sim_sd": float(np.nanstd(column, ddof=1)) if len(runs) > 1 else np.nan,
                    "sim_ratio": float(np.nanmean(column) / np.nanmean(sims[:, 0])),
                    "sim_ratio_low": float(np.nanmin(ratio)),
                    "sim_ratio_high": float(np.nanmax(ratio)),
                    "unit": o["unit"],
                    "model_unit": unit,
                    "levels_comparable": o["unit"] == unit,
                    "base_year": base_year,
                    "source": o["source"],
                }
            )
    return pd.DataFrame(rows)


def resolution(metric: str, unit: str, level: float) -> float:
    """Half-width of the interval the seeds needed are stated for."""
    if metric in METRICS and not METRICS[metric].relative and unit != "agents":
        return METRICS[metric].resolution if unit != "hhi" else BAND_RESOLUTION["hhi"]
    if unit in BAND_RESOLUTION:
        return BAND_RESOLUTION[unit]
    return RELATIVE_RESOLUTION * abs(level)


def scores(table: pd.DataFrame, n_seeds: int) -> pd.DataFrame:
    """Per metric: shape score, level error where comparable, seed sd and seeds needed."""
    rows = []
    for metric, rows_of in table.groupby("metric", sort=False):
        later = rows_of.iloc[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_errors = np.abs(np.log(later["sim_ratio"] / later["observed_ratio"]))
        last = rows_of.iloc[-1]
        comparable = bool(last["levels_comparable"])
        level_error = (
            float(np.mean(np.abs(rows_of["sim_mean"] - rows_of["observed"])))
            if comparable
            else np.nan
        )
        width = resolution(metric, last["model_unit"], last["sim_mean"])
        rows.append(
            {
                "metric": metric,
                "years": f"{rows_of['year'].iloc[0]}-{rows_of['year'].iloc[-1]}",
                "shape_score": float(log_errors.mean()) if later.size else np.nan,
                "level_error": level_error,
                "seed_sd": float(last["sim_sd"]),
                "resolution": width,
                "seeds_needed": seeds_needed(float(last["sim_sd"]), width),
                "seeds": n_seeds,
            }
        )
    return pd.DataFrame(rows)


def overall_score(per_metric: pd.DataFrame) -> float:
    """Mean shape score over the metrics that have one."""
    finite = per_metric["shape_score"].dropna()
    return float(finite.mean()) if finite.size else float("nan")


# ----------------------------------------------------------------- writing
def score_lines(per_metric: pd.DataFrame) -> list[str]:
    """The per-metric scores as a Markdown table."""
    lines = [
        "| metric | years | shape score | level error | seed sd | seeds needed (half-width) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for _, r in per_metric.iterrows():
        level = "n/a (units differ)" if pd.isna(r["level_error"]) else f"{r['level_error']:.4g}"
        shape = "n/a" if pd.isna(r["shape_score"]) else f"{r['shape_score']:.3f}"
        needed = "n/a" if pd.isna(r["seeds_needed"]) else f"{int(r['seeds_needed'])}"
        lines.append(
            f"| `{r['metric']}` | {r['years']} | {shape} | {level} | {r['seed_sd']:.4g} |"
            f" {needed} ({r['resolution']:.4g}) |"
        )
    return lines


def markdown(table: pd.DataFrame, per_metric: pd.DataFrame, header: str) -> str:
    """The back-test as a Markdown report."""
    lines = [f"# Back-test: {header}", ""]
    lines.append(
        f"Overall shape score (mean absolute log error of the ratios): "
        f"**{overall_score(per_metric):.3f}**"
    )
    lines += ["", *score_lines(per_metric)]
    lines += ["", "| metric | year | observed | simulated (band) | observed ratio | simulated ratio"
              " (band) | source |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for _, r in table.iterrows():
        lines.append(
            f"| `{r['metric']}` | {r['year']} | {r['observed']:.4g} {r['unit']} |"
            f" {r['sim_mean']:.4g} ({r['sim_low']:.4g}-{r['sim_high']:.4g}) {r['model_unit']} |"
            f" {r['observed_ratio']:.3f} | {r['sim_ratio']:.3f}"
            f" ({r['sim_ratio_low']:.3f}-{r['sim_ratio_high']:.3f}) | {r['source']} |"
        )
    return "\n".join(lines) + "\n"


def plot(table: pd.DataFrame, path: Path, caption: str) -> Path:
    """One panel per metric: the simulated ratio band and mean, the observed ratios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(table["metric"]))
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        d = table[table["metric"] == metric]
        ax.fill_between(d["year"], d["sim_ratio_low"], d["sim_ratio_high"], color="C0",
                        alpha=0.25, label="simulated (seed band)")
        ax.plot(d["year"], d["sim_ratio"], color="C0", label="simulated (mean)")
        ax.plot(d["year"], d["observed_ratio"], "o", color="C3", label="observed")
        ax.set_title(metric, fontsize=9)
        ax.set_ylabel(f"ratio to {int(d['base_year'].iloc[0])}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, caption=caption, svg=False)


# -------------------------------------------------------------------- runs
def read_runs(directories: Sequence[Path]) -> list[Tables]:
    """The yearly tables of existing runs: each directory, or each run found under it."""
    found: list[Path] = []
    for d in directories:
        d = Path(d)
        found += [d] if (d / "market_yearly.csv").exists() else sorted(
            p.parent for p in d.rglob("market_yearly.csv")
        )
    runs = []
    for d in found:
        if not (d / "types_yearly.csv").exists():
            continue
        runs.append({n: pd.read_csv(d / f"{n}.csv") for n in ("market_yearly", "types_yearly")})
    return runs


def simulate_runs(scenario: str, seeds: Sequence[int], n_borrowers: int, jobs: int) -> list[Tables]:
    """The scenario's yearly tables over ``seeds``, in parallel."""
    from scenarios.mechanism_checks import run_points, with_seed

    points = [with_seed((f"scenario={scenario}",), s, n_borrowers) for s in seeds]
    results = run_points(points, jobs)
    return [results[p] for p in points]


def market_columns() -> list[str]:
    """The columns of ``market_yearly`` (from the table of an empty record)."""
    from sim.output.tables import market_yearly
    from sim.recorder import Recorder

    return list(market_yearly(Recorder([0]), np.zeros(0, dtype=int)).columns)


# --------------------------------------------------------------------- cli
def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run (or read) the history, compare it with the observed file, write."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observed", type=Path, default=DATA, help=f"tidy CSV (default {DATA.name})")
    ap.add_argument("--scenario", default="history_2019_2024")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    ap.add_argument("--n-borrowers", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=Path, nargs="+", help="existing run directories instead")
    ap.add_argument("--out", type=Path, help="output directory (default outputs/backtest/DATE)")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds {args.seeds}: must be at least 1")
    runs = read_runs(args.runs) if args.runs else None
    if args.runs and not runs:
        print(f"no run with market_yearly.csv and types_yearly.csv under {args.runs}",
              file=sys.stderr)
        return 2
    columns = list(runs[0]["market_yearly"].columns) if runs else market_columns()
    try:
        observed = load_observed(args.observed, known_metrics(columns))
    except ObservedDataError as exc:
        print(f"observed data refused:\n{exc}", file=sys.stderr)
        return 2
    seeds = list(range(1, args.seeds + 1))
    if runs is None:
        runs = simulate_runs(args.scenario, seeds, args.n_borrowers, args.jobs)
        header = f"{args.scenario}, {len(seeds)} seeds, {args.n_borrowers:,} borrowers"
    else:
        header = f"{len(runs)} existing runs under {', '.join(map(str, args.runs))}"
    table = compare(observed, runs)
    per_metric = scores(table, len(runs))
    out = args.out or OUTPUT_DIR / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "backtest.csv")
    write_csv(per_metric, out / "backtest_scores.csv")
    atomic_write_text(out / "backtest.md", markdown(table, per_metric, header))
    plot(table, out / "backtest.png", f"{header}; observed: {args.observed.name}")
    print(per_metric.to_string(index=False))
    print(f"overall shape score {overall_score(per_metric):.3f}; written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
