"""Can the calibration find parameters it knows? Fit to a run at a known, perturbed point.

    python -m scenarios.calibrate --recover --budget 120 --seeds 6 --n-borrowers 100000

The committed values are moved by up to ``perturb`` of each parameter's range
(a fixed draw), the model is run there, and its seed-mean moments become the
targets (its type rates a band of ``PRICE_TOLERANCE`` each side), averaged over
``TARGET_SEEDS`` seeds (``--target-seeds``). The fit then starts from the
committed values, as a real fit does, on other seeds than the ones that made the
targets, and each parameter's recovered value is compared
with the truth: the error as a share of its range, against a tenth of the range
(``RECOVERED_WITHIN``) and against its noise bound, how far the seed noise the
fit chased can carry it (:func:`noise_bound`).

Identification has two tests, both around the truth. *Alone*: moving the
parameter by ``PROBE`` of its range raises the loss by at least
``IDENTIFIED_RISE`` on one side (measured). *Jointly*: it still does when every
other parameter moves to make up for it, the profile rise of the loss's local
quadratic (``scenarios.identification``, from the same runs). A parameter is
identified when both hold; one the moments cannot pin jointly is reported as
such and kept fixed at its committed value (``fitting.NOT_IDENTIFIED``), not
left free. The fixed parameters are not moved for the truth either.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.calibration_io import OUTPUT_DIR, Evaluator, with_values
from scenarios.fitting import (
    FREE,
    PARAMETERS,
    fit,
    from_unit,
    loss,
    named_residuals,
    report_progress,
    residuals,
    to_unit,
)
from scenarios.identification import identifiable, jacobian, joint_rise, stand_ins
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


def noise_bound(noise_gain: float, joint: np.ndarray) -> np.ndarray:
    """How far (share of its range) the seed noise can carry each parameter from the truth.

    A fit that ends ``noise_gain`` below the loss at the truth got there by fitting
    the seed noise of its moments. On the loss's local quadratic, moving parameter
    ``i`` by ``e`` with the others making up for it raises the loss by at least
    ``e^2 / (H^-1)_ii``, and the whole move gains at most ``noise_gain``, so
    ``|e| <= sqrt(noise_gain x (H^-1)_ii) = PROBE x sqrt(noise_gain / joint_i)``
    (``joint_i`` the joint rise at a move of ``PROBE``). It shrinks as one over the
    square root of the seeds, as the noise gain does. Infinite where the moments do
    not pin the parameter jointly.
    """
    joint = np.asarray(joint, dtype=float)
    gain = max(noise_gain, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(joint > 0, PROBE * np.sqrt(gain / joint), np.inf)
TARGET_SEED_OFFSET = 1000
"""The targets are made on seeds 1001, 1002 ...: the fit does not see their noise."""
TARGET_SEEDS = 24
"""Seeds the synthetic targets average over by default: the report's targets are fixed
numbers, not a draw of the model's seed noise, so the targets stand for the model's
expected moments at the truth (24 seeds leave a fifth of one seed's sd, against 0.41
at 6), and the recovery measures what the moments pin and the fit's own noise allows."""


def moments_loss(summary: dict[str, float], targets: Targets) -> float:
    """The loss of the moments alone: the identification check fits and judges on it.

    The acceptance penalty is left out: it holds the fit to the report's acceptance
    criteria, which synthetic targets do not have (their price bands, a quarter of
    a point either side of the truth, are narrower than the seed noise of the
    platforms' rate between two sets of seeds).
    """
    return loss(summary, targets, acceptance=False)


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
    return measured_rise(loss_at_truth, loss_moved) >= IDENTIFIED_RISE


def measured_rise(loss_at_truth: float, loss_moved: np.ndarray) -> np.ndarray:
    """Per parameter (columns: down, up): the larger loss rise of its two moves."""
    return np.nanmax(loss_moved, axis=1) - loss_at_truth


@dataclass(frozen=True)
class Probes:
    """The seed-mean summaries at the truth and at each parameter moved down and up.

    ``u_moved[i, j]`` is parameter ``i``'s coordinate at move ``j`` (down, up),
    NaN where the box leaves no room; ``moved[i][j]`` that run's summary (None then).
    """

    names: list[str]
    u0: np.ndarray
    at_truth: dict[str, float]
    u_moved: np.ndarray
    moved: list[list[dict[str, float] | None]]


def probe(
    evaluate: Callable[[dict[str, float]], dict[str, float]], truth_u: np.ndarray, delta: float
) -> Probes:
    """Run the model at the truth and with each parameter moved ``delta`` down and up."""
    at_truth = evaluate(from_unit(truth_u))
    u_moved = np.full((truth_u.size, 2), np.nan)
    moved: list[list[dict[str, float] | None]] = []
    for i in range(truth_u.size):
        row: list[dict[str, float] | None] = [None, None]
        for j, sign in enumerate((-1.0, 1.0)):
            u = truth_u.copy()
            u[i] = np.clip(u[i] + sign * delta, 0.0, 1.0)
            if u[i] != truth_u[i]:
                u_moved[i, j] = u[i]
                row[j] = evaluate(from_unit(u))
        moved.append(row)
    return Probes([p.key for p in PARAMETERS], truth_u, at_truth, u_moved, moved)


