"""Paired checks that the model's mechanisms move the market the way they should.

Each check runs a policy point and its reference on the same seeds (common
random numbers) and reports the mean paired difference of one metric with its
95 % t-interval, and whether the expected direction holds (the interval on the
expected side of 0). The scale check compares population sizes with the default
(unpaired, within two standard errors of the difference): the 2030 levels, and the
paired effect of one check per lever group (``SCALE_EFFECTS``).

    python -m scenarios.mechanism_checks                  # 5 seeds, default scale
    python -m scenarios.mechanism_checks --only rate_cap  # one group
    python -m scenarios.mechanism_checks --seeds 10 --jobs 2
    python -m scenarios.mechanism_checks --only scale --scales 20000,400000
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np
import pandas as pd

from scenarios.sweep.stats import PairedDifference, seeds_to_exclude_zero, t_interval
from sim.diagnostics import PRICES_HOLD_FROM
from sim.regulator import EXIT_CAUSES

Tables = dict[str, pd.DataFrame]
Metric = Callable[[Tables], float]


def yearly(column: str, year: int) -> Metric:
    """A ``market_yearly`` column in one year."""
    return lambda t: float(t["market_yearly"].set_index("year").loc[year, column])


def change(column: str, first: int, last: int) -> Metric:
    """A ``market_yearly`` column's change from one year to a later one."""
    return lambda t: yearly(column, last)(t) - yearly(column, first)(t)


def summed(column: str, years: Sequence[int]) -> Metric:
    """A ``market_yearly`` column summed over some years."""
    return lambda t: float(t["market_yearly"].set_index("year").loc[list(years), column].sum())


def of_type(column: str, lender_type: str, year: int) -> Metric:
    """A ``types_yearly`` column of one lender type in one year."""

    def value(t: Tables) -> float:
        types = t["types_yearly"]
        row = types[(types["year"] == year) & (types["lender_type"] == lender_type)]
        return float(row[column].iloc[0])

    return value


EXIT_COLUMNS = tuple(f"n_{cause}" for cause in EXIT_CAUSES)


def type_exits(lender_type: str, years: Sequence[int]) -> Metric:
    """Lenders of one type that left (any cause) in some years."""

    def value(t: Tables) -> float:
        types = t["types_yearly"]
        rows = types[types["year"].isin(list(years)) & (types["lender_type"] == lender_type)]
        return float(rows[list(EXIT_COLUMNS)].to_numpy().sum())

    return value


def exits(years: Sequence[int]) -> Metric:
    """Lenders that left for any cause (failed, sold, wound down) in some years."""
    return lambda t: sum(summed(column, years)(t) for column in EXIT_COLUMNS)


def failures(years: Sequence[int]) -> Metric:
    """Lenders that failed (wound down or bought as failing) in some years."""
    return lambda t: summed("n_failed", years)(t) + summed("n_acquired_failing", years)(t)


@dataclass(frozen=True)
class Check:
    """``metric`` at ``policy`` minus at ``reference`` should have sign ``expect``.

    ``relative`` reports the difference as a fraction of the reference mean;
    ``at_most`` / ``at_least`` put a bound on that difference (fraction or level).
    """

    group: str
    name: str
    policy: tuple[str, ...]
    reference: tuple[str, ...]
    metric: Metric
    expect: int  # +1: policy above reference, -1: below
    relative: bool = False
    bound: float | None = None  # the difference must be beyond this (same sign as expect)


CAPS = (0.36, 0.24, 0.18, 0.154, 0.12)
SHOCK = "market.default_shocks=[{start: '2026-01', months: 12, multiplier: 3.0}]"
BLOCKED = "regulation.acquisitions_allowed=false"
HISTORY = "scenario=history_2019_2024"
NO_TIMELINE = "regulation.timeline=[]"
RULES_2020 = {  # each rule of the history timeline alone, as a dated change
    "judicial rate cap": "[{date: '2020-08', rate_cap_apr: 0.154}]",
    "capital and licence": "[{date: '2020-11', online_entry_capital_cny: 1.0e9, "
    "cross_province_capital_cny: 5.0e9, licence_capital_binds_incumbents: true}]",
    "co-lending own share": "[{date: '2020-11', co_lending_min_own_share: 0.30}]",
    "local-only lending": "[{date: '2021-02', local_only_lending: true}]",
}


