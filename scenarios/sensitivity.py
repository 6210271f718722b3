"""Global sensitivity of market outcomes to levers and parameters: Morris screening (SALib).

    python -m scenarios.sensitivity [--param KEY:LOW:HIGH ...] [--trajectories 10]
        [--levels 4] [--seeds 0,1] [--output hhi ...] [--launcher joblib] [--out DIR]
        [-- HYDRA_OVERRIDE ...]

A Morris design (``SALib.sample.morris``: ``trajectories`` one-at-a-time paths
through a ``levels``-level grid of the parameter box) is written as a Hydra
config group, one option per design row (``conf/design/row_NNNN.yaml`` in the
output directory, each setting that row's parameter values), and run as one
multirun ``python -m sim +design=row_0000,...  seed=SEEDS`` through the chosen
launcher (``basic``, ``joblib``, ``ray``, ``submitit_local``,
``submitit_slurm``). Every row runs on the same seeds (common random numbers)
and its outputs are averaged over them. The sweep's usual end-of-multirun
aggregation (``runs/sweep_yearly.parquet``) provides the outputs, so a rerun
into the same ``--out`` skips rows already complete.

Writes into ``--out``: ``design.csv`` (the rows), ``sensitivity.csv``
(``output, parameter, mu, mu_star, sigma, mu_star_conf, n_trajectories``: the
Morris indices of each output in the last simulated year, the effect of moving
each parameter across its whole range) and ``sensitivity.png`` (mu* with its 95 %
bootstrap interval and sigma, one panel per output). Trajectories with a failed
row are left out of the indices (and counted in ``n_trajectories``).
"""

from __future__ import annotations

import argparse
import logging
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from scenarios.parameters import Parameter, nest
from scenarios.sweep.aggregate import aggregate
from scenarios.sweep.figures import sweep_caption
from sim.output.atomic import atomic_write_text, save_figure, write_csv

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

LAUNCHERS = {
    "basic": None,
    "joblib": "joblib",
    "ray": "ray",
    "submitit_local": "submitit_local",
    "submitit_slurm": "submitit_slurm",
}


def parse_parameter(text: str) -> Parameter:
    """``KEY:LOW:HIGH`` as a :class:`Parameter` (LOW < HIGH)."""
    try:
        key, low, high = text.rsplit(":", 2)
        parameter = Parameter(key, float(low), float(high))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY:LOW:HIGH") from exc
    if not parameter.low < parameter.high:
        raise argparse.ArgumentTypeError(f"{text!r}: LOW must be below HIGH")
    return parameter


def problem(parameters: Sequence[Parameter]) -> dict:
    """SALib's problem description for ``parameters``."""
    return {
        "num_vars": len(parameters),
        "names": [p.key for p in parameters],
        "bounds": [[p.low, p.high] for p in parameters],
    }


def design(parameters: Sequence[Parameter], trajectories: int, levels: int, seed: int):
    """The Morris design: ``trajectories * (len(parameters) + 1)`` rows, one column each."""
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(
        problem(parameters), N=trajectories, num_levels=levels, seed=seed, local_optimization=False
    )


def row_name(i: int) -> str:
    """Config option name of design row ``i``."""
    return f"row_{i:04d}"


def write_design(parameters: Sequence[Parameter], x: np.ndarray, conf_dir: Path) -> list[str]:
    """One ``# @package _global_`` option per design row in ``conf_dir/design``; return names."""
    group = Path(conf_dir) / "design"
    group.mkdir(parents=True, exist_ok=True)
    names = []
    for i, row in enumerate(np.asarray(x, dtype=float)):
        content = nest((p.key, float(value)) for p, value in zip(parameters, row, strict=True))
        text = f"# @package _global_\n# Morris design row {i}\n" + yaml.safe_dump(content)
        atomic_write_text(group / f"{row_name(i)}.yaml", text)
        names.append(row_name(i))
    return names


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


