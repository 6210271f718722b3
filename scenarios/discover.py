"""``lendsim-discover``: under which levers and uncertainties does an outcome occur?

    python -m scenarios.discover --lever KEY:LOW:HIGH [...] [--uncertainty KEY:LOW:HIGH ...]
        [--design latin|sobol] [--n 64] [--seeds 0,1] [--design-seed 0]
        --target "hhi>1800" [--year 2030] [--any-year] [--out DIR] [-- HYDRA_OVERRIDE ...]
    python -m scenarios.discover --sweep SWEEP_DIR --target "hhi>1800" [--year 2030] [--out DIR]

The first form samples a design over the levers (policy choices, e.g.
``regulation.rate_cap_apr``) and uncertainties (behavioural parameters,
``market.demand_growth``, a year of ``market.default_cycle``), a Latin
hypercube of ``--n`` rows or Saltelli's Sobol design (``n * (inputs + 2)``
rows), and runs every row on the same seeds as one Hydra multirun
(:mod:`scenarios.design`; any launcher, e.g. ``-- hydra/launcher=joblib``).
A rerun into the same ``--out`` with the same arguments gives the same design
and only runs the jobs not complete. The second form reads the runs of an
existing sweep directory, its numeric swept parameters as the inputs, or the
runs of an earlier design (its ``--out``), to ask about another target
without running anything.

Each run (design row and seed) is one case: its outcome is whether the
target (``hhi>1800``, ``share_online_platform<0.03``, ``served_share<0.65``:
any metric of :mod:`scenarios.sweep.registry`) holds in ``--year`` (default
the last simulated year), or with ``--any-year`` in any year up to it.
Writes into ``--out``:

* ``design.csv`` and ``factors.csv`` (design form): the rows and their values;
  each input's role (lever or uncertainty), label and range;
* ``outcomes.csv``: per run, its inputs, seed, the metric and the outcome;
* ``prim_boxes.csv``: every box of PRIM's peeling trajectory: coverage,
  density, mass, runs in it, and the limits and quasi-p values of each
  restricted input; ``chosen`` marks the box reported;
* ``prim_tradeoff.png``: the coverage-density trade-off (EMA Workbench), the
  chosen box circled;
* ``feature_scores.csv``, ``feature_scores.png``: extra-trees scores of each
  input for the outcome and for the metric;
* ``dimensional_stacking.png`` (two inputs or more, when PRIM found a box):
  the share of runs with the outcome in bins of the most important inputs
  (EMA Workbench's pivot plot);
* ``discovery.md``: the share of runs with the outcome (Wilson interval), the
  best box in words with its density and coverage, and the scores.

Bad input is refused before any run: a malformed ``--lever``, LOW >= HIGH, a
key the config does not have, an unknown metric (the known ones are listed).
"""

from __future__ import annotations

import argparse
import logging
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

from scenarios.design import (
    LAUNCHERS,
    check_parameters,
    design_table,
    latin,
    parse_parameter,
    parse_seeds,
    run_design,
    saltelli,
    split_overrides,
    write_design,
)
from scenarios.discovery import (
    MIN_COVERAGE,
    best_box,
    box_table,
    discovery_markdown,
    ema_analysis,
    feature_scores,
    prim_boxes,
    quiet,
)
from scenarios.parameters import Parameter
from scenarios.sweep.figures import sweep_caption
from scenarios.sweep.registry import parameter
from scenarios.sweep.threshold import Threshold, parse_threshold, run_outcomes
from sim.output.atomic import atomic_write_text, save_figure, write_csv

log = logging.getLogger(__name__)

DESIGNS = ("latin", "sobol")


def sample(parameters: Sequence[Parameter], method: str, n: int, seed: int) -> np.ndarray:
    """The design's rows: a Latin hypercube of ``n`` or Saltelli's ``n * (D + 2)``."""
    if method == "latin":
        return latin(parameters, n, seed)
    if method == "sobol":
        return saltelli(parameters, n, seed)
    raise ValueError(f"unknown design {method!r}; known: {', '.join(DESIGNS)}")