def checks() -> list[Check]:
    """Every check, in report order."""
    cap = [f"regulation.rate_cap_apr={c}" for c in CAPS]
    out = [
        Check(
            "rate_cap",
            f"platform new lending 2026, cap {hi} -> {lo}",
            (cap[i + 1],),
            (cap[i],),
            of_type("new_lending", "online_platform", 2026),
            -1,
            relative=True,
        )
        for i, (hi, lo) in enumerate(itertools.pairwise(CAPS))
    ]
    out += [
        Check(
            "rate_cap",
            "platform new lending 2026, cap 0.24 -> 0.154 (at most -25 %)",
            (cap[3],),
            (cap[1],),
            of_type("new_lending", "online_platform", 2026),
            -1,
            relative=True,
            bound=-0.25,
        ),
        Check(
            "rate_cap",
            "welfare (riskiest segment) unmet demand 2026, cap 0.24 -> 0.154",
            (cap[3],),
            (cap[1],),
            yearly("unmet_welfare", 2026),
            +1,
        ),
        Check(
            "rate_cap",
            "platform exits 2024-2030, cap 0.24 -> 0.154",
            (cap[3],),
            (cap[1],),
            type_exits("online_platform", range(2024, 2031)),
            +1,
        ),
        Check(
            "exits",
            "failures 2026-2027 under a 3x default shock (12 months)",
            (SHOCK,),
            (),
            failures((2026, 2027)),
            +1,
        ),
        Check(
            "exits",
            "exits of any cause 2026-2027 under the shock",
            (SHOCK,),
            (),
            exits((2026, 2027)),
            +1,
        ),
        Check(
            "exits",
            "lending 2026-2027 under the shock (at most -5 %)",
            (SHOCK,),
            (),
            summed("lending", (2026, 2027)),
            -1,
            relative=True,
            bound=-0.05,
        ),
        Check(
            "concentration",
            "HHI 2030, tightening vs baseline, both with acquisitions blocked",
            ("scenario=tightening", BLOCKED),
            (BLOCKED,),
            yearly("hhi", 2030),
            +1,
        ),
        Check(
            "credit_data",
            "default rate of new loans 2030, credit_data_sharing",
            ("scenario=credit_data_sharing",),
            (),
            yearly("new_loan_pd", 2030),
            -1,
        ),
        Check(
            "credit_data",
            "NPL ratio 2030, credit_data_sharing",
            ("scenario=credit_data_sharing",),
            (),
            yearly("npl_ratio", 2030),
            -1,
        ),
        Check(
            "credit_data",
            "served share 2030, credit_data_sharing",
            ("scenario=credit_data_sharing",),
            (),
            yearly("served_share", 2030),
            +1,
        ),
        Check(
            "history",
            "active platforms 2024, the 2020-2024 rules vs none",
            (HISTORY,),
            (HISTORY, NO_TIMELINE),
            of_type("n_active", "online_platform", 2024),
            -1,
        ),
        Check(
            "history",
            "platform balance 2024, the 2020-2024 rules vs none",
            (HISTORY,),
            (HISTORY, NO_TIMELINE),
            of_type("outstanding", "online_platform", 2024),
            -1,
        ),
    ]
    out += [
        Check(
            "history",
            f"platform balance 2024, {rule} alone vs no rule",
            (HISTORY, f"regulation.timeline={timeline}"),
            (HISTORY, NO_TIMELINE),
            of_type("outstanding", "online_platform", 2024),
            -1,
        )
        for rule, timeline in RULES_2020.items()
    ]
    return out


SCALE_METRICS: dict[str, Metric] = {
    "HHI 2030": yearly("hhi", 2030),
    "HHI rise 2024-2030": change("hhi", 2024, 2030),
    "bank share 2030": yearly("share_bank", 2030),
    "cooperative share 2030": yearly("share_credit_cooperative", 2030),
    "platform share 2030": yearly("share_online_platform", 2030),
    "online share 2030": yearly("online_share", 2030),
    "average rate 2030": yearly("avg_rate", 2030),
    "served share 2030": yearly("served_share", 2030),
}
SCALE_EFFECTS = (
    "platform new lending 2026, cap 0.24 -> 0.154 (at most -25 %)",
    "lending 2026-2027 under the shock (at most -5 %)",
    "HHI 2030, tightening vs baseline, both with acquisitions blocked",
    "served share 2030, credit_data_sharing",
    "platform balance 2024, the 2020-2024 rules vs none",
)
"""Checks whose paired effect the scale check also compares across population sizes: one
per lever group, so that a quick sweep at a smaller scale can be judged by whether its
effects, not its levels, agree with the default scale's."""
SMALL_SCALES = (PRICES_HOLD_FROM, 20_000)
"""Population sizes compared with the default scale: the smallest at which prices and
channels are stated to hold (``sim.diagnostics.PRICES_HOLD_FROM``) and the quick-look
20,000."""


