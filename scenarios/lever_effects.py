"""The lever table: each regulation lever, the decision it changes, and its measured effect.

Every lever is moved from its baseline value to a realistic test value and run
on the same seeds as the baseline (common random numbers); the effect on each
2030 metric is the mean paired difference with its 95 % t-interval. A
difference whose interval contains 0 is marked not significant, with the
number of seeds that would make an interval of that width exclude 0.

    python -m scenarios.lever_effects                       # 5 seeds, default scale
    python -m scenarios.lever_effects --write docs/levers.md
    python -m scenarios.lever_effects --seeds 10 --n-borrowers 20000 --jobs 2
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scenarios.sweep.stats import paired_difference, seeds_to_exclude_zero
from sim.output.sections import replace_section

SECTION = "lever-effects"
"""The part of ``docs/levers.md`` this tool writes."""


def flat_path(lever: str, value: float) -> str:
    """Override of a yearly path lever with one value in every year of the run."""
    return f"regulation.{lever}={{{', '.join(f'{y}: {value}' for y in range(2024, 2031))}}}"


@dataclass(frozen=True)
class LeverTest:
    """One lever, the value it is tested at, and the decision it changes."""

    lever: str  # the regulation key (dotted for a per-type lever)
    baseline: str  # its baseline value, as written in conf/regulation/default.yaml
    test: str  # the tested value, as shown
    override: str  # the Hydra override that sets it
    decision: str  # who decides what with it (class.method)
    note: str = ""  # why the lever has no measurable effect, where that is known


LEVER_TESTS: tuple[LeverTest, ...] = (
    LeverTest(
        "rate_cap_apr",
        "0.24",
        "0.154",
        "regulation.rate_cap_apr=0.154",
        "`sim.clearing.clear`: every lender prices at most the cap, refuses where cost + "
        "prudent loss exceed it",
    ),
    LeverTest(
        "min_capital_ratio.online_platform",
        "0.20",
        "0.30",
        "regulation.min_capital_ratio.online_platform=0.3",
        "`Regulator.lending_limits`, `Regulator.check_capital`: platforms' room and failure",
    ),
    LeverTest(
        "min_capital_ratio.bank",
        "0.105",
        "0.13",
        "regulation.min_capital_ratio.bank=0.13",
        "`Regulator.lending_limits`, `Regulator.check_capital`: banks' room and failure",
    ),
    LeverTest(
        "max_leverage.online_platform",
        "5",
        "3",
        "regulation.max_leverage.online_platform=3",
        "`Regulator.lending_limits`: platforms' room",
    ),
    LeverTest(
        "co_lending_min_own_share",
        "0.30",
        "0.50",
        "regulation.co_lending_min_own_share=0.5",
        "`OnlinePlatform.co_lending_terms`: own share and origination capacity; "
        "`Market.enforce_own_share`: existing co-lent loans",
    ),
    LeverTest(
        "co_lending_partner_cap",
        "0.25",
        "0.10",
        "regulation.co_lending_partner_cap=0.1",
        "`CommercialBank.partner_room`: co-funding one bank offers one platform",
    ),
    LeverTest(
        "co_lending_total_cap",
        "0.50",
        "0.20",
        "regulation.co_lending_total_cap=0.2",
        "`CommercialBank.partner_room`: a bank's co-funding of all platforms",
    ),
    LeverTest(
        "online_consumer_loan_cap_cny",
        "200,000",
        "50,000",
        "regulation.online_consumer_loan_cap_cny=50000",
        "`sim.clearing.clear` (`_loan_size`): online consumer loan sizes",
    ),
    LeverTest(
        "online_business_loan_cap_cny",
        "1,000,000",
        "300,000",
        "regulation.online_business_loan_cap_cny=300000",
        "`sim.clearing.clear` (`_loan_size`): online business loan sizes",
    ),
    LeverTest(
        "platform_individual_loan_cap_cny",
        "300,000",
        "50,000",
        "regulation.platform_individual_loan_cap_cny=50000",
        "`sim.clearing.clear` (`_loan_size`): platforms' personal loan sizes",
    ),
    LeverTest(
        "single_borrower_limit",
        "0.10",
        "0.01",
        "regulation.single_borrower_limit=0.01",
        "`sim.clearing.clear` (`_loan_size`): the largest loan a lender makes",
        "Inert: the largest loan need (lognormal, means 20k-150k CNY) is far below 1 % of "
        "the smallest lender's equity, so the limit never binds at either value.",
    ),
    LeverTest(
        "online_entry_capital_cny",
        "1e9",
        "5e9",
        "regulation.online_entry_capital_cny=5e9",
        "`OnlinePlatform.entrant_capital`: which would-be platforms get a licence",
    ),
    LeverTest(
        "cross_province_capital_cny",
        "5e9",
        "2e10",
        "regulation.cross_province_capital_cny=2e10",
        "`OnlinePlatform.review_licences`: which platforms lend nationally",
    ),
    LeverTest(
        "licence_capital_binds_incumbents",
        "false",
        "true",
        "regulation.licence_capital_binds_incumbents=true",
        "`OnlinePlatform.review_licences`: incumbents short of the capital raise it or lose "
        "the licence (`Regulator.revoke_licence`)",
    ),
    LeverTest(
        "local_only_lending",
        "true",
        "false",
        "regulation.local_only_lending=false",
        "`Market.offers`: lenders' online reach beyond their regions; "
        "`CommercialBank.partner_room`: regional banks' co-lending",
    ),
    LeverTest(
        "inspection_probability",
        "0.02",
        "0.20",
        "regulation.inspection_probability=0.2",
        "`Regulator.inspect` (fines), `Market.offers` (compliance slack)",
    ),
    LeverTest(
        "inspection_penalty",
        "0.05",
        "0.50",
        "regulation.inspection_penalty=0.5",
        "`Regulator.inspect` (fines), `Market.offers` (compliance slack)",
    ),
    LeverTest(
        "acquisitions_allowed",
        "true",
        "false",
        "regulation.acquisitions_allowed=false",
        "`Regulator.sell_weak_lenders`, `Regulator.resolve`: deals or wind-downs",
    ),
    LeverTest(
        "merger_review_hhi",
        "1,800",
        "1,000",
        "regulation.merger_review_hhi=1000",
        "`Regulator.acquirer_for` (`cleared_by_review`): deals blocked",
        "Inert in the baseline: HHI stays near 500-650, below both 1,800 and 1,000, "
        "so merger review never blocks a deal at either value.",
    ),
    LeverTest(
        "merger_review_delta",
        "100",
        "0",
        "regulation.merger_review_delta=0",
        "`Regulator.acquirer_for` (`cleared_by_review`): deals blocked",
        "Inert in the baseline: HHI stays near 500-650, below both 1,800 and 1,000, "
        "so merger review never blocks a deal at either value.",
    ),
    LeverTest(
        "financing_support",
        "0.45-0.90",
        "0",
        flat_path("financing_support", 0.0),
        "`Market.funding_rates` (`PolicyLender.state_funding_share`), "
        "`PolicyLender.capital_support`",
    ),
    LeverTest(
        "state_capital_budget_cny",
        "1.5e9",
        "0",
        "regulation.state_capital_budget_cny=0",
        "`Regulator.support_state_lenders`: the yearly budget of `PolicyLender.capital_support`",
    ),
    LeverTest(
        "inclusive_lending_target",
        "0",
        "0.30",
        flat_path("inclusive_lending_target", 0.3),
        "`CommercialBank.set_inclusive_push`: national banks' business-loan rates",
    ),
    LeverTest(
        "tech_subsidy",
        "0.30-0.75",
        "0",
        flat_path("tech_subsidy", 0.0),
        "`Lender.invest_in_technology`: technology and its cost",
    ),
    LeverTest(
        "credit_data_coverage",
        "0.40-0.70",
        "0.90",
        flat_path("credit_data_coverage", 0.9),
        "`Market.applicants` (covered thin files): screening noise in `sim.clearing.clear`",
    ),
)
"""Every regulation lever; ``tests/pipeline/test_lever_effects.py`` checks none is missing."""

METRICS: dict[str, str] = {
    "hhi": "HHI 2030",
    "share_online_platform": "platform share 2030",
    "served_share": "served share 2030",
    "npl_ratio": "NPL ratio 2030",
    "lenders_gone": "exits 2024-30",
}
"""Metric column (2030 unless summed) and its heading."""


def outcomes(overrides: Sequence[str]) -> dict[str, float]:
    """The metrics of one run."""
    from sim.run import simulate
    from sim.validation import compose

    yearly = simulate(compose(*overrides, "plots=false", "progress=false"))["market_yearly"]
    last = yearly.iloc[-1]
    out = {name: float(last[name]) for name in METRICS if name in yearly}
    out["lenders_gone"] = float(yearly["exits"].sum() + yearly["acquisitions"].sum())
    return out


def run_all(seeds: Sequence[int], n_borrowers: int, tests: Sequence[LeverTest], jobs: int):
    """Metrics by point (``None`` for the baseline) and seed."""
    points: list[LeverTest | None] = [None, *tests]
    specs = [
        (
            point,
            seed,
            [f"seed={seed}", f"market.n_borrowers={n_borrowers}"]
            + ([point.override] if point else []),
        )
        for point in points
        for seed in seeds
    ]
    started = time.perf_counter()
    results: dict[tuple[str | None, int], dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        if jobs > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs))
            done = pool.map(outcomes, [overrides for _, _, overrides in specs])
        else:  # in this process
            done = map(outcomes, [overrides for _, _, overrides in specs])
        for k, ((point, seed, _), result) in enumerate(zip(specs, done, strict=True), 1):
            results[(point.lever if point else None, seed)] = result
            eta = (time.perf_counter() - started) / k * (len(specs) - k)
            print(f"\r{k}/{len(specs)} runs, ETA {eta:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    return results


def effects_table(results, seeds: Sequence[int], tests: Sequence[LeverTest]) -> pd.DataFrame:
    """One row per lever and metric: mean paired effect, interval, significance."""
    rows = []
    baseline = {m: sum(results[(None, s)][m] for s in seeds) / len(seeds) for m in METRICS}
    for test in tests:
        for metric in METRICS:
            effect = paired_difference(
                {s: results[(test.lever, s)][metric] for s in seeds},
                {s: results[(None, s)][metric] for s in seeds},
            )
            significant = effect.ci_low > 0 or effect.ci_high < 0
            rows.append(
                {
                    "lever": test.lever,
                    "metric": metric,
                    "baseline": baseline[metric],
                    "effect": effect.mean,
                    "ci_low": effect.ci_low,
                    "ci_high": effect.ci_high,
                    "significant": significant,
                    "seeds_needed": None if significant else seeds_to_exclude_zero(effect),
                }
            )
    return pd.DataFrame(rows)


def _cell(metric: str, row: pd.Series) -> str:
    scale, digits = (1.0, 0) if metric in ("hhi", "lenders_gone") else (100.0, 2)
    text = (
        f"{row['effect'] * scale:+.{digits}f} "
        f"[{row['ci_low'] * scale:+.{digits}f}, {row['ci_high'] * scale:+.{digits}f}]"
    )
    if row["significant"]:
        return f"**{text}**"
    needed = row["seeds_needed"]
    if needed is None or needed != needed:  # no effect at all, or more than 10,000 seeds
        return f"{text} ns"
    return f"{text} ns (~{int(needed)} seeds)"


def markdown(table: pd.DataFrame, tests: Sequence[LeverTest], seeds, n_borrowers, command) -> str:
    """The lever table as Markdown, with how it was made."""
    lines = [
        "# Regulation levers: what each changes, and what it does to 2030",
        "",
        "Generated by `" + command + "`; do not edit by hand.",
        "",
        f"Each lever is moved from its baseline value to the test value on seeds "
        f"{seeds[0]}-{seeds[-1]} ({len(seeds)} seeds, {n_borrowers:,} borrowers), the same "
        "seeds as the baseline (common random numbers). A cell is the mean paired "
        "difference, test minus baseline, with its 95 % t-interval; **bold** when the "
        "interval excludes 0, `ns` (not significant) otherwise, with the seeds an interval "
        "of that spread would need to exclude 0. HHI and exits (wind-downs plus "
        "acquisitions, 2024-2030) in points and lenders; shares and ratios in percentage "
        "points.",
        "",
        "| lever | baseline -> test | decision it changes | " + " | ".join(METRICS.values()) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |",
    ]
    for test in tests:
        rows = table[table["lever"] == test.lever].set_index("metric")
        cells = [_cell(m, rows.loc[m]) for m in METRICS]
        lines.append(
            f"| `{test.lever}` | {test.baseline} -> {test.test} | {test.decision} | "
            + " | ".join(cells)
            + " |"
        )
    baseline = table.drop_duplicates("metric").set_index("metric")["baseline"]
    lines += [
        "",
        "Baseline means: " + ", ".join(f"{METRICS[m]} {baseline[m]:.4g}" for m in METRICS) + ".",
        "",
    ]
    notes = [f"- `{t.lever}`: {t.note}" for t in tests if t.note]
    if notes:
        lines += ["Levers with no measurable effect, and why:", "", *notes, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every lever's paired effect; print the table, optionally write it."""
    parser = argparse.ArgumentParser(prog="python -m scenarios.lever_effects", description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per point (default 5)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--n-borrowers", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--lever", action="append", help="only this lever (repeatable)")
    parser.add_argument("--write", type=Path, help="write the Markdown table here")
    parser.add_argument("--csv", type=Path, help="write the effects as CSV here")
    args = parser.parse_args(argv)
    tests = [t for t in LEVER_TESTS if not args.lever or t.lever in args.lever]
    unknown = sorted(set(args.lever or ()) - {t.lever for t in LEVER_TESTS})
    if unknown:
        parser.error(f"unknown lever(s) {unknown}; known: {[t.lever for t in LEVER_TESTS]}")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    results = run_all(seeds, args.n_borrowers, tests, args.jobs)
    table = effects_table(results, seeds, tests)
    command = "python -m scenarios.lever_effects " + " ".join(argv or sys.argv[1:])
    text = markdown(table, tests, seeds, args.n_borrowers, command.strip())
    print(text)
    if args.write:  # only this tool's section: the file holds lendsim-levers' reference too
        replace_section(args.write, SECTION, text)
    if args.csv:
        from sim.output.atomic import write_csv

        write_csv(table, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
