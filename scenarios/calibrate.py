"""Fit the model's free behavioural parameters to the report's 2024-2030 trajectory.

    python -m scenarios.calibrate                       # fit, write outputs/calibration/DATE/
    python -m scenarios.calibrate --budget 160 --seeds 6 --n-borrowers 100000 --write
                                        # fit at full scale, update conf/calibration/baseline.yaml
    python -m scenarios.calibrate --check               # re-evaluate the committed values
    python -m scenarios.calibrate --check --seeds 10 --n-borrowers 100000   # full-scale table

The loss (:func:`loss`) is a weighted mean of squared errors, each error
divided by the acceptance tolerance of its target (``scenarios.targets``), of
the seed-averaged simulated value against the report's figure, plus a hinge
penalty when HHI does not rise from 2024 to 2030 and hinge penalties for the
2024 price structure by lender type (``scenarios/data/price_structure_2024.csv``:
each type's rate within its band, platforms at least 6 points above banks, a
quarter of platform volume above 15 %). The acceptance criteria are
constraints on top: each point moment beyond 90 % of its tolerance and each price
fact closer than a tenth of a point to its band's edge costs 10 per squared
tolerance beyond that aim (``fitting.acceptance_excess``), so a point that meets
every criterion beats one that misses any. Every evaluation runs the same
seeds (common random numbers), so differences between parameter points are not
seed noise.

The search is bounded and deterministic: a Latin-hypercube screening of the box
(``scipy.stats.qmc``, fixed seed) around the starting values, then Nelder-Mead
(``scipy.optimize.minimize``, bounded) from the best point found, in
coordinates scaled to the unit box. The fitted values are written to a Hydra
config (``@package _global_``): by default a new ``outputs/calibration/DATE/
baseline.yaml``, which changes nothing else; only ``--write`` replaces the
committed ``conf/calibration/baseline.yaml`` that ``conf/scenario/baseline.yaml``
includes. Its header records the command, loss, seeds, scale, date and each
target's error, and ``--check``
re-evaluates the committed values and compares the loss with the recorded one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.calibration_io import (
    LAUNCHERS,
    OUTPUT_DIR,
    Evaluator,
    comparison_table,
    plot_fit,
    read_record,
    record_header,
    with_values,
)
from scenarios.fitting import (
    NOT_IDENTIFIED,
    PARAMETERS,
    fit,
    loss,
    report_progress,
    seed_scales,
)
from scenarios.parameters import Parameter, get_value, nest
from scenarios.sweep.stats import seeds_needed
from scenarios.targets import (
    TOLERANCE,
    Targets,
    load_targets,
    mean_summary,
    misses,
    price_gaps,
    target_rows,
)
from sim.config import CONF_DIR
from sim.output.atomic import atomic_write_text
from sim.validation import compose

DEFAULT_OUT = CONF_DIR / "calibration" / "baseline.yaml"
DEFAULT_PLOT = OUTPUT_DIR / "calibration.png"
CHECK_TOLERANCE = 0.05
"""``--check`` passes when the re-evaluated loss is within 5 % (relative) of the recorded one.

Runs are deterministic for a given code and seed, so the same code reproduces
the loss exactly; the tolerance leaves room for numerically different
platforms and for refactorings that only reorder floating-point sums.
"""


# ------------------------------------------------------------------ output
def write_calibration(
    path: Path, values: dict[str, float], record: dict[str, Any], table: str
) -> None:
    """Write the fitted values as a ``@package _global_`` Hydra config, atomically.

    The header (:func:`~scenarios.calibration_io.record_header`) records the
    loss, seeds and scale; each value's comment gives its bounds.
    """
    lines = record_header(record, table)
    nested = nest((p.key, (values[p.key], p)) for p in PARAMETERS)

    def emit(node: dict[str, Any], indent: int) -> None:
        for name, child in node.items():
            pad = "  " * indent
            if isinstance(child, dict):
                lines.append(f"{pad}{name}:")
                emit(child, indent + 1)
            else:
                value, p = child
                lines.append(f"{pad}{name}: {value!r}  # {value_source(p)}")

    emit(nested, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")


def value_source(p: Parameter) -> str:
    """A calibrated value's source comment: fitted in its bounds, or fixed and why."""
    if p.key in NOT_IDENTIFIED:
        return (
            f"calibration: fixed at an earlier fit's value in [{p.low:g}, {p.high:g}]; the moments"
            " do not pin it (docs/validation/identification/recovery.md)"
        )
    return f"calibration: fitted in [{p.low:g}, {p.high:g}]"


# ------------------------------------------------------------ command line
HALF_WIDTH = {
    "hhi_": 50.0,
    "online_share_": 0.01,
    "type_share_": 0.01,
    "served_share_": 0.01,
    "avg_rate_": 0.001,
    "rate_": 0.0025,
    "lending_growth": 0.05,
}
"""Half-width of the 95 % interval on a seed mean that ``--check`` states the seeds
needed for, by key prefix: 50 HHI points, a share point, a tenth of a rate point
for the market average, a quarter point for a type's rate, 0.05 of the growth ratio."""