def factor_table(levers: Sequence[Parameter], uncertainties: Sequence[Parameter]) -> pd.DataFrame:
    """``factors.csv``: each input's key, role (lever or uncertainty), label and range."""
    rows = [
        {"key": f.key, "role": role, "label": parameter(f.key).label, "low": f.low, "high": f.high}
        for role, group in (("lever", levers), ("uncertainty", uncertainties))
        for f in group
    ]
    return pd.DataFrame(rows, columns=["key", "role", "label", "low", "high"])


def roles_of(directory: Path) -> dict[str, str]:
    """Each input's role from ``factors.csv`` in ``directory`` (empty when there is none)."""
    path = Path(directory) / "factors.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    return dict(zip(table["key"], table["role"], strict=True))


def design_runs(runs_dir: Path, design: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The design's yearly rows with each row's input values, and its jobs table."""
    yearly = pd.read_parquet(runs_dir / "sweep_yearly.parquet")
    jobs = pd.read_csv(runs_dir / "sweep_jobs.csv")
    if yearly.empty:
        raise ValueError(f"no run of {runs_dir} completed; see its failed.csv")
    inputs = [c for c in design.columns if c != "design"]
    yearly = yearly.drop(columns=[c for c in inputs if c in yearly.columns])
    return yearly.merge(design, on="design", how="inner", validate="m:1"), jobs


def sweep_runs(sweep_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """An existing sweep's yearly rows, jobs, and its numeric swept parameters (the inputs).

    A directory this command wrote (``design.csv`` beside ``runs/``) is read as
    its design: the design's keys are the inputs.
    """
    from scenarios.sweep.compare import load, policy_keys

    sweep_dir = Path(sweep_dir)
    if (sweep_dir / "design.csv").is_file() and (sweep_dir / "runs").is_dir():
        design = pd.read_csv(sweep_dir / "design.csv")
        yearly, jobs = design_runs(sweep_dir / "runs", design)
        return yearly, jobs, [c for c in design.columns if c != "design"]
    jobs, yearly = load([Path(sweep_dir)])
    if yearly.empty:
        raise ValueError(f"no complete job in {sweep_dir}")
    keys = [k for k in policy_keys(jobs) if pd.api.types.is_numeric_dtype(jobs[k])]
    if not keys:
        raise ValueError(f"{sweep_dir} varies no numeric parameter; nothing to discover over")
    return yearly, jobs, keys


def plot_tradeoff(trajectory: pd.DataFrame, chosen: int, out: Path, caption: str) -> Path:
    """EMA Workbench's coverage-density trade-off of the peeling trajectory, chosen box circled."""
    from ema_workbench.analysis.scenario_discovery_util import plot_tradeoff as ema_tradeoff

    ema_analysis()
    fig = ema_tradeoff(trajectory.rename(columns={"box": "id"}), annotated=False)
    ax = fig.axes[0]
    row = trajectory.set_index("box").loc[chosen]
    ax.scatter([row["coverage"]], [row["density"]], s=160, facecolors="none",
               edgecolors="tab:red", linewidths=1.5, label=f"chosen: box {chosen}")
    ax.axvline(MIN_COVERAGE, color="0.6", ls=":", lw=1, label=f"coverage {MIN_COVERAGE:.0%}")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("PRIM peeling trajectory (colour: restricted inputs)", fontsize=9)
    fig.set_size_inches(6.4, 5.4)
    return save_figure(fig, out, caption=caption)


def plot_scores(scores: pd.DataFrame, metric: str, out: Path, caption: str) -> Path:
    """Bars of each input's feature score for the outcome and for the metric."""
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.5 * len(scores)), layout="constrained")
    pos = np.arange(len(scores))
    ax.barh(pos - 0.2, scores["outcome"].fillna(0), 0.4, label="outcome (classification)")
    ax.barh(pos + 0.2, scores[metric].fillna(0), 0.4, label=f"{metric} (regression)")
    ax.set_yticks(pos, [parameter(p).label for p in scores["parameter"]], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("feature score (extra trees; sums to 1 per column)")
    fig.legend(fontsize=7, loc="outside lower center", ncols=2)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Which inputs explain the outcome", fontsize=9)
    return save_figure(fig, out, caption=caption)


def plot_stacking(x: pd.DataFrame, hit: np.ndarray, out: Path, caption: str, seed: int) -> Path:
    """EMA Workbench's dimensional stacking: share of runs with the outcome, binned by inputs.

    The most important inputs (2 with fewer than 4 inputs, else 4) are cut in
    three bins each; values are shown in the registry's units. The library's
    forest is unseeded, so numpy's global generator is seeded for the call
    and put back after it.
    """
    from ema_workbench.analysis import dimensional_stacking

    ema_analysis()
    shown = pd.DataFrame(
        {parameter(k).label: x[k].to_numpy(dtype=float) * parameter(k).scale for k in x.columns}
    ).round(3)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with matplotlib.rc_context(), quiet():
            fig = dimensional_stacking.create_pivot_plot(
                shown, hit.astype(int), nr_levels=1 if x.shape[1] < 4 else 2, nbins=3,
                bin_labels=True,
            )
            fig.suptitle("Share of runs with the outcome, by bins of the most important inputs",
                         fontsize=9)
            return save_figure(fig, out, caption=caption)
    finally:
        np.random.set_state(state)


def discover(
    yearly: pd.DataFrame,
    jobs: pd.DataFrame,
    inputs: Sequence[str],
    target: Threshold,
    year: int | None,
    any_year: bool,
    out_dir: Path,
    seed: int = 0,
    roles: dict[str, str] | None = None,
) -> dict[str, object]:
    """Outcomes, PRIM, feature scores and their files in ``out_dir``; return what was found."""
    year = int(yearly["year"].max()) if year is None else int(year)
    run_columns = [*inputs, "seed"]
    outcomes = run_outcomes(yearly, run_columns, target, year, any_year)
    outcomes = outcomes[np.isfinite(outcomes["value"].astype(float))].reset_index(drop=True)
    x = outcomes[list(inputs)].astype(float)
    hit = outcomes["hit"].to_numpy(dtype=bool)
    caption = sweep_caption(jobs)
    seeds = sorted({int(s) for s in outcomes["seed"]})
    scores = feature_scores(x, hit, outcomes["value"].to_numpy(), seed, target.metric)
    files = [
        write_csv(outcomes.rename(columns={"value": target.metric}), out_dir / "outcomes.csv"),
        write_csv(scores, out_dir / "feature_scores.csv"),
        plot_scores(scores, target.metric, out_dir / "feature_scores.png", caption),
    ]
    trajectory = limits = chosen = None
    note = ""
    try:
        trajectory, limits = prim_boxes(x, hit)
    except ValueError as exc:
        note = f"No PRIM box: {exc}."
        empty = pd.DataFrame(columns=["box", "chosen", "coverage", "density", "mass", "n", "k",
                                      "res_dim", "parameter", "min", "max", "min_restricted",
                                      "max_restricted", "qp_low", "qp_high"])
        files.append(write_csv(empty, out_dir / "prim_boxes.csv"))
        fig, ax = plt.subplots(figsize=(6.4, 3))
        ax.axis("off")
        ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True)
        files.append(save_figure(fig, out_dir / "prim_tradeoff.png", caption=caption))
    else:
        chosen = best_box(trajectory)
        files.append(write_csv(box_table(trajectory, limits, chosen), out_dir / "prim_boxes.csv"))
        files.append(plot_tradeoff(trajectory, chosen, out_dir / "prim_tradeoff.png", caption))
        if x.shape[1] >= 2:
            files.append(plot_stacking(x, hit, out_dir / "dimensional_stacking.png", caption, seed))
    failed = int((jobs["status"] != "complete").sum()) if "status" in jobs else 0
    if failed:
        note = (f"{note} " if note else "") + (
            f"{failed} of {len(jobs)} runs did not complete (see failed.csv beside the runs) and "
            "are left out."
        )
    text = discovery_markdown(
        target, year, any_year, outcomes, trajectory, limits, chosen, scores, inputs, seeds, note,
        roles,
    )
    files.append(atomic_write_text(out_dir / "discovery.md", text))
    return {"outcomes": outcomes, "trajectory": trajectory, "limits": limits, "chosen": chosen,
            "scores": scores, "text": text, "files": files}