def probe_jacobian(probes: Probes, targets: Targets) -> pd.DataFrame:
    """The Jacobian of the loss's residuals (signed bands) over the probes: moments x parameters."""
    names = list(named_residuals(probes.at_truth, targets, signed_bands=True))

    def resid(summary: dict[str, float]) -> np.ndarray:
        return residuals(summary, targets, signed_bands=True)

    r0 = resid(probes.at_truth)
    r_moved = np.full((*probes.u_moved.shape, r0.size), np.nan)
    for i, row in enumerate(probes.moved):
        for j, summary in enumerate(row):
            if summary is not None:
                r_moved[i, j] = resid(summary)
    jac = jacobian(probes.u0, r0, probes.u_moved, r_moved)
    return pd.DataFrame(jac, index=pd.Index(names, name="moment"), columns=probes.names)


def identification(
    probes: Probes, targets: Targets, fitted: np.ndarray, jacobian_frame: pd.DataFrame
) -> pd.DataFrame:
    """Per parameter: the measured loss rise alone, the linearised rise jointly, the verdicts.

    ``jacobian_frame`` is :func:`probe_jacobian` of the same probes. The joint rise
    lets the ``fitted`` parameters make up for the move (for a fixed one: if it
    were freed alone), and ``stand_in`` names the one that makes up for it best
    (with their local correlation). ``in_identified_set`` is the set the
    moments pin together when every parameter starts free
    (``identification.identifiable``): those outside it are the ones to fix.
    """
    losses = np.array(
        [[np.nan if s is None else moments_loss(s, targets) for s in row] for row in probes.moved]
    )
    jac = jacobian_frame.to_numpy()
    at_truth = moments_loss(probes.at_truth, targets)
    alone = measured_rise(at_truth, losses)
    jointly = joint_rise(jac, PROBE, fitted)
    partner, correlation = stand_ins(jac, fitted)
    seen = identified(at_truth, losses)
    return pd.DataFrame(
        {
            "loss_rise_alone": alone,
            "loss_rise_jointly": jointly,
            "stand_in": [probes.names[j] if j >= 0 else "" for j in partner],
            "stand_in_correlation": correlation,
            "identified_alone": seen,
            "identified": seen & (jointly >= IDENTIFIED_RISE),
            "in_identified_set": identifiable(jac, PROBE, IDENTIFIED_RISE, seen),
        }
    )


def recovery_table(
    names: list[str],
    start_u: np.ndarray,
    truth_u: np.ndarray,
    found_u: np.ndarray,
    pinned: pd.DataFrame,
    lows: np.ndarray,
    highs: np.ndarray,
    fitted: np.ndarray,
    noise_gain: float = 0.0,
) -> pd.DataFrame:
    """One row per parameter: start, truth, recovered, error as a share of the range, verdicts.

    ``pinned`` is :func:`identification`'s table; ``fitted`` says which
    parameters the fit moved (the others are fixed at their start);
    ``noise_gain`` how far the fit's loss ended below the loss at the truth
    (:func:`noise_bound`).
    """
    error = np.abs(found_u - truth_u)
    scale = highs - lows
    table = pd.DataFrame(
        {
            "parameter": names,
            "fitted": fitted,
            "start": lows + start_u * scale,
            "truth": lows + truth_u * scale,
            "recovered": lows + found_u * scale,
            "error_share_of_range": error,
            "moved_share_of_range": np.abs(truth_u - start_u),
        }
    )
    table = pd.concat([table, pinned.reset_index(drop=True)], axis=1)
    pinned_jointly = fitted & table["identified"].to_numpy()
    bound = noise_bound(noise_gain, table["loss_rise_jointly"].to_numpy())
    table["noise_bound_share_of_range"] = bound
    table["recovered_within_tolerance"] = pinned_jointly & (error <= RECOVERED_WITHIN)
    table["within_noise_bound"] = pinned_jointly & (error <= bound)
    return table