def plot_indices(table: pd.DataFrame, out_path: Path, caption: str | None = None) -> Path:
    """Bar chart of mu* (with its interval) and sigma per parameter, a panel per output."""
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(
        1, len(outputs), figsize=(3.6 * len(outputs) + 1, 4.2), layout="constrained", squeeze=False
    )
    for ax, output in zip(axes[0], outputs, strict=True):
        t = table[table["output"] == output]
        pos = np.arange(len(t))
        ax.barh(pos - 0.2, t["mu_star"], 0.4, xerr=t["mu_star_conf"], label="mu*", color="tab:blue")
        ax.barh(pos + 0.2, t["sigma"], 0.4, label="sigma", color="tab:orange")
        ax.set_yticks(pos, [p.rsplit(".", 1)[-1] for p in t["parameter"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(output)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Morris screening: mu* (mean |elementary effect| per unit range) and sigma")
    return save_figure(fig, out_path, caption=caption)


def run_design(
    names: Sequence[str],
    conf_dir: Path,
    runs_dir: Path,
    seeds: Sequence[int],
    launcher: str,
    overrides: Sequence[str],
) -> None:
    """Run the design rows as one Hydra multirun of ``python -m sim`` (raises if it fails)."""
    command = [
        sys.executable,
        "-m",
        "sim",
        "hydra.mode=MULTIRUN",
        f"hydra.searchpath=[file://{Path(conf_dir).resolve()}]",
        f"hydra.sweep.dir={Path(runs_dir).resolve()}",
        "hydra.callbacks.sweep_aggregate.compare=false",
        "plots=false",
        f"+design={','.join(names)}",
        f"seed={','.join(str(s) for s in seeds)}",
    ]
    if LAUNCHERS[launcher]:
        command.append(f"hydra/launcher={LAUNCHERS[launcher]}")
    command += list(overrides)
    log.info("Running %d design rows x %d seeds: %s", len(names), len(seeds), " ".join(command))
    subprocess.run(command, check=True)


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
) -> pd.DataFrame:
    """Sample, run and analyse a Morris design; write its table and chart; return the table."""
    if out_dir is None:
        out_dir = Path("outputs/sensitivity") / time.strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = design(parameters, trajectories, levels, design_seed)
    names = write_design(parameters, x, out_dir / "conf")
    write_csv(
        pd.DataFrame(x, columns=[p.key for p in parameters]).assign(design=names)[
            ["design", *(p.key for p in parameters)]
        ],
        out_dir / "design.csv",
    )
    runs_dir = out_dir / "runs"
    run_design(names, out_dir / "conf", runs_dir, seeds, launcher, overrides)
    tables = aggregate(runs_dir)  # the callback did this too; redone to be sure
    yearly = tables["yearly"]
    y = row_outputs(yearly, names, outputs)
    frames = [
        morris_indices(parameters, x, y[output].to_numpy(), levels, seed=design_seed).assign(
            output=output
        )
        for output in outputs
    ]
    columns = ["output", "parameter", "mu", "mu_star", "sigma", "mu_star_conf", "n_trajectories"]
    table = pd.concat(frames, ignore_index=True)[columns]
    write_csv(table, out_dir / "sensitivity.csv")
    plot_indices(table, out_dir / "sensitivity.png", sweep_caption(tables["jobs"]))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; see the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, overrides = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description="Morris global sensitivity over config keys.")
    parser.add_argument(
        "--param",
        action="append",
        type=parse_parameter,
        help="KEY:LOW:HIGH (repeat); default: " + ", ".join(p.key for p in PARAMETERS),
    )
    parser.add_argument("--output", action="append", help=f"default: {', '.join(OUTPUTS)}")
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--design-seed", type=int, default=0)
    parser.add_argument("--launcher", choices=sorted(LAUNCHERS), default="basic")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = sensitivity(
        parameters=args.param or PARAMETERS,
        outputs=args.output or OUTPUTS,
        trajectories=args.trajectories,
        levels=args.levels,
        seeds=[int(s) for s in args.seeds.split(",")],
        launcher=args.launcher,
        out_dir=args.out,
        overrides=overrides,
        design_seed=args.design_seed,
    )
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
