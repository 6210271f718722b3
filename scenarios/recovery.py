"""Can the calibration find parameters it knows? Fit to a run at a known, perturbed point.

    python -m scenarios.calibrate --recover --budget 120 --seeds 6 --n-borrowers 100000

The committed values are moved by up to ``perturb`` of each parameter's range
(a fixed draw), the model is run there, and its seed-mean moments become the
targets (its type rates a band of ``PRICE_TOLERANCE`` each side). The fit then
starts from the committed values, as a real fit does, on other seeds than the
ones that made the targets, and each parameter's recovered value is compared
with the truth: the error as a share of its range. A parameter is *identified*
when moving it by ``PROBE`` of its range from the truth raises the loss by at
least ``IDENTIFIED_RISE`` on one side; one that is not is reported as such (the
moments cannot pin it, so it should be fixed or given a prior, not left free).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.calibration_io import OUTPUT_DIR, Evaluator, with_values
from scenarios.fitting import PARAMETERS, fit, from_unit, loss, report_progress, to_unit
from scenarios.parameters import get_value
from scenarios.targets import PRICE_TOLERANCE, TYPE_GROUPS, Targets, load_targets, mean_summary
from sim.output.atomic import atomic_write_text, write_csv
from sim.validation import compose

PROBE = 0.10
"""How far (share of its range) a parameter is moved from the truth to see if the loss notices."""
IDENTIFIED_RISE = 0.02
"""Loss rise that counts as noticing: a fiftieth of a tolerance-squared on average (a choice)."""
RECOVERED_WITHIN = 0.10
"""An identified parameter counts as recovered within a tenth of its range (a choice)."""
TARGET_SEED_OFFSET = 1000
"""The targets are made on seeds 1001, 1002 ...: the fit does not see their noise."""


def synthetic_targets(summary: dict[str, float], like: Targets) -> Targets:
    """The targets a run at known parameters sets: its own seed-mean moments."""
    return Targets(
        online_share={y: summary[f"online_share_{y}"] for y in like.online_share},
        avg_rate={y: summary[f"avg_rate_{y}"] for y in like.avg_rate},
        lending_growth=summary["lending_growth"],
        growth_years=like.growth_years,
        type_share={g: summary[f"type_share_{g}"] for g in TYPE_GROUPS},
        served_share={y: summary[f"served_share_{y}"] for y in like.served_share},
        hhi_rising=like.hhi_rising,
        price_band={
            t: (summary[f"rate_{t}"] - PRICE_TOLERANCE, summary[f"rate_{t}"] + PRICE_TOLERANCE)
            for t in like.price_band
        },
        source={"all": "the model at the perturbed parameters (identification check)"},
    )


def perturbed(start_u: np.ndarray, perturb: float, seed: int) -> np.ndarray:
    """The truth in unit coordinates: each parameter moved by up to ``perturb``, inside the box."""
    rng = np.random.default_rng(seed)
    return np.clip(start_u + rng.uniform(-perturb, perturb, start_u.size), 0.02, 0.98)


def identified(loss_at_truth: float, loss_moved: np.ndarray) -> np.ndarray:
    """Per parameter (columns: down, up): does either move raise the loss by ``IDENTIFIED_RISE``?"""
    return (np.nanmax(loss_moved, axis=1) - loss_at_truth) >= IDENTIFIED_RISE


def recovery_table(
    names: list[str],
    start_u: np.ndarray,
    truth_u: np.ndarray,
    found_u: np.ndarray,
    pinned: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
) -> pd.DataFrame:
    """One row per parameter: start, truth, recovered, error as a share of the range, verdict."""
    error = np.abs(found_u - truth_u)
    scale = highs - lows
    return pd.DataFrame(
        {
            "parameter": names,
            "start": lows + start_u * scale,
            "truth": lows + truth_u * scale,
            "recovered": lows + found_u * scale,
            "error_share_of_range": error,
            "moved_share_of_range": np.abs(truth_u - start_u),
            "identified": pinned,
            "recovered_within_tolerance": pinned & (error <= RECOVERED_WITHIN),
        }
    )


def recover(args: argparse.Namespace) -> int:
    """Run the identification check and write ``recovery.csv`` and ``recovery.md``."""
    n_seeds = args.seeds or 4
    n_borrowers = args.n_borrowers or 30000
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    base = compose(f"market.n_borrowers={n_borrowers}")
    start = {p.key: float(np.clip(get_value(base, p.key), p.low, p.high)) for p in PARAMETERS}
    start_u = to_unit(start)
    truth_u = perturbed(start_u, args.perturb, args.recover_seed)
    truth = from_unit(truth_u)
    target_seeds = [s + TARGET_SEED_OFFSET for s in seeds]
    made = Evaluator(target_seeds, args.jobs, args.launcher)
    try:
        summaries = made.run(with_values(base, truth))[0]
    finally:
        made.close()
    targets = synthetic_targets(mean_summary(summaries), load_targets())
    evaluator = Evaluator(seeds, args.jobs, args.launcher)
    total = args.budget + 2 * len(truth_u) + 1
    count = {"n": 0, "best": np.inf}

    def objective(values: dict[str, float]) -> float:
        value = loss(mean_summary(evaluator.run(with_values(base, values))[0]), targets)
        count["n"] += 1
        count["best"] = min(count["best"], value)
        report_progress(count["n"], total, value, count["best"], started)
        return value

    started = time.perf_counter()
    try:
        found, best = fit(objective, start, args.budget, screen_radius=args.screen_radius)
        at_truth = objective(truth)
        moved = np.full((len(truth_u), 2), np.nan)
        for i in range(len(truth_u)):
            for j, sign in enumerate((-1.0, 1.0)):
                u = truth_u.copy()
                u[i] = np.clip(u[i] + sign * PROBE, 0.0, 1.0)
                if u[i] != truth_u[i]:
                    moved[i, j] = objective(from_unit(u))
    finally:
        evaluator.close()
    lows = np.array([p.low for p in PARAMETERS])
    highs = np.array([p.high for p in PARAMETERS])
    pinned = identified(at_truth, moved)
    names = [p.key for p in PARAMETERS]
    table = recovery_table(names, start_u, truth_u, to_unit(found), pinned, lows, highs)
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(args.out) if args.out else OUTPUT_DIR / stamp
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"{n_seeds} seeds, {n_borrowers:,} borrowers, budget {args.budget}, perturbation "
        f"{args.perturb:g} of each range (draw {args.recover_seed}); fit loss {best:.4f}, "
        f"loss at the truth {at_truth:.4f}"
    )
    write_csv(table, out / "recovery.csv")
    atomic_write_text(out / "recovery.md", recovery_markdown(table, header))
    print(recovery_markdown(table, header))
    print(f"written to {out}")
    return 0


def table_lines(table: pd.DataFrame) -> list[str]:
    """The recovery table as Markdown, with the verdict per parameter."""
    lines = [
        "| parameter | start | truth | recovered | error (share of range) | identified |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for _, r in table.iterrows():
        verdict = (
            "no (the moments do not pin it)"
            if not r["identified"]
            else ("yes, recovered" if r["recovered_within_tolerance"] else "yes, not recovered")
        )
        lines.append(
            f"| `{r['parameter']}` | {r['start']:.4g} | {r['truth']:.4g} | {r['recovered']:.4g} |"
            f" {r['error_share_of_range']:.3f} | {verdict} |"
        )
    return lines


def recovery_markdown(table: pd.DataFrame, header: str) -> str:
    """The recovery report: its header line, then the table."""
    return "\n".join([f"Parameter recovery: {header}.", "", *table_lines(table)]) + "\n"
