"""Global sensitivity of market outcomes to levers and parameters: Morris or Sobol (SALib).

    python -m scenarios.sensitivity [--method morris|sobol] [--param KEY:LOW:HIGH ...]
        [--trajectories 10] [--levels 4] [--n 64] [--seeds 0,1] [--output hhi ...]
        [--launcher joblib] [--out DIR] [-- HYDRA_OVERRIDE ...]

``--method morris`` (default) samples a Morris design (``SALib.sample.morris``:
``trajectories`` one-at-a-time paths through a ``levels``-level grid of the
parameter box); ``--method sobol`` Saltelli's design on a scrambled Sobol
sequence (``SALib.sample.sobol``, ``n * (parameters + 2)`` rows, first-order
and total indices). The rows are written as a Hydra config group and run as
one multirun through the chosen launcher (:mod:`scenarios.design`: ``basic``,
``joblib``, ``ray``, ``submitit_local``, ``submitit_slurm``). Every row runs
on the same seeds (common random numbers) and its outputs are averaged over
them. The sweep's usual end-of-multirun aggregation
(``runs/sweep_yearly.parquet``) provides the outputs, so a rerun into the same
``--out`` skips rows already complete. Unknown keys, ranges the config refuses
and unknown outputs are refused before any run.

Writes into ``--out``: ``design.csv`` (the rows), ``sensitivity.csv`` and
``sensitivity.png``, for each output in the last simulated year:

* Morris: ``output, parameter, mu, mu_star, sigma, mu_star_conf,
  n_trajectories`` (the effect of moving each parameter across its whole
  range); the figure draws mu* with its 95 % bootstrap interval and sigma as
  bars, and the mu*-sigma scatter (points above the diagonal act through
  interactions or non-linearly). Trajectories with a failed row are left out
  (and counted in ``n_trajectories``).
* Sobol: ``output, parameter, S1, S1_conf, ST, ST_conf, n_rows`` (first-order
  and total indices, 95 % bootstrap half-widths); a failed row leaves the
  output's indices nan (``n_rows`` counts the finite rows).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scenarios.design import (
    LAUNCHERS,
    check_parameters,
    design_table,
    parse_parameter,
    parse_seeds,
    problem,
    run_design,
    saltelli,
    split_overrides,
    write_design,
)
from scenarios.parameters import Parameter
from scenarios.sweep.figures import sweep_caption
from scenarios.sweep.registry import METRICS
from scenarios.sweep.registry import parameter as parameter_label
from sim.output.atomic import save_figure, write_csv

log = logging.getLogger(__name__)


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("regulation.rate_cap_apr", 0.12, 0.36),  # 4 x LPR (2020-08) .. judicial 36 %
    Parameter("regulation.co_lending_min_own_share", 0.10, 0.70),
    Parameter("regulation.online_entry_capital_cny", 1.0e8, 2.0e9),
    Parameter(
        "behaviour.rate_sensitivity", 0.25, 1.0
    ),  # calibration assumption 0.5, halved/doubled
)
"""Default levers and parameters with their ranges."""

OUTPUTS: tuple[str, ...] = ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio")
"""Default outputs: columns of ``market_yearly.csv`` in the last simulated year."""

def design(parameters: Sequence[Parameter], trajectories: int, levels: int, seed: int):
    """The Morris design: ``trajectories * (len(parameters) + 1)`` rows, one column each."""
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(
        problem(parameters), N=trajectories, num_levels=levels, seed=seed, local_optimization=False
    )


def complete_trajectories(y: np.ndarray, n_params: int) -> np.ndarray:
    """Boolean mask over rows: True where the row's whole trajectory has finite outputs.

    Rows come in trajectories of ``n_params + 1``; one non-finite output drops
    the trajectory (its elementary effects need every step).
    """
    y = np.asarray(y, dtype=float)
    step = n_params + 1
    if y.shape[0] % step:
        raise ValueError(f"{y.shape[0]} rows are not whole trajectories of {step}")
    blocks = np.isfinite(y.reshape(-1, step, *y.shape[1:])).reshape(y.shape[0] // step, -1)
    return np.repeat(blocks.all(axis=1), step)


def morris_indices(
    parameters: Sequence[Parameter], x: np.ndarray, y: np.ndarray, levels: int, seed: int = 0
) -> pd.DataFrame:
    """mu, mu*, sigma and mu*'s 95 % interval half-width for one output (rows in design order).

    Incomplete trajectories are dropped first; ``n_trajectories`` counts those used.
    """
    from SALib.analyze import morris as morris_analyze

    y = np.asarray(y, dtype=float)
    keep = complete_trajectories(y, len(parameters))
    n_used = int(keep.sum()) // (len(parameters) + 1)
    names = [p.key for p in parameters]
    if n_used == 0:
        nan = [math.nan] * len(names)
        return pd.DataFrame(
            {"parameter": names, "mu": nan, "mu_star": nan, "sigma": nan, "mu_star_conf": nan}
        ).assign(n_trajectories=0)
    result = morris_analyze.analyze(
        problem(parameters),
        np.asarray(x, dtype=float)[keep],
        y[keep],
        num_levels=levels,
        conf_level=0.95,
        num_resamples=1000,
        seed=seed,
    )
    return pd.DataFrame(
        {
            "parameter": names,
            "mu": np.asarray(result["mu"], dtype=float),
            "mu_star": np.asarray(result["mu_star"], dtype=float),
            "sigma": np.asarray(result["sigma"], dtype=float),
            "mu_star_conf": np.asarray(result["mu_star_conf"], dtype=float),
        }
    ).assign(n_trajectories=n_used)


def row_outputs(yearly: pd.DataFrame, names: Sequence[str], outputs: Sequence[str]) -> pd.DataFrame:
    """Outputs in the last year by design row (mean over seeds; nan for rows with no result)."""
    if yearly.empty or "design" not in yearly.columns:
        return pd.DataFrame(np.nan, index=list(names), columns=list(outputs))
    last = yearly[yearly["year"] == yearly["year"].max()]
    means = last.groupby("design")[list(outputs)].mean()
    return means.reindex(list(names))


def sobol_indices(
    parameters: Sequence[Parameter], y: np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """First-order and total Sobol indices with 95 % bootstrap half-widths (SALib).

    ``y`` holds the outputs of a :func:`scenarios.design.saltelli` design in
    row order. A non-finite output leaves nothing to estimate from that
    block: the indices are then nan and ``n_rows`` counts the finite rows.
    """
    from SALib.analyze import sobol as sobol_analyze

    y = np.asarray(y, dtype=float)
    names = [p.key for p in parameters]
    n_finite = int(np.isfinite(y).sum())
    columns = ["S1", "S1_conf", "ST", "ST_conf"]
    if n_finite < y.size or y.size == 0 or np.nanstd(y) == 0:
        return pd.DataFrame({"parameter": names, **{c: [math.nan] * len(names) for c in columns}}
                            ).assign(n_rows=n_finite)
    result = sobol_analyze.analyze(
        problem(parameters), y, calc_second_order=False, num_resamples=1000, conf_level=0.95,
        seed=seed,
    )
    return pd.DataFrame(
        {"parameter": names, **{c: np.asarray(result[c], dtype=float) for c in columns}}
    ).assign(n_rows=n_finite)


def _short_names(parameters: Sequence[str]) -> list[str]:
    return [parameter_label(p).label for p in parameters]


def plot_indices(table: pd.DataFrame, out_path: Path, caption: str | None = None) -> Path:
    """Morris: mu* (with its interval) and sigma bars, and the mu*-sigma scatter, per output."""
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(
        2, len(outputs), figsize=(3.8 * len(outputs) + 1.5, 7.6), layout="constrained",
        squeeze=False,
    )
    for j, output in enumerate(outputs):
        t = table[table["output"] == output]
        ax, scatter = axes[0][j], axes[1][j]
        pos = np.arange(len(t))
        ax.barh(pos - 0.2, t["mu_star"], 0.4, xerr=t["mu_star_conf"], label="mu*", color="tab:blue")
        ax.barh(pos + 0.2, t["sigma"], 0.4, label="sigma", color="tab:orange")
        ax.set_yticks(pos, _short_names(t["parameter"]), fontsize=8)
        ax.invert_yaxis()
        ax.set_title(_output_label(output), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        scatter.errorbar(t["mu_star"], t["sigma"], xerr=t["mu_star_conf"], fmt="o", capsize=3)
        for name, x, y in zip(_short_names(t["parameter"]), t["mu_star"], t["sigma"], strict=True):
            if np.isfinite(x) and np.isfinite(y):
                scatter.annotate(name, (x, y), fontsize=7, xytext=(3, 3),
                                 textcoords="offset points")
        top = np.nanmax([*t["mu_star"], *t["sigma"], 0.0]) * 1.15 or 1.0
        scatter.plot([0, top], [0, top], color="0.6", ls="--", lw=0.8, label="sigma = mu*")
        scatter.set_xlim(0, top)
        scatter.set_ylim(0, top)
        scatter.set_xlabel("mu* (mean |elementary effect|)")
        scatter.set_ylabel("sigma (interaction or non-linearity)")
        scatter.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Morris screening: mu* (effect of moving a parameter across its range) and sigma")
    return save_figure(fig, out_path, caption=caption)


def plot_sobol(table: pd.DataFrame, out_path: Path, caption: str | None = None) -> Path:
    """First-order and total Sobol indices with their 95 % intervals, a panel per output."""
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(
        1, len(outputs), figsize=(3.8 * len(outputs) + 1.5, 4.4), layout="constrained",
        squeeze=False,
    )
    for ax, output in zip(axes[0], outputs, strict=True):
        t = table[table["output"] == output]
        pos = np.arange(len(t))
        ax.barh(pos - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order S1",
                color="tab:blue")
        ax.barh(pos + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total ST", color="tab:orange")
        ax.set_yticks(pos, _short_names(t["parameter"]), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(left=min(0.0, float(np.nanmin([*(t["S1"] - t["S1_conf"]), 0.0]))))
        ax.set_title(_output_label(output), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Sobol indices: share of the output's variance (first order, total)")
    return save_figure(fig, out_path, caption=caption)


def _output_label(output: str) -> str:
    return METRICS[output].axis_label if output in METRICS else output


def sensitivity(
    parameters: Sequence[Parameter] = PARAMETERS,
    outputs: Sequence[str] = OUTPUTS,
    trajectories: int = 10,
    levels: int = 4,
    seeds: Sequence[int] = (0,),
    launcher: str = "basic",
    out_dir: Path | None = None,
    overrides: Sequence[str] = (),
    design_seed: int = 0,
    method: str = "morris",
    n: int = 64,
) -> pd.DataFrame:
    """Sample, run and analyse a Morris or Sobol design; write its table and chart; return it.

    Args:
        parameters: The keys varied and their ranges.
        outputs: Columns of the yearly table analysed in the last year.
        trajectories: Morris: number of trajectories.
        levels: Morris: grid levels.
        seeds: Every row runs on these seeds; outputs are averaged over them.
        launcher: One of :data:`scenarios.design.LAUNCHERS`.
        out_dir: Output directory (a rerun into it only runs what is missing).
        overrides: Hydra overrides for every run.
        design_seed: Seed of the design and of the bootstrap.
        method: ``morris`` or ``sobol`` (Saltelli's design, ``n * (D + 2)`` rows).
        n: Sobol: base sample size (a power of two).
    """
    if method not in ("morris", "sobol"):
        raise ValueError(f"unknown method {method!r}; known: morris, sobol")
    check_parameters(parameters, overrides)
    if out_dir is None:
        out_dir = Path("outputs/sensitivity") / time.strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if method == "morris":
        x = design(parameters, trajectories, levels, design_seed)
    else:
        x = saltelli(parameters, n, design_seed)
    title = "Morris design" if method == "morris" else "Sobol (Saltelli) design"
    names = write_design(parameters, x, out_dir / "conf", title)
    write_csv(design_table(parameters, x, names), out_dir / "design.csv")
    runs_dir = out_dir / "runs"
    run_design(names, out_dir / "conf", runs_dir, seeds, launcher, overrides)
    yearly = pd.read_parquet(runs_dir / "sweep_yearly.parquet")
    jobs = pd.read_csv(runs_dir / "sweep_jobs.csv")
    y = row_outputs(yearly, names, outputs)
    if method == "morris":
        frames = [
            morris_indices(parameters, x, y[output].to_numpy(), levels, seed=design_seed).assign(
                output=output
            )
            for output in outputs
        ]
        columns = ["output", "parameter", "mu", "mu_star", "sigma", "mu_star_conf",
                   "n_trajectories"]
    else:
        frames = [
            sobol_indices(parameters, y[output].to_numpy(), seed=design_seed).assign(output=output)
            for output in outputs
        ]
        columns = ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf", "n_rows"]
    table = pd.concat(frames, ignore_index=True)[columns]
    write_csv(table, out_dir / "sensitivity.csv")
    plot = plot_indices if method == "morris" else plot_sobol
    plot(table, out_dir / "sensitivity.png", sweep_caption(jobs))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; see the module docstring."""
    argv, overrides = split_overrides(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description="Global sensitivity (Morris or Sobol) over config keys."
    )
    parser.add_argument(
        "--param",
        action="append",
        type=parse_parameter,
        help="KEY:LOW:HIGH (repeat); default: " + ", ".join(p.key for p in PARAMETERS),
    )
    parser.add_argument("--method", choices=("morris", "sobol"), default="morris")
    parser.add_argument("--output", action="append", help=f"default: {', '.join(OUTPUTS)}")
    parser.add_argument("--trajectories", type=int, default=10, help="Morris trajectories")
    parser.add_argument("--levels", type=int, default=4, help="Morris grid levels")
    parser.add_argument("--n", type=int, default=64,
                        help="Sobol base sample (power of two): n * (parameters + 2) rows")
    parser.add_argument("--seeds", type=parse_seeds, default=[0], help="comma-separated, e.g. 0,1")
    parser.add_argument("--design-seed", type=int, default=0)
    parser.add_argument("--launcher", choices=sorted(LAUNCHERS), default="basic")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    outputs = args.output or OUTPUTS
    unknown = [o for o in outputs if o not in METRICS]
    if unknown:
        parser.error(f"unknown output {unknown[0]!r}; known: {', '.join(METRICS)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        table = sensitivity(
            parameters=args.param or PARAMETERS,
            outputs=outputs,
            trajectories=args.trajectories,
            levels=args.levels,
            seeds=args.seeds,
            launcher=args.launcher,
            out_dir=args.out,
            overrides=overrides,
            design_seed=args.design_seed,
            method=args.method,
            n=args.n,
        )
    except ValueError as exc:
        parser.exit(2, f"sensitivity: {exc}\n")
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
