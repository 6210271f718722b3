"""Extreme but legal markets run to the end with their documented behaviour.

Each case is a valid configuration at small scale; it runs with the
accounting checked every month and every table invariant checked
(:mod:`tests.invariants`), then its documented behaviour
(``docs/robustness.md``) is asserted from hand calculation, and the WARNING the
model logs for it is checked.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from agents.lenders import LENDER_TYPES
from sim.config import SEGMENTS
from sim.finance import TECH_OPEX_CUT, monthly_hazard
from sim.model import MarketModel
from sim.run import run_simulation
from tests.conftest import compose_config
from tests.model.invariants import CONCENTRATION, check_tables, simulate_checked

SHORT = ("market.n_borrowers=3000", "market.end=2025-12", "market.writeoff_months=3")
# every loan (initial or new) ends within 12 months, written off at most 3 months after
TERM_12 = tuple(f"market.segments.{s}.term_months=12" for s in SEGMENTS)
NO_ENTRY = tuple(f"lenders.{t}.entry_rate=0" for t in LENDER_TYPES)
# last month a loan of the initial book can be open: term (12) + write-off delay (3)
RUN_OFF_MONTHS = 12 + 3


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Messages logged at WARNING by the model's diagnostics."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sim.diagnostics" and r.levelno == logging.WARNING
    ]


def only_lender_overrides(kept: str) -> tuple[str, ...]:
    """One lender of type ``kept`` holding the whole market; no others and no entry."""
    out = [f"lenders.{kept}.count=1", f"lenders.{kept}.initial_share=1"]
    for t in LENDER_TYPES:
        if t != kept:
            out += [f"lenders.{t}.count=0", f"lenders.{t}.initial_share=0"]
    return (*out, *NO_ENTRY)


def test_one_lender_has_hhi_exactly_10000(caplog):
    """A single lender (no entry) holds the whole market: HHI == 10,000 exactly, CR4 == CR5 == 1,
    entropy == 0 and Hannah-Kay == 1, on balance, funding and new lending, in every month and
    year with anything outstanding or lent; the bank's type share is 1. A WARNING names each of
    the three empty lender types.
    """
    caplog.set_level(logging.WARNING)
    cfg = compose_config(*SHORT, *only_lender_overrides("bank"))
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    for name in ("market_monthly", "market_yearly"):
        frame = tables[name]
        held = frame["outstanding"] > 0
        assert held.all(), "the single bank keeps a book throughout"
        for suffix, rows in (("", held), ("_funder", held), ("_new", frame["lending"] > 0)):
            assert (frame.loc[rows, f"hhi{suffix}"] == 10_000.0).all()
            assert (frame.loc[rows, f"cr4{suffix}"] == 1.0).all()
            assert (frame.loc[rows, f"cr5{suffix}"] == 1.0).all()
            assert (frame.loc[rows, f"entropy{suffix}"] == 0.0).all()
            assert (frame.loc[rows, f"hannah_kay{suffix}"] == 1.0).all()
        assert (frame["share_bank"] == 1.0).all()
    assert (tables["market_monthly"]["lending"] > 0).any()
    messages = warnings_of(caplog)
    for t in LENDER_TYPES[1:]:
        assert any(m.startswith(f"lenders.{t}.count = 0") for m in messages), t


def test_zero_platforms_have_zero_share(caplog):
    """No online platforms at the start and no platform entry: every platform share (balance,
    new lending, funding; monthly and yearly) is 0, no platform appears in lenders_yearly, its
    types_yearly rows are all 0, and a WARNING says the type is empty for the whole run.
    """
    caplog.set_level(logging.WARNING)
    cfg = compose_config(
        *SHORT,
        "lenders.online_platform.count=0",
        "lenders.online_platform.initial_share=0",
        "lenders.bank.initial_share=0.63",
        "lenders.online_platform.entry_rate=0",
    )
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    for name in ("market_monthly", "market_yearly"):
        for prefix in ("share_", "share_new_", "share_funded_"):
            assert (tables[name][f"{prefix}online_platform"] == 0.0).all(), (name, prefix)
    assert "online_platform" not in set(tables["lenders_yearly"]["lender_type"])
    platform = tables["types_yearly"].query("lender_type == 'online_platform'")
    # rates undefined without lending, ROE without equity
    rates = [c for c in platform.columns if c.startswith("rate") or c == "roe"]
    amounts = platform.drop(columns=["year", "lender_type", *rates])
    assert len(platform) == 2 and (amounts == 0).all().all() and platform[rates].isna().all().all()
    assert any(
        m.startswith("lenders.online_platform.count = 0") and "none in the whole run" in m
        for m in warnings_of(caplog)
    )


def test_rate_cap_below_every_break_even_stops_lending(caplog):
    """A 1 % rate cap is below every lender's lowest possible rate, funding (less the largest
    policy cut) + operating cost after the largest technology saving + the markup floor (at least
    3.2 % here, computed below from the config), so no loan is ever made; the initial book runs
    off (all gone after 12 + 3 months), after which concentration is left empty. A WARNING says
    the cap is below every lender's break-even rate.
    """
    caplog.set_level(logging.WARNING)
    cap = 0.01
    cfg = compose_config(
        *SHORT,
        *TERM_12,
        f"regulation.rate_cap_apr={cap}",
        "behaviour.markup_floor=0.005",
        "behaviour.funding_subsidy_max=0.01",
    )
    lowest = min(
        cfg.market.lpr[2024]
        + lt.funding_spread
        - cfg.behaviour.funding_subsidy_max
        + (1 - TECH_OPEX_CUT) * lt.operating_cost
        + min(cfg.behaviour.markup_floor, lt.markup)
        for lt in cfg.lenders.values()
    )
    assert lowest > cap, lowest  # the premise, by hand: every offered rate exceeds the cap
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    monthly = tables["market_monthly"]
    assert (monthly["lending"] == 0.0).all()
    assert monthly["online_share"].isna().all() and monthly["avg_rate"].isna().all()
    gone = monthly.index >= RUN_OFF_MONTHS  # months after the last possible closing
    assert (monthly.loc[gone, "outstanding"] == 0.0).all()
    for column in CONCENTRATION:
        assert monthly.loc[gone, column].isna().all(), column
    assert np.isnan(tables["market_yearly"].set_index("year").loc[2025, "hhi"])
    assert any(
        m.startswith(f"regulation.rate_cap_apr = {cap:g} is below every lender's break-even")
        for m in warnings_of(caplog)
    )


def unmet_capital_overrides() -> tuple[str, ...]:
    """Every lender starts at 5 % capital against a 100 % requirement, with no state support."""
    counts = {"bank": 2, "credit_cooperative": 2, "online_platform": 2, "policy_lender": 1}
    out = []
    for t, n in counts.items():
        out += [
            f"lenders.{t}.count={n}",
            f"lenders.{t}.size_sigma=0",
            f"lenders.{t}.capital_ratio=0.05",
            f"regulation.min_capital_ratio.{t}=1.0",
        ]
    return (
        *out,
        *NO_ENTRY,
        *TERM_12,
        "market.prepayment_rate=0",
        "regulation.financing_support={2024: 0, 2025: 0}",
        "regulation.acquisitions_allowed=false",
        "behaviour.exit_months=1",
    )


def test_capital_requirement_no_lender_meets_winds_every_lender_down(caplog, tmp_path):
    """With 5 % capital against a 100 % requirement (and exit after 1 month short), no lender
    meets its requirement at the start (equity at most 0.4 x loans, checked below: a lender drawn
    fewer borrowers than its size holds 5 % of its expected book). After the first month's
    servicing each still holds at least half its book (every initial loan has 2-12 months left,
    so pays at most half) against at most its equity plus a month's interest, a ratio at most
    (0.4 + 0.24 / 12) / 0.5 = 0.84 < 1, so every lender is wound down in the first month, before
    any lending. The market then lends
    nothing, the book runs off, concentration is left empty once nothing is outstanding, the
    whole run (with plots) completes, and WARNINGs say no lender met its requirement and that
    every lender has exited by 2024-01.
    """
    caplog.set_level(logging.WARNING)
    cfg = compose_config(*SHORT, *unmet_capital_overrides())
    start = MarketModel(cfg)
    book = start.book
    ratio = book.equity / book.loans
    assert (book.loans > 0).all() and (ratio <= 0.4).all(), ratio  # premise
    assert cfg.regulation.rate_cap_apr <= 0.24
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    assert model.n_active_monthly == [0] * len(model.months)
    monthly, yearly = tables["market_monthly"], tables["market_yearly"]
    assert (monthly["lending"] == 0.0).all()
    assert yearly.set_index("year").loc[2024, "exits"] == model.book.n == 7
    gone = monthly.index >= RUN_OFF_MONTHS
    assert (monthly.loc[gone, "outstanding"] == 0.0).all()
    assert monthly.loc[gone, "hhi"].isna().all() and monthly.loc[gone, "cr5"].isna().all()
    messages = warnings_of(caplog)
    assert any(m.startswith("no lender meets its capital requirement") for m in messages)
    assert any(m.startswith("every lender has exited by 2024-01") for m in messages)

    cfg.plots = True
    result = run_simulation(cfg, tmp_path / "run", progress=False)
    assert result["status"] == "complete"
    assert json.loads((tmp_path / "run" / "result.json").read_text())["status"] == "complete"
    assert result["headline"]["hhi_last"] is None  # undefined, written as null
    for name in ("market_yearly.csv", "concentration.png", "type_shares.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0


def test_default_shock_wipes_out_the_platforms(caplog):
    """A x1000 default shock on platform loans from 2024-03, with every borrower's PD at its
    segment mean (pd_sigma 0; the lowest mean, 3 %, gives a monthly hazard of 0.25 %, so x1000 is
    above 1): every platform loan defaults in 2024-03, each platform's provisions jump to 65 % of
    its book against 5 % capital, and every platform is wound down that month (no acquisitions,
    no entry). Its loans are written off 3 months later, so from 2024-06 the platforms' share of
    balance and of new lending is 0 while the other types lend on; a WARNING says every
    online_platform lender has exited by 2024-03.
    """
    caplog.set_level(logging.WARNING)
    cfg = compose_config(
        *SHORT,
        *(f"market.segments.{s}.pd_sigma=0" for s in SEGMENTS),
        "market.default_shocks=[{start: 2024-03, months: 6, multiplier: 1000,"
        " lender_type: online_platform}]",
        "lenders.online_platform.count=2",
        "lenders.online_platform.size_sigma=0",
        "lenders.online_platform.capital_ratio=0.05",
        "lenders.online_platform.initial_share=0.3",
        "lenders.bank.initial_share=0.33",
        "lenders.online_platform.entry_rate=0",
        "regulation.acquisitions_allowed=false",
    )
    lowest_pd = min(cfg.market.segments[s].pd_mean for s in SEGMENTS)
    assert monthly_hazard(lowest_pd) * 1000 >= 1.0  # premise: certain default
    assert (1 - cfg.market.recovery_rate) - cfg.behaviour.provision_rate > 0.05  # loss > equity
    tables, model = simulate_checked(cfg)
    check_tables(tables, model)
    monthly = tables["market_monthly"].set_index("month")
    platforms = model.book.type_code == LENDER_TYPES.index("online_platform")
    assert platforms.sum() == 2 and not model.book.active[platforms].any()
    after = monthly.index >= "2024-06"
    assert (monthly.loc[after, "share_online_platform"] == 0.0).all()
    assert (monthly.loc[after, "share_new_online_platform"] == 0.0).all()
    assert (monthly.loc[after, "lending"] > 0).all()  # the other types lend on
    assert any(m.startswith("every online_platform lender has exited by 2024-03") for m in
               warnings_of(caplog))  # fmt: skip


def test_zero_demand_growth_keeps_application_rate_constant():
    """With market.demand_growth = 0 the application probability is the segment's apply_rate
    in every month ((1 + 0) ** years == 1 exactly); pooled over the run, applicants / borrowers
    without a loan lies within 5 binomial standard deviations of the common rate 1.8 %. With
    growth 1.0 (doubling a year) the factor in month t is exactly 2 ** (t / 12).
    """
    rate = 0.018
    common = tuple(f"market.segments.{s}.apply_rate={rate}" for s in SEGMENTS)
    for growth, expected in ((0.0, lambda t: 1.0), (1.0, lambda t: 2.0 ** (t / 12))):
        cfg = compose_config(*SHORT, *common, f"market.demand_growth={growth}")
        model = MarketModel(cfg)
        seen: list[tuple[float, int, int]] = []
        applicants = model.population.applicants

        def record(factor, rng, applicants=applicants, seen=seen, model=model):
            free = int((model.population.lender < 0).sum())
            chosen = applicants(factor, rng)
            seen.append((factor, free, chosen.size))
            return chosen

        model.population.applicants = record
        for _ in model.months:
            model.step()
        assert [f for f, _, _ in seen] == [expected(t) for t in range(len(model.months))]
        if growth == 0.0:
            free = sum(n for _, n, _ in seen)
            chosen = sum(k for _, _, k in seen)
            sd = (free * rate * (1 - rate)) ** 0.5
            assert abs(chosen - free * rate) <= 5 * sd, (chosen, free * rate, sd)