def seeds_needed_table(summaries: list[dict[str, float]]) -> list[str]:
    """Per summary key: the seed sd and the seeds needed for its ``HALF_WIDTH``."""
    lines = [f"{'moment':45s} {'seed sd':>10s} {'half-width':>10s} {'seeds needed':>12s}"]
    for key in summaries[0]:
        width = next((w for prefix, w in HALF_WIDTH.items() if key.startswith(prefix)), None)
        if width is None:
            continue
        sd = float(np.std([s[key] for s in summaries], ddof=1)) if len(summaries) > 1 else np.nan
        needed = seeds_needed(sd, width)
        shown = "n/a" if not np.isfinite(needed) else f"{needed:.0f}"
        lines.append(f"{key:45s} {sd:10.4g} {width:10.4g} {shown:>12s}")
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(prog="python -m scenarios.calibrate", description=__doc__)
    ap.add_argument("--seeds", type=int, default=None, help="seeds per evaluation (default 4)")
    ap.add_argument(
        "--n-borrowers", type=int, default=None, help="simulated borrowers (default 30000)"
    )
    ap.add_argument("--budget", type=int, default=300, help="model evaluations for the fit")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="calibrated config to write (default: a new outputs/calibration/DATE/baseline.yaml);"
        " with --check, the file to re-evaluate (default: the committed one)",
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help=f"write the fit to the committed {DEFAULT_OUT.relative_to(CONF_DIR.parent)}"
        " (every scenario's baseline changes)",
    )
    ap.add_argument("--plot", default=str(DEFAULT_PLOT), help="PNG of the fit ('' for none)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPUs)")
    ap.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="where the seeds of an evaluation run: local processes (default), joblib, or ray"
        " (a Ray cluster at RAY_ADDRESS; needs the ray extra)",
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="re-evaluate the committed values in --out; compare the loss with the recorded one",
    )
    ap.add_argument(
        "--first-seed", type=int, default=1, help="seeds are first-seed, first-seed+1, ..."
    )
    ap.add_argument(
        "--note",
        default="",
        help="a line for the written file's header (e.g. how the starting values were set);"
        " with --budget 1 --write the committed values are only re-evaluated and re-recorded",
    )
    ap.add_argument(
        "--weights",
        choices=("tolerance", "variance"),
        default="tolerance",
        help="moment weights: 1 / tolerance^2 (default), or 1 / the moment's variance over"
        " the seeds, estimated at the start (the method of simulated moments)",
    )
    ap.add_argument(
        "--screen-radius",
        type=float,
        default=0.25,
        help="half-width of the Latin-hypercube screening box around the start, share of each"
        " range (default 0.25; smaller refines a good start locally)",
    )
    ap.add_argument(
        "--recover",
        action="store_true",
        help="identification check: fit to the model's own moments at a perturbed point and"
        " report how closely each parameter is recovered (--out: its directory)",
    )
    ap.add_argument(
        "--perturb", type=float, default=0.15, help="--recover: largest move, share of a range"
    )
    ap.add_argument("--recover-seed", type=int, default=7, help="--recover: the draw of the move")
    ap.add_argument(
        "--target-seeds",
        type=int,
        default=None,
        help="--recover: seeds the synthetic targets average over (default"
        " scenarios.recovery.TARGET_SEEDS, 24): the model's expected moments at the truth",
    )
    args = ap.parse_args(argv)
    if args.recover and (args.write or args.check):
        ap.error("--recover writes its own report; --write and --check do not apply")
    if not 0 < args.screen_radius <= 1:
        ap.error(f"--screen-radius {args.screen_radius}: must be in (0, 1], a share of each range")
    if args.target_seeds is not None and args.target_seeds < 1:
        ap.error(f"--target-seeds {args.target_seeds}: must be a whole number of at least 1")
    if not 0 <= args.perturb < 1:
        ap.error(
            f"--perturb {args.perturb}: allowed: at least 0 and below 1"
            " (a share of each range; 0 checks the committed point itself)"
        )
    if args.write and args.out is not None:
        ap.error("--write writes the committed calibration; give --out or --write, not both")
    if args.check and args.write:
        ap.error("--check only re-evaluates; it writes nothing, so --write does not apply")
    return args


def output_path(args: argparse.Namespace, now: dt.datetime | None = None) -> Path:
    """Where a fit writes: the committed file with ``--write``, ``--out``, or a new dated file."""
    if args.write:
        return DEFAULT_OUT
    if args.out is not None:
        return Path(args.out)
    stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    return OUTPUT_DIR / stamp / "baseline.yaml"


def file_values(path: Path) -> dict[str, float]:
    """The fitted parameters a calibration file sets (those of ``PARAMETERS`` it holds)."""
    import yaml

    nested = yaml.safe_load(Path(path).read_text()) or {}
    values = {}
    for p in PARAMETERS:
        node: Any = nested
        for part in p.key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            values[p.key] = float(node)
    return values