def recover(args: argparse.Namespace) -> int:
    """Run the identification check and write ``recovery.csv`` and ``recovery.md``."""
    n_seeds = args.seeds or 4
    n_borrowers = args.n_borrowers or 30000
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    base = compose(f"market.n_borrowers={n_borrowers}")
    start = {p.key: float(np.clip(get_value(base, p.key), p.low, p.high)) for p in PARAMETERS}
    start_u = to_unit(start)
    fitted = np.array([p in FREE for p in PARAMETERS])
    truth_u = start_u.copy()  # the fixed parameters are where the fit keeps them
    truth_u[fitted] = perturbed(start_u[fitted], args.perturb, args.recover_seed)
    truth = from_unit(truth_u)
    n_target = args.target_seeds or TARGET_SEEDS
    target_seeds = [args.first_seed + TARGET_SEED_OFFSET + k for k in range(n_target)]
    made = Evaluator(target_seeds, args.jobs, args.launcher)
    try:
        summaries = made.run(with_values(base, truth))[0]
    finally:
        made.close()
    targets = synthetic_targets(mean_summary(summaries), load_targets())
    evaluator = Evaluator(seeds, args.jobs, args.launcher)
    total = args.budget + 2 * len(truth_u) + 1
    count = {"n": 0, "best": np.inf}

    def evaluate(values: dict[str, float]) -> dict[str, float]:
        summary = mean_summary(evaluator.run(with_values(base, values))[0])
        value = moments_loss(summary, targets)
        count["n"] += 1
        count["best"] = min(count["best"], value)
        report_progress(count["n"], total, value, count["best"], started)
        return summary

    started = time.perf_counter()
    try:
        found, best = fit(
            lambda v: moments_loss(evaluate(v), targets),
            start,
            args.budget,
            screen_radius=args.screen_radius,
        )
        probes = probe(evaluate, truth_u, PROBE)
    finally:
        evaluator.close()
    lows = np.array([p.low for p in PARAMETERS])
    highs = np.array([p.high for p in PARAMETERS])
    jacobian_frame = probe_jacobian(probes, targets)
    pinned = identification(probes, targets, fitted, jacobian_frame)
    names = [p.key for p in PARAMETERS]
    at_truth = moments_loss(probes.at_truth, targets)
    table = recovery_table(
        names, start_u, truth_u, to_unit(found), pinned, lows, highs, fitted, at_truth - best
    )
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(args.out) if args.out else OUTPUT_DIR / stamp
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"{n_seeds} seeds ({n_target} for the targets), {n_borrowers:,} borrowers, budget"
        f" {args.budget}, perturbation "
        f"{args.perturb:g} of each fitted range (draw {args.recover_seed}); fit loss {best:.4f}, "
        f"loss at the truth {at_truth:.4f}; probes {PROBE:g} of a range,"
        f" identified at a rise of {IDENTIFIED_RISE:g}"
    )
    write_csv(table, out / "recovery.csv")
    write_csv(jacobian_frame.reset_index(), out / "jacobian.csv")
    atomic_write_text(out / "recovery.md", recovery_markdown(table, header))
    print(recovery_markdown(table, header))
    print(f"written to {out}")
    return 0


def verdict(row: pd.Series) -> str:
    """A parameter's identification verdict in words."""
    if not row["identified"]:
        if row["identified_alone"]:
            return "alone only (the others make up for it)"
        return "no (the moments do not pin it)"
    if not row["fitted"]:
        return "yes (fixed in this fit)"
    if row["moved_share_of_range"] == 0:
        return "yes"  # the truth is the start: nothing to recover
    if row["recovered_within_tolerance"]:
        return "yes, recovered"
    if row.get("within_noise_bound", False):
        return "yes, within its noise bound, not a tenth"
    return "yes, not recovered"


def stand_in(row: pd.Series) -> str:
    """The parameter that best makes up for this one, with its correlation, if any."""
    if not isinstance(row["stand_in"], str) or not abs(row["stand_in_correlation"]) >= 0.005:
        return ""  # none, or a parameter the moments do not see at all
    name = row["stand_in"].removeprefix("behaviour.").removeprefix("lenders.")
    return f"`{name}` ({row['stand_in_correlation']:+.2f})"


def table_lines(table: pd.DataFrame) -> list[str]:
    """The recovery table as Markdown, with the verdict per parameter."""
    lines = [
        "| parameter | fitted | start | truth | recovered | error (share of range)"
        " | noise bound | loss rise alone | loss rise jointly | best stand-in (correlation)"
        " | identified | in the identified set |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for _, r in table.iterrows():
        bound = r.get("noise_bound_share_of_range", np.nan)
        moved = r["fitted"] and r["moved_share_of_range"] > 0  # a recovery to judge
        shown = f"{bound:.3f}" if moved and np.isfinite(bound) else ""
        lines.append(
            f"| `{r['parameter']}` | {'yes' if r['fitted'] else 'no, fixed'} | {r['start']:.4g}"
            f" | {r['truth']:.4g} | {r['recovered']:.4g} | {r['error_share_of_range']:.3f}"
            f" | {shown}"
            f" | {r['loss_rise_alone']:.3f} | {r['loss_rise_jointly']:.3f} | {stand_in(r)}"
            f" | {verdict(r)}"
            f" | {'yes' if r['in_identified_set'] else 'no'} |"
        )
    return lines


def recovery_markdown(table: pd.DataFrame, header: str) -> str:
    """The recovery report: its header line, then the table."""
    return "\n".join([f"Parameter recovery: {header}.", "", *table_lines(table)]) + "\n"
