"""Every regulation lever moves its metric in the expected direction.

Each case runs the same seeds with and without the lever pushed far (common
random numbers), and compares a metric summed over 2024-2030 (or its mean).
A lever that moves nothing is a bug.
"""

from __future__ import annotations

import pytest

from scenarios.lever_effects import flat_path
from tests.conftest import run_tables

SEEDS = ("seed=11", "seed=12")


def metric(overrides: tuple[str, ...], column: str, how: str = "sum") -> float:
    """A market_yearly column aggregated over years and summed over the test seeds."""
    total = 0.0
    for seed in SEEDS:
        yearly = run_tables(seed, *overrides)["market_yearly"]
        total += getattr(yearly[column], how)()
    return total


def platform_lending(overrides: tuple[str, ...]) -> float:
    """New lending originated by online platforms, all years, both seeds."""
    total = 0.0
    for seed in SEEDS:
        yearly = run_tables(seed, *overrides)["market_yearly"]
        total += (yearly["lending"] * yearly["share_new_online_platform"]).sum()
    return total


LEVERS = [
    # (lever overrides, metric column, aggregation, expected sign of change)
    (("regulation.rate_cap_apr=0.07",), "avg_rate", "mean", -1),
    (("regulation.rate_cap_apr=0.07",), "lending", "sum", -1),
    (("regulation.min_capital_ratio.bank=0.3",), "share_new_bank", "mean", -1),
    (("regulation.max_leverage.credit_cooperative=2",), "share_new_credit_cooperative", "mean", -1),
    (("regulation.online_consumer_loan_cap_cny=3000",), "lending_online", "sum", -1),
    (("regulation.online_business_loan_cap_cny=5000",), "lending_sme", "sum", -1),
    (("regulation.single_borrower_limit=0.000001",), "lending", "sum", -1),
    (
        ("regulation.online_entry_capital_cny=1e8", "regulation.cross_province_capital_cny=5e9"),
        "entries",
        "sum",
        1,
    ),
    (("regulation.local_only_lending=false",), "online_share", "mean", 1),
    (("regulation.inspection_probability=0.5",), "inspections", "sum", 1),
    (("regulation.acquisitions_allowed=false",), "acquisitions", "sum", -1),
    (
        (flat_path("credit_data_coverage", 1.0), "behaviour.data_sharing_effect=1.0"),
        "served_share",
        "mean",
        1,
    ),
]


@pytest.mark.parametrize(("overrides", "column", "how", "sign"), LEVERS, ids=lambda v: str(v))
def test_lever_moves_its_metric(overrides, column, how, sign):
    """Pushing the lever moves the metric strictly in the documented direction."""
    base = metric((), column, how)
    pushed = metric(overrides, column, how)
    assert (pushed - base) * sign > 0, (base, pushed)


@pytest.mark.parametrize(
    "overrides",
    [
        ("regulation.co_lending_min_own_share=1.0",),
        ("regulation.co_lending_partner_cap=0",),
        ("regulation.co_lending_total_cap=0",),
        ("regulation.platform_individual_loan_cap_cny=2000",),
        ("regulation.min_capital_ratio.online_platform=0.6",),
        ("regulation.max_leverage.online_platform=1.2",),
    ],
    ids=lambda v: str(v),
)
def test_platform_levers_cut_platform_lending(overrides):
    """Stricter co-lending, platform loan caps and capital rules cut platform lending."""
    assert platform_lending(overrides) < platform_lending(())


def test_tech_subsidy_raises_technology():
    """A full technology subsidy leaves lenders with better technology in 2030."""

    def tech(overrides: tuple[str, ...]) -> float:
        total = 0.0
        for seed in SEEDS:
            lenders = run_tables(seed, *overrides)["lenders_yearly"]
            last = lenders[(lenders["year"] == 2030) & (lenders["active"] == 1)]
            total += (last["technology"] * last["outstanding"]).sum() / last["outstanding"].sum()
        return total

    assert tech((flat_path("tech_subsidy", 1.0),)) > tech((flat_path("tech_subsidy", 0.0),))


def test_timeline_change_takes_effect_in_its_month():
    """A dated change leaves every month before it identical and changes the months after."""
    changed = run_tables("seed=11", 'regulation.timeline=[{date: "2027-01", rate_cap_apr: 0.07}]')
    base = run_tables("seed=11")
    before = base["market_monthly"]["month"] < "2027-01"
    a, b = changed["market_monthly"], base["market_monthly"]
    assert a[before].equals(b[before])
    after = ~before
    assert a.loc[after, "avg_rate"].mean() < b.loc[after, "avg_rate"].mean()


def test_inspection_fines_are_charged_when_lenders_overshoot():
    """Overshooting lenders (slack 2), inspected (probability 0.2), pay fines at a fine of half.

    A fine of half the equity charges penalties; the same inspections with no fine
    charge none. Whether fines rise or fall as the fine grows is not a property:
    deterrence cuts overshooting.
    """
    inspected = ("regulation.inspection_probability=0.2", "behaviour.compliance_slack=2")
    fined = metric((*inspected, "regulation.inspection_penalty=0.5"), "penalties")
    unfined = metric((*inspected, "regulation.inspection_penalty=0"), "penalties")
    assert fined > 0 and unfined == 0, (fined, unfined)


def test_financing_support_cuts_state_funded_lenders_funding_cost():
    """Full financing support (index 1) at a 5-point subsidy cuts policy lenders' cost of
    funds by 5 points against no support (at least 0), and leaves banks' unchanged.
    """
    import numpy as np

    from agents.lenders import PolicyLender
    from sim.model import MarketModel
    from tests.conftest import compose_config

    rates = []
    for support in (0.0, 1.0):
        cfg = compose_config(
            flat_path("financing_support", support), "behaviour.funding_subsidy_max=0.05"
        )
        model = MarketModel(cfg)
        rates.append(model.market.funding_rates())
    policy = model.book.of_type(PolicyLender.type_code)
    np.testing.assert_allclose(rates[1][policy], np.maximum(rates[0][policy] - 0.05, 0.0))
    np.testing.assert_allclose(rates[1][~policy], rates[0][~policy])