def _factor(option: str):
    def parse(text: str) -> Parameter:
        return parse_parameter(text, option)

    return parse


def _target(text: str) -> Threshold:
    try:
        return parse_threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--target: {exc}") from None


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    p = argparse.ArgumentParser(
        prog="lendsim-discover",
        description="Scenario discovery: a design over levers and uncertainties, PRIM boxes and "
        "feature scores for a target outcome. Hydra overrides for every run follow --.",
    )
    p.add_argument("--lever", action="append", type=_factor("--lever"), default=[],
                   help="KEY:LOW:HIGH, a policy lever (repeat)")
    p.add_argument("--uncertainty", action="append", type=_factor("--uncertainty"), default=[],
                   help="KEY:LOW:HIGH, an uncertain parameter (repeat)")
    p.add_argument("--sweep", type=Path, default=None,
                   help="read this existing sweep directory instead of running a design")
    p.add_argument("--design", choices=DESIGNS, default="latin")
    p.add_argument("--n", type=int, default=64, help="Latin: rows; Sobol: base sample")
    p.add_argument("--seeds", type=parse_seeds, default=[0], help="comma-separated, e.g. 0,1")
    p.add_argument("--design-seed", type=int, default=0, help="seed of the design and the trees")
    p.add_argument("--target", type=_target, required=True, help='e.g. "hhi>1800"')
    p.add_argument("--year", type=int, default=None, help="default: the last simulated year")
    p.add_argument("--any-year", action="store_true",
                   help="the target holds in any year up to --year")
    p.add_argument("--launcher", choices=sorted(LAUNCHERS), default="basic")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default outputs/discovery/TIMESTAMP); rerun to resume")
    return p


