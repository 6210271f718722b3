"""Accounting and share invariants of the model, checked every month."""

from __future__ import annotations

import numpy as np

from sim.model import MarketModel
from tests.conftest import compose_config, run_tables


def test_balance_sheet_identity_every_lender_every_month():
    """Cash + loans - provisions == debt + equity for every lender in every month; each
    lender's booked loans equal the performing balances of the borrowers' loans it funds
    plus its NPLs, and its NPLs equal the sum of their ages.
    """
    model = MarketModel(compose_config("seed=3"))
    for _ in model.months:
        model.step()
        book = model.book
        scale = max(float(np.abs(book.loans).max()), 1.0)
        assert np.abs(book.balance_residual()).max() <= 1e-9 * scale
        _, performing = model.population.outstanding_by(book.n)
        assert np.allclose(book.loans, performing + book.npl, rtol=1e-9, atol=1e-6 * scale)
        assert np.allclose(book.npl, book.npl_by_age.sum(axis=1), rtol=1e-9, atol=1e-6 * scale)
        assert (book.debt >= 0).all() and (book.provisions >= -1e-6 * scale).all()


def test_shares_sum_to_one_each_year():
    """Lender shares of outstanding balance sum to 1 in every year, and so do type shares."""
    tables = run_tables("seed=1")
    lenders = tables["lenders_yearly"]
    assert np.allclose(lenders.groupby("year")["share"].sum(), 1.0)
    yearly = tables["market_yearly"]
    type_cols = [
        "share_bank",
        "share_credit_cooperative",
        "share_online_platform",
        "share_policy_lender",
    ]
    assert np.allclose(yearly[type_cols].sum(axis=1), 1.0)


def test_yearly_hhi_equals_sum_of_squared_lender_shares():
    """market_yearly.hhi == 10,000 x sum of squared lenders_yearly.share, year by year."""
    tables = run_tables("seed=1")
    squares = tables["lenders_yearly"].assign(sq=lambda d: d["share"] ** 2).groupby("year")["sq"]
    expected = 10_000 * squares.sum()
    got = tables["market_yearly"].set_index("year")["hhi"]
    assert np.allclose(got.loc[expected.index], expected, rtol=1e-12)


def test_years_cover_the_run():
    """The default run reports the years 2024 to 2030, one row each, and 84 months."""
    tables = run_tables("seed=1")
    assert tables["market_yearly"]["year"].tolist() == list(range(2024, 2031))
    assert len(tables["market_monthly"]) == 84


def test_unmet_demand_is_demand_minus_lending():
    """Unmet demand equals demand minus lending, in total and in every segment."""
    yearly = run_tables("seed=1")["market_yearly"]
    assert np.allclose(yearly["unmet"], yearly["demand"] - yearly["lending"])
    for seg in ("consumer", "sme", "agriculture", "welfare"):
        assert np.allclose(
            yearly[f"unmet_{seg}"], yearly[f"demand_{seg}"] - yearly[f"lending_{seg}"]
        )
    segs = sum(yearly[f"lending_{s}"] for s in ("consumer", "sme", "agriculture", "welfare"))
    assert np.allclose(segs, yearly["lending"])


def test_initial_type_shares_follow_config():
    """At the start, each type's share of outstanding is near its configured initial share
    (lender drawn by size: binomial noise only, 3 points at this scale).
    """
    model = MarketModel(compose_config("seed=2", "market.n_borrowers=40000"))
    by_originator, _ = model.population.outstanding_by(model.book.n)
    codes = model.book.type_code
    total = by_originator.sum()
    for code, (name, expected) in enumerate(
        [
            ("bank", 0.53),
            ("credit_cooperative", 0.33),
            ("online_platform", 0.10),
            ("policy_lender", 0.04),
        ]
    ):
        share = by_originator[codes == code].sum() / total
        assert abs(share - expected) < 0.03, (name, share)