def check(args: argparse.Namespace) -> int:
    """Re-evaluate the committed calibration (or ``--out``'s file); 0 when it reproduces."""
    path = args.out or DEFAULT_OUT
    record = read_record(path)
    n_seeds = args.seeds or len(record["seeds"])
    n_borrowers = args.n_borrowers or record["n_borrowers"]
    seeds = (
        record["seeds"]
        if args.seeds is None
        else list(range(args.first_seed, args.first_seed + n_seeds))
    )
    targets = load_targets()
    cfg = with_values(compose(f"market.n_borrowers={n_borrowers}"), file_values(path))
    evaluator = Evaluator(seeds, args.jobs, args.launcher)
    try:
        summaries, yearly = evaluator.run(cfg)
    finally:
        evaluator.close()
    mean = mean_summary(summaries)
    scales = record.get("scales") if record.get("weights") == "variance" else None
    value = loss(mean, targets, scales)
    print(comparison_table(summaries, targets))
    print(f"\nseeds {seeds}, {n_borrowers} borrowers")
    same_scale = seeds == record["seeds"] and n_borrowers == record["n_borrowers"]
    print(
        f"loss {value:.4f}; recorded {record['loss']:.4f} at seeds {record['seeds']},"
        f" {record['n_borrowers']} borrowers"
    )
    failed = misses(mean, targets)
    for line in failed:
        print(f"outside tolerance: {line}")
    print("\nseed-to-seed spread and the seeds a 95 % interval of the half-width needs:")
    print("\n".join(seeds_needed_table(summaries)))
    if args.plot:
        print(f"plot: {plot_fit(yearly, targets, Path(args.plot))}")
    if same_scale:
        ok = abs(value - record["loss"]) <= CHECK_TOLERANCE * max(record["loss"], 1e-3)
        print("reproduced" if ok else "NOT reproduced", f"(tolerance {CHECK_TOLERANCE:.0%})")
        return 0 if ok else 1
    return 0


def fit_errors(mean: dict[str, float], targets: Targets) -> dict[str, float]:
    """Each target's error (simulated minus target) and each price-structure gap, rounded."""
    errors = {key: round(mean[key] - target, 6) for key, target, _ in target_rows(targets)}
    if "platform_rate_p75" in mean:
        gaps = price_gaps(mean, targets)
        errors.update({f"price_gap_{k}": round(v, 6) for k, v in gaps.items()})
    return errors


def calibrate(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Fit, write the calibrated config, print the table and save the plot."""
    out = output_path(args)
    n_seeds = args.seeds or 4
    n_borrowers = args.n_borrowers or 30000
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    targets = load_targets()
    base = compose(f"market.n_borrowers={n_borrowers}")
    start = {p.key: float(np.clip(get_value(base, p.key), p.low, p.high)) for p in PARAMETERS}
    evaluator = Evaluator(seeds, args.jobs, args.launcher)
    started = time.perf_counter()
    state = {"count": 0, "best": np.inf}
    scales = None
    if args.weights == "variance":  # estimated at the start, on the fit's own seeds
        scales = seed_scales(evaluator.run(with_values(base, start))[0], targets)

    def objective(values: dict[str, float]) -> float:
        summaries, _ = evaluator.run(with_values(base, values))
        value = loss(mean_summary(summaries), targets, scales)
        state["count"] += 1
        state["best"] = min(state["best"], value)
        report_progress(state["count"], args.budget, value, state["best"], started)
        return value

    try:
        values, best = fit(objective, start, args.budget, screen_radius=args.screen_radius)
        summaries, yearly = evaluator.run(with_values(base, values))
    finally:
        evaluator.close()
    table = comparison_table(summaries, targets)
    mean = mean_summary(summaries)
    record = {
        "command": shlex.join(["python", "-m", "scenarios.calibrate", *argv]),
        "errors": fit_errors(mean, targets),
        "loss": round(best, 6),
        "seeds": seeds,
        "n_borrowers": n_borrowers,
        "evaluations": state["count"],
        "date": dt.date.today().isoformat(),
        "tolerance": CHECK_TOLERANCE,
        "weights": args.weights,
    }
    if scales:
        record["scales"] = scales
    if args.note:
        record["note"] = args.note
    write_calibration(out, values, record, table)
    print(table)
    print(f"\nloss {best:.4f} after {state['count']} evaluations; wrote {out}")
    if not args.write:
        print(f"the committed {DEFAULT_OUT} is unchanged (--write replaces it)")
    for p in PARAMETERS:
        fixed = "  (fixed)" if p.key in NOT_IDENTIFIED else ""
        print(f"  {p.key:48s} {values[p.key]:.5g}   [{p.low:g}, {p.high:g}]{fixed}")
    if args.plot:
        print(f"plot: {plot_fit(yearly, targets, Path(args.plot))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m scenarios.calibrate``."""
    import logging

    logging.getLogger("MESA").setLevel(logging.WARNING)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.recover:
        from scenarios.recovery import recover

        return recover(args)
    return check(args) if args.check else calibrate(args, argv)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["PARAMETERS", "TOLERANCE", "Parameter", "fit", "loss", "main"]