def _year_range(overrides: Sequence[str]) -> tuple[int, int]:
    from sim.validation import compose

    cfg = compose(*(o for o in overrides if not o.lstrip("+~").startswith("hydra")))
    return int(str(cfg.market.start)[:4]), int(str(cfg.market.end)[:4])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; see the module docstring."""
    argv, overrides = split_overrides(sys.argv[1:] if argv is None else argv)
    p = parser()
    args = p.parse_args(argv)
    factors = [*args.lever, *args.uncertainty]
    if args.sweep is None and not factors:
        p.error("give --lever/--uncertainty KEY:LOW:HIGH to run a design, or --sweep DIR")
    if args.sweep is not None and (factors or overrides):
        p.error("--sweep reads existing runs: no --lever, --uncertainty or overrides with it")
    if args.n < 2:
        p.error(f"--n {args.n}: need at least 2")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.sweep is not None:
            if not args.sweep.is_dir():
                p.error(f"--sweep {args.sweep}: not a directory")
            yearly, jobs, inputs = sweep_runs(args.sweep)
            roles = roles_of(args.sweep)
            out_dir = args.out or args.sweep / "discovery"
        else:
            check_parameters(factors, overrides)
            first, last = _year_range(overrides)
            if args.year is not None and not first <= args.year <= last:
                p.error(f"--year {args.year}: runs simulate {first}-{last}")
            out_dir = args.out or Path("outputs/discovery") / time.strftime("%Y-%m-%d_%H-%M-%S")
            out_dir.mkdir(parents=True, exist_ok=True)
            x = sample(factors, args.design, args.n, args.design_seed)
            names = write_design(factors, x, out_dir / "conf", f"{args.design} design")
            design = design_table(factors, x, names)
            write_csv(design, out_dir / "design.csv")
            write_csv(factor_table(args.lever, args.uncertainty), out_dir / "factors.csv")
            run_design(names, out_dir / "conf", out_dir / "runs", args.seeds, args.launcher,
                       overrides)
            yearly, jobs = design_runs(out_dir / "runs", design)
            inputs = [f.key for f in factors]
            roles = roles_of(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = discover(yearly, jobs, inputs, args.target, args.year, args.any_year, out_dir,
                          args.design_seed, roles)
    except ValueError as exc:
        p.exit(2, f"lendsim-discover: {exc}\n")
    except subprocess.CalledProcessError as exc:
        p.exit(1, f"lendsim-discover: the runs stopped (exit {exc.returncode}); rerun the same "
               "command to resume\n")
    print(result["text"])
    for path in result["files"]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
