"""Scenario discovery on a design's runs: which combinations of inputs lead to an outcome.

Pure analysis (EMA Workbench), nothing read or written:

* :func:`prim_boxes`: PRIM (``ema_workbench.analysis.prim.Prim``) on the runs'
  inputs and a boolean outcome; every box of the peeling trajectory with its
  coverage, density, mass and the limits and quasi-p values of each
  restricted input;
* :func:`best_box`: the box reported: the densest with at least
  ``min_coverage`` of the cases of interest;
* :func:`feature_scores`: extra-trees feature scores
  (``ema_workbench.analysis.feature_scoring``) of each input, for the outcome
  and for the metric's value;
* :func:`box_text` and :func:`discovery_markdown`: the result in words.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from scenarios.sweep.registry import format_parameter, parameter
from scenarios.sweep.stats import wilson_interval
from scenarios.sweep.threshold import Threshold

log = logging.getLogger(__name__)

PEEL_ALPHA = 0.05
MASS_MIN = 0.05
MIN_COVERAGE = 0.5
"""The box reported is the densest covering at least this share of the cases of interest."""

FEW_RUNS = 10
"""A box with fewer runs than this is said to be thin."""


def ema_analysis():
    """EMA Workbench's analysis modules, imported quietly (it warns about optional extras)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.WARNING)
        from ema_workbench.analysis import feature_scoring, prim
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    return prim, feature_scoring, RuleInductionType


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the library's warnings about pandas deprecations while it runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        kind = getattr(pd.errors, "Pandas4Warning", None)
        if isinstance(kind, type) and issubclass(kind, Warning):
            warnings.simplefilter("ignore", kind)
        yield