def run_point(overrides: tuple[str, ...]) -> Tables:
    """The yearly tables of one run."""
    from sim.run import simulate
    from sim.validation import compose

    tables = simulate(compose(*overrides, "plots=false", "progress=false"))
    return {k: tables[k] for k in ("market_yearly", "types_yearly")}


def run_points(points: Sequence[tuple[str, ...]], jobs: int) -> dict[tuple[str, ...], Tables]:
    """Every distinct point's tables, in parallel, with progress on stderr."""
    unique = list(dict.fromkeys(points))
    started = time.perf_counter()
    out: dict[tuple[str, ...], Tables] = {}
    # spawned workers: forking a process that runs threads (pyarrow, BLAS) can deadlock
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        done = pool.map(run_point, unique)
        for k, (point, tables) in enumerate(zip(unique, done, strict=True), 1):
            out[point] = tables
            eta = (time.perf_counter() - started) / k * (len(unique) - k)
            print(f"\r{k}/{len(unique)} runs, ETA {eta:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def with_seed(overrides: tuple[str, ...], seed: int, n_borrowers: int) -> tuple[str, ...]:
    """A point's overrides for one seed and population size (scenario first)."""
    scenario = tuple(o for o in overrides if o.startswith("scenario="))
    rest = tuple(o for o in overrides if not o.startswith("scenario="))
    return (*scenario, *rest, f"seed={seed}", f"market.n_borrowers={n_borrowers}")


def verdict(
    check: Check, diff: PairedDifference, reference_mean: float
) -> tuple[float, float, float, bool]:
    """Difference (relative if asked), its interval, and whether the expectation holds."""
    scale = abs(reference_mean) if check.relative and reference_mean else 1.0
    mean, low, high = diff.mean / scale, diff.ci_low / scale, diff.ci_high / scale
    holds = high < 0 if check.expect < 0 else low > 0
    if check.bound is not None:
        holds = holds and (high <= check.bound if check.expect < 0 else low >= check.bound)
    return mean, low, high, bool(holds)


def why_not(check: Check, diff: PairedDifference) -> str:
    """Why a check does not hold: the wrong sign, short of its bound, or too few seeds.

    Too few seeds: the difference has the expected sign but its interval reaches
    0; the note gives the seeds an interval of the same mean and spread would
    need to exclude 0 (``seeds_to_exclude_zero``).
    """
    if not np.isfinite(diff.mean) or diff.mean == 0 or np.sign(diff.mean) != check.expect:
        across = diff.ci_low <= 0 <= diff.ci_high
        return "opposite sign" + (", not significant" if across else "")
    beyond_zero = diff.ci_high < 0 if check.expect < 0 else diff.ci_low > 0
    if beyond_zero:  # significant on the expected side, so a bound is what fails
        return "short of its bound"
    needed = seeds_to_exclude_zero(diff)
    return "not significant" + (f", ~{needed} seeds would exclude 0" if needed else "")


def scale_row(check: str, default: Sequence[float], other: Sequence[float]) -> dict[str, object]:
    """One scale comparison: the other scale's mean minus the default's, within two SE."""
    big_a, small_a = np.asarray(default, dtype=float), np.asarray(other, dtype=float)
    se = math.sqrt(big_a.var(ddof=1) / big_a.size + small_a.var(ddof=1) / small_a.size)
    gap = float(small_a.mean() - big_a.mean())
    holds = abs(gap) <= 2 * se
    return {
        "group": "scale",
        "check": check,
        "reference": float(big_a.mean()),
        "difference": gap,
        "ci_low": gap - 2 * se,
        "ci_high": gap + 2 * se,
        "relative": False,
        "holds": holds,
        "why_not": "" if holds else "the scales differ by more than 2 SE",
    }


def effect_per_seed(
    check: Check, results: dict[tuple[str, ...], Tables], seeds: Sequence[int], n: int
) -> np.ndarray:
    """A check's paired difference on each seed at population ``n`` (relative if asked)."""
    policy = np.array([check.metric(results[with_seed(check.policy, s, n)]) for s in seeds])
    ref = np.array([check.metric(results[with_seed(check.reference, s, n)]) for s in seeds])
    scale = abs(float(ref.mean())) if check.relative and ref.mean() else 1.0
    return (policy - ref) / scale


def effect_scale_row(
    check: Check, default: np.ndarray, other: np.ndarray, sizes: tuple[int, int]
) -> dict[str, object]:
    """One check's effect at another scale against the default's: agree within two SE."""
    row = scale_row(f"effect of {check.name}: {sizes[1]:,} vs {sizes[0]:,}", default, other)
    return row | {
        "reference": float(np.mean(default)),
        "relative": check.relative,
        "why_not": "" if row["holds"] else "the effects differ by more than 2 SE",
    }


def report(
    seeds: Sequence[int],
    n_borrowers: int,
    jobs: int,
    only: str | None,
    scales: Sequence[int] = SMALL_SCALES,
) -> pd.DataFrame:
    """Run the checks (and the scale comparison with ``scales``); one row per check."""
    selected = [c for c in checks() if only in (None, c.group)]
    points = [
        with_seed(p, s, n_borrowers)
        for c in selected
        for p in (c.policy, c.reference)
        for s in seeds
    ]
    scale = only in (None, "scale")
    by_effect = [c for c in checks() if c.name in SCALE_EFFECTS] if scale else []
    if scale:
        points += [with_seed((), s, n) for s in seeds for n in (n_borrowers, *scales)]
        points += [
            with_seed(p, s, n)
            for c in by_effect
            for p in (c.policy, c.reference)
            for s in seeds
            for n in (n_borrowers, *scales)
        ]
    results = run_points(points, jobs)
    rows = []
    for c in selected:
        policy = [c.metric(results[with_seed(c.policy, s, n_borrowers)]) for s in seeds]
        ref = [c.metric(results[with_seed(c.reference, s, n_borrowers)]) for s in seeds]
        diff = t_interval(np.array(policy) - np.array(ref))
        mean, low, high, holds = verdict(c, diff, float(np.mean(ref)))
        rows.append(
            {
                "group": c.group,
                "check": c.name,
                "reference": float(np.mean(ref)),
                "difference": mean,
                "ci_low": low,
                "ci_high": high,
                "relative": c.relative,
                "holds": holds,
                "why_not": "" if holds else why_not(c, diff),
            }
        )
    for other, (name, metric) in itertools.product(scales if scale else (), SCALE_METRICS.items()):
        if other != n_borrowers:
            default = [metric(results[with_seed((), s, n_borrowers)]) for s in seeds]
            at_other = [metric(results[with_seed((), s, other)]) for s in seeds]
            rows.append(scale_row(f"{name}: {other:,} vs {n_borrowers:,}", default, at_other))
    for other, c in itertools.product(scales if scale else (), by_effect):
        if other != n_borrowers:
            default = effect_per_seed(c, results, seeds, n_borrowers)
            at_other = effect_per_seed(c, results, seeds, other)
            rows.append(effect_scale_row(c, default, at_other, (n_borrowers, other)))
    return pd.DataFrame(rows)


def format_report(table: pd.DataFrame, seeds: Sequence[int], n_borrowers: int) -> str:
    """The report as aligned text lines."""
    lines = [
        f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), {n_borrowers:,} borrowers; "
        "difference = policy - reference (scale: other - default, +-2 SE)"
    ]
    for _, r in table.iterrows():
        fmt = (lambda v: f"{100 * v:+.1f} %") if r["relative"] else (lambda v: f"{v:+.4g}")
        effect = str(r["check"]).startswith("effect of ")  # the reference is an effect too
        reference = (
            f"default effect {fmt(r['reference'])}" if effect else f"reference {r['reference']:.4g}"
        )
        lines.append(
            f"[{'ok' if r['holds'] else 'NO'}] {r['group']:13s} {r['check']}: "
            f"{fmt(r['difference'])} ({fmt(r['ci_low'])} to {fmt(r['ci_high'])}), "
            + reference
            + (f" ({r['why_not']})" if r.get("why_not") else "")
        )
    held = int(table["holds"].sum())
    lines.append(f"{held} of {len(table)} checks hold")
    return "\n".join(lines)


def population_sizes(text: str) -> tuple[int, ...]:
    """``--scales``: comma-separated population sizes, each a whole number of at least 1,000."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1_000:
        raise argparse.ArgumentTypeError(
            f"--scales {text!r}: expected comma-separated whole numbers of at least 1000, "
            "e.g. 20000,400000"
        )
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the checks and print the report; exit 0 (a report, not a test)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    ap.add_argument("--n-borrowers", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=2)
    groups = sorted({c.group for c in checks()} | {"scale"})
    ap.add_argument("--only", choices=groups, default=None, help="one group of checks")
    ap.add_argument(
        "--scales",
        type=population_sizes,
        default=SMALL_SCALES,
        help="population sizes the scale check compares with --n-borrowers, comma-separated "
        f"(default {','.join(map(str, SMALL_SCALES))})",
    )
    args = ap.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    table = report(seeds, args.n_borrowers, args.jobs, args.only, args.scales)
    print(format_report(table, seeds, args.n_borrowers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