def prim_boxes(
    x: pd.DataFrame,
    hit: np.ndarray,
    peel_alpha: float = PEEL_ALPHA,
    mass_min: float = MASS_MIN,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The PRIM peeling trajectory and each box's limits.

    Args:
        x: One row per run, one float column per input.
        hit: Whether each run shows the outcome of interest.
        peel_alpha: Share of the box peeled at each step.
        mass_min: Smallest share of all runs a box may hold.

    Returns:
        ``trajectory`` (one row per box: ``box, coverage, density, mass, n, k,
        res_dim``) and ``limits`` (one row per box and restricted input:
        ``box, parameter, min, max, qp_low, qp_high``; quasi-p of a side not
        restricted is nan).

    Raises:
        ValueError: No run, or every run or none shows the outcome (no box to find).
    """
    hit = np.asarray(hit, dtype=bool)
    if hit.size == 0 or hit.all() or not hit.any():
        raise ValueError(
            f"PRIM needs runs with and without the outcome; {int(hit.sum())} of {hit.size} have it"
        )
    prim, _, _ = ema_analysis()
    x = x.astype(float).reset_index(drop=True)
    with quiet():
        algorithm = prim.Prim(x, hit.astype(int), peel_alpha=peel_alpha, mass_min=mass_min)
        box = algorithm.find_box()
    trajectory = box.peeling_trajectory.rename(columns={"id": "box"})
    trajectory = trajectory[["box", "coverage", "density", "mass", "n", "k", "res_dim"]].copy()
    trajectory[["box", "n", "k", "res_dim"]] = trajectory[["box", "n", "k", "res_dim"]].astype(int)
    initial = algorithm.box_init
    rows = []
    for i, (lims, qp) in enumerate(zip(box.box_lims, box.p_values, strict=True)):
        for name in x.columns:
            low, high = float(lims[name].iloc[0]), float(lims[name].iloc[1])
            low_restricted = low > float(initial[name].iloc[0])
            high_restricted = high < float(initial[name].iloc[1])
            if not (low_restricted or high_restricted):
                continue
            q = qp.get(name, [np.nan, np.nan])
            rows.append(
                {
                    "box": i,
                    "parameter": name,
                    "min": low,
                    "max": high,
                    "min_restricted": low_restricted,
                    "max_restricted": high_restricted,
                    "qp_low": np.nan if q[0] is None or q[0] < 0 else float(q[0]),
                    "qp_high": np.nan if q[1] is None or q[1] < 0 else float(q[1]),
                }
            )
    columns = ["box", "parameter", "min", "max", "min_restricted", "max_restricted", "qp_low",
               "qp_high"]
    return trajectory.reset_index(drop=True), pd.DataFrame(rows, columns=columns)


def best_box(trajectory: pd.DataFrame, min_coverage: float = MIN_COVERAGE) -> int:
    """The densest box covering at least ``min_coverage`` (ties: more coverage, fewer limits).

    Box 0 (everything) always qualifies, so there is always an answer.
    """
    ok = trajectory[trajectory["coverage"] >= min_coverage - 1e-12]
    ranked = ok.sort_values(
        ["density", "coverage", "res_dim"], ascending=[False, False, True], kind="stable"
    )
    return int(ranked["box"].iloc[0])


def box_table(trajectory: pd.DataFrame, limits: pd.DataFrame, chosen: int) -> pd.DataFrame:
    """``prim_boxes.csv``: each box's statistics beside each of its limits; ``chosen`` flagged."""
    table = trajectory.merge(limits, on="box", how="left")
    table.insert(1, "chosen", table["box"] == chosen)
    return table


def limit_text(row: pd.Series) -> str:
    """One restriction in words: ``Rate cap (APR) <= 15%``, ``between 1 and 3``."""
    key = str(row["parameter"])
    label = parameter(key).label
    low, high = format_parameter(key, row["min"]), format_parameter(key, row["max"])
    if row["min_restricted"] and row["max_restricted"]:
        return f"{label} between {low} and {high}"
    if row["max_restricted"]:
        return f"{label} <= {high}"
    return f"{label} >= {low}"


def box_text(limits: pd.DataFrame, box: int) -> str:
    """A box's restrictions joined with "and" (``no restriction`` for the whole space)."""
    rows = limits[limits["box"] == box]
    if rows.empty:
        return "no restriction"
    return " and ".join(limit_text(row) for _, row in rows.iterrows())


def feature_scores(
    x: pd.DataFrame, hit: np.ndarray, value: np.ndarray, seed: int = 0, metric: str = "value"
) -> pd.DataFrame:
    """Extra-trees feature scores of each input, for the outcome and for the metric itself.

    Returns:
        ``parameter``, ``outcome`` (classification on ``hit``; nan when every
        run or none has it) and ``metric`` (regression on ``value``; nan if
        it does not vary), sorted by the outcome score, then the metric's.
    """
    _, scoring, kinds = ema_analysis()
    x = x.astype(float).reset_index(drop=True)
    hit = np.asarray(hit, dtype=bool)
    value = np.asarray(value, dtype=float)
    scores = pd.DataFrame({"parameter": list(x.columns)}).set_index("parameter")
    scores["outcome"] = np.nan
    scores[metric] = np.nan
    if hit.any() and not hit.all():
        table = scoring.get_feature_scores_all(
            x, {"outcome": hit.astype(int)}, mode=kinds.CLASSIFICATION, random_state=seed
        )
        scores["outcome"] = table["outcome"].reindex(scores.index)
    finite = np.isfinite(value)
    if finite.sum() > 1 and np.nanstd(value) > 0:
        table = scoring.get_feature_scores_all(
            x[finite].reset_index(drop=True), {metric: value[finite]},
            mode=kinds.REGRESSION, random_state=seed,
        )
        scores[metric] = table[metric].reindex(scores.index)
    scores = scores.reset_index()
    by = ["outcome", metric]
    return scores.sort_values(by, ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def _inputs_text(inputs: Sequence[str], roles: Mapping[str, str]) -> str:
    """``levers: A, B; uncertainties: C`` (or ``inputs: A, B, C`` without roles)."""
    groups: dict[str, list[str]] = {}
    for key in inputs:
        groups.setdefault(roles.get(key, "input"), []).append(parameter(key).label)
    plural = {"lever": "levers", "uncertainty": "uncertainties", "input": "inputs"}
    return "; ".join(f"{plural.get(role, role)}: {', '.join(labels)}"
                     for role, labels in groups.items())


def _share(k: int, n: int) -> str:
    w = wilson_interval(k, n)
    return f"{w.p:.0%} of {n} runs (95 % Wilson interval {w.low:.0%}-{w.high:.0%})"


def discovery_markdown(
    target: Threshold,
    year: int,
    any_year: bool,
    outcomes: pd.DataFrame,
    trajectory: pd.DataFrame | None,
    limits: pd.DataFrame | None,
    chosen: int | None,
    scores: pd.DataFrame,
    inputs: Sequence[str],
    seeds: Sequence[int],
    note: str = "",
    roles: Mapping[str, str] | None = None,
) -> str:
    """``discovery.md``: the outcome's share, the best box in words, the feature ranking.

    ``roles`` names each input a ``lever`` or an ``uncertainty`` (all are
    called inputs when it is empty).
    """
    when = f"in any year up to {year}" if any_year else f"in {year}"
    k, n = int(outcomes["hit"].sum()), len(outcomes)
    lines = [
        "# Scenario discovery",
        "",
        f"Target: **{target.describe()} {when}** (`{target.text}`). "
        f"{n} runs ({len(outcomes[list(inputs)].drop_duplicates())} input combinations x "
        f"{len(seeds)} seeds); " + _inputs_text(inputs, roles or {}) + ".",
        "",
        f"{target.describe()} {when} in {_share(k, n)}.",
    ]
    if trajectory is not None and limits is not None and chosen is not None:
        row = trajectory.set_index("box").loc[chosen]
        lines += [
            "",
            f"The best box (PRIM, box {chosen} of {len(trajectory) - 1} on the peeling "
            f"trajectory, the densest covering at least {MIN_COVERAGE:.0%} of the cases), "
            f"**{box_text(limits, chosen)}**, raises that to {row['density']:.0%} "
            f"({int(row['k'])} of {int(row['n'])} runs in the box) at {row['coverage']:.0%} "
            f"coverage (share of all such runs inside it), holding {row['mass']:.0%} of the runs."
            + (f" Only {int(row['n'])} runs are in the box: more design rows or seeds would firm "
               "it up." if int(row["n"]) < FEW_RUNS else ""),
            "",
            "| limit | quasi-p (low side) | quasi-p (high side) |",
            "| --- | ---: | ---: |",
        ]
        for _, lim in limits[limits["box"] == chosen].iterrows():
            qp = [("n/a" if not np.isfinite(v) else f"{v:.3g}") for v in (lim["qp_low"],
                                                                        lim["qp_high"])]
            lines.append(f"| {limit_text(lim)} | {qp[0]} | {qp[1]} |")
        lines += [
            "",
            "Quasi-p: one-sided binomial test that dropping the limit would not lower the "
            "density (Bryant and Lempert 2010); small values mean the limit matters. Every box "
            "is in `prim_boxes.csv`, the coverage-density trade-off in `prim_tradeoff.png`.",
        ]
    if note:
        lines += ["", note]
    lines += ["", "**Feature scores** (extra trees; higher: the input explains more):", ""]
    lines += ["| input | outcome | metric |", "| --- | ---: | ---: |"]
    for row in scores.itertuples(index=False):
        cells = [("n/a" if not np.isfinite(v) else f"{v:.2f}") for v in (row[1], row[2])]
        lines.append(f"| {parameter(row[0]).label} | {cells[0]} | {cells[1]} |")
    lines.append("")
    return "\n".join(lines)
