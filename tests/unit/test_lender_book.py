"""The lender book: live column views, growth, capital ratio, balance-sheet operations.

Every book here is built by hand with a few lenders and numbers chosen so the
expected results can be worked out on paper (each calculation is in the
test's docstring).
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.borrowers import ServicingFlows
from agents.lender_book import LenderBook
from agents.loan_table import NO_LENDER

BALANCE_SHEET = ("cash", "loans", "provisions", "debt", "equity", "npl", "profit_ytd")


def test_column_reads_are_views_of_the_live_rows() -> None:
    """A column read covers rows 0..n-1 only and shares memory with the storage."""
    book = LenderBook(n_regions=3, writeoff_months=2)
    book.add(0, loans=10.0)
    book.add(1, loans=20.0)
    assert book.loans.shape == (2,)
    assert book.presence.shape == (2, 3)
    assert np.shares_memory(book.loans, book.storage["loans"])
    book.loans[1] = 55.0
    assert book.storage["loans"][1] == 55.0


def test_in_place_update_and_assignment_write_the_storage() -> None:
    """``book.loans += x`` and ``book.loans = x`` change the live rows, not the spare ones."""
    book = LenderBook(n_regions=2, writeoff_months=2)
    book.add(0, loans=10.0)
    book.add(0, loans=20.0)
    book.loans += np.array([1.0, 2.0])
    np.testing.assert_array_equal(book.storage["loans"][:3], [11.0, 22.0, 0.0])
    book.profit_ytd = 7.0
    np.testing.assert_array_equal(book.storage["profit_ytd"][:3], [7.0, 7.0, 0.0])


def test_add_sets_identity_defaults_and_returns_the_row() -> None:
    """A new lender gets the next row, its type, no partner, active, other columns zero."""
    book = LenderBook(n_regions=2, writeoff_months=2)
    assert book.add(2, equity=5.0) == 0
    assert book.add(3, markup=0.02) == 1
    np.testing.assert_array_equal(book.type_code, [2, 3])
    np.testing.assert_array_equal(book.partner, [NO_LENDER, NO_LENDER])
    np.testing.assert_array_equal(book.active, [True, True])
    np.testing.assert_array_equal(book.equity, [5.0, 0.0])
    np.testing.assert_array_equal(book.markup, [0.0, 0.02])
    assert not book.presence.any()


@pytest.mark.parametrize("capacity", [1, 2, 64])
def test_growing_past_the_capacity_keeps_every_value(capacity: int) -> None:
    """Adding 2 x capacity + 1 lenders (two doublings or more) loses no value of any row."""
    book = LenderBook(n_regions=3, writeoff_months=2, capacity=capacity)
    n = 2 * capacity + 1
    for i in range(n):
        presence = np.array([i % 3 == 0, i % 3 == 1, i % 3 == 2])
        book.add(i % 4, loans=float(i + 1), home_region=i % 3, presence=presence)
    assert book.n == n
    np.testing.assert_array_equal(book.loans, np.arange(1, n + 1, dtype=float))
    np.testing.assert_array_equal(book.type_code, np.arange(n) % 4)
    np.testing.assert_array_equal(book.home_region, np.arange(n) % 3)
    np.testing.assert_array_equal(book.presence, np.arange(n)[:, None] % 3 == np.arange(3))
    np.testing.assert_array_equal(book.partner, np.full(n, NO_LENDER))
    assert book.active.all()


def test_rows_of_type_and_per_lender() -> None:
    """``rows`` lists a type's ids ascending (active ones unless asked), ``per_lender`` maps."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    for code in (1, 0, 1, 1):
        book.add(code)
    book.active[2] = False
    np.testing.assert_array_equal(book.rows(1), [0, 3])
    np.testing.assert_array_equal(book.rows(1, active_only=False), [0, 2, 3])
    np.testing.assert_array_equal(book.of_type(0), [False, True, False, False])
    np.testing.assert_array_equal(book.per_lender(np.array([10.0, 20.0])), [20, 10, 20, 20])


def test_capital_ratio_by_hand() -> None:
    """Equity / loans: 10 / 100 = 0.1, 3 / 12 = 0.25, and infinite with no loans."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(0, equity=10.0, loans=100.0)
    book.add(0, equity=3.0, loans=12.0)
    book.add(0, equity=5.0, loans=0.0)
    ratio = book.capital_ratio()
    assert ratio[0] == pytest.approx(0.1)
    assert ratio[1] == pytest.approx(0.25)
    assert ratio[2] == np.inf


def _consistent_book() -> LenderBook:
    """Three lenders whose balance sheets hold ``cash + loans - provisions == debt + equity``."""
    book = LenderBook(n_regions=2, writeoff_months=2)
    # 50 + 100 - 2 = 148 = 118 + 30;  20 + 400 - 8 = 412 = 362 + 50;  5 + 0 - 0 = 5 = 0 + 5
    book.add(0, cash=50.0, loans=100.0, provisions=2.0, debt=118.0, equity=30.0, npl=4.0)
    book.add(1, cash=20.0, loans=400.0, provisions=8.0, debt=362.0, equity=50.0, npl=10.0)
    book.add(2, cash=5.0, equity=5.0)
    return book


def test_hand_built_book_is_consistent() -> None:
    """The residual of the hand-built book is zero (the premise of the identity tests)."""
    np.testing.assert_allclose(_consistent_book().balance_residual(), 0.0, atol=1e-9)


def test_balance_residual_by_hand() -> None:
    """Residual = cash + loans - provisions - debt - equity: 1 + 10 - 2 - 3 - 4 = 2."""
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(0, cash=1.0, loans=10.0, provisions=2.0, debt=3.0, equity=4.0)
    assert book.balance_residual()[0] == pytest.approx(2.0)


def test_charge_pays_cash_out_of_equity_and_keeps_the_identity() -> None:
    """Charging 5 to lender 0 and 3 and 1 to lenders 1 and 2 lowers cash, equity and profit."""
    book = _consistent_book()
    book.charge(0, 5.0)
    book.charge(np.array([1, 2]), np.array([3.0, 1.0]))
    np.testing.assert_allclose(book.cash, [45.0, 17.0, 4.0])
    np.testing.assert_allclose(book.equity, [25.0, 47.0, 4.0])
    np.testing.assert_allclose(book.profit_ytd, [-5.0, -3.0, -1.0])
    np.testing.assert_allclose(book.balance_residual(), 0.0, atol=1e-9)


def test_absorb_moves_the_balance_sheet_and_ors_presence() -> None:
    """The acquirer gets the target's columns added, the target is zeroed, totals unchanged."""
    book = _consistent_book()
    book.profit_ytd = np.array([1.0, -2.0, 0.5])
    book.presence[0] = [True, False]
    book.presence[1] = [False, True]
    book.markup = np.array([0.01, 0.03, 0.02])
    before = {name: getattr(book, name).copy() for name in BALANCE_SHEET}
    book.absorb(0, 1)
    for name in BALANCE_SHEET:
        column = getattr(book, name)
        assert column[0] == pytest.approx(before[name][0] + before[name][1]), name
        assert column[1] == 0.0, name
        assert column[2] == before[name][2], name
        assert column.sum() == pytest.approx(before[name].sum()), name
    np.testing.assert_array_equal(book.presence[0], [True, True])
    np.testing.assert_array_equal(book.presence[1], [False, True])  # the target's stays
    np.testing.assert_array_equal(book.markup, [0.01, 0.03, 0.02])  # conduct is not moved
    np.testing.assert_allclose(book.balance_residual(), 0.0, atol=1e-9)


def test_absorb_moves_the_non_performing_book_by_age() -> None:
    """The target's NPLs keep their ages in the acquirer: [1, 2] + [3, 4] = [4, 6]."""
    book = _consistent_book()
    book.npl_by_age[0] = [1.0, 2.0]
    book.npl_by_age[1] = [3.0, 4.0]
    book.npl_originated_by_age[1] = [5.0, 0.0]
    book.absorb(0, 1)
    np.testing.assert_array_equal(book.npl_by_age[0], [4.0, 6.0])
    np.testing.assert_array_equal(book.npl_by_age[1], [0.0, 0.0])
    np.testing.assert_array_equal(book.originated_npl(), [5.0, 0.0, 0.0])


def test_a_default_is_written_off_writeoff_months_later() -> None:
    """With a 3-month write-off, 10 defaulting in month 0 leaves in month 3, not before.

    Months 0-2 write off nothing and hold the 10 at ages 0, 1, 2; month 3 writes it
    off while booking month 3's 7 at age 0.
    """
    aged = np.zeros((1, 3))
    left = [LenderBook.age_npl(aged, np.array([x]))[0] for x in (10.0, 0.0, 0.0, 7.0)]
    assert left == [0.0, 0.0, 0.0, 10.0]
    np.testing.assert_array_equal(aged[0], [7.0, 0.0, 0.0])


def test_set_presence_national_is_every_region() -> None:
    """A national lender is present in all five regions and flagged national."""
    book = LenderBook(n_regions=5, writeoff_months=2)
    row = book.add(0, home_region=3)
    book.set_presence(row, national=True, regions_served=1)
    assert book.national[row]
    assert book.presence[row].all()


def test_set_presence_regional_wraps_around_from_home() -> None:
    """Home region 3 of 5, serving 3: regions 3, 4 and 0 (wrapping), nothing else."""
    book = LenderBook(n_regions=5, writeoff_months=2)
    row = book.add(0, home_region=3)
    book.set_presence(row, national=True, regions_served=1)
    book.set_presence(row, national=False, regions_served=3)
    assert not book.national[row]
    np.testing.assert_array_equal(book.presence[row], [True, False, False, True, True])


def test_set_presence_serving_more_regions_than_exist() -> None:
    """Serving 7 regions of 4 means every region once (the count is capped at 4)."""
    book = LenderBook(n_regions=4, writeoff_months=2)
    row = book.add(0, home_region=2)
    book.set_presence(row, national=False, regions_served=7)
    assert not book.national[row]
    assert book.presence[row].all()


def test_set_presence_touches_only_its_row() -> None:
    """Setting one lender's presence leaves another lender's presence alone."""
    book = LenderBook(n_regions=3, writeoff_months=2)
    other = book.add(0, home_region=0)
    row = book.add(0, home_region=1)
    book.set_presence(other, national=False, regions_served=1)
    book.set_presence(row, national=True, regions_served=1)
    np.testing.assert_array_equal(book.presence[other], [True, False, False])


def _servicing_book() -> LenderBook:
    """One lender: cash 20, loans 1000 (npl 40), provisions 30, debt 790, equity 200.

    Identity: 20 + 1000 - 30 = 990 = 790 + 200. Operating cost 0.12 at technology
    0.5, so the effective rate is 0.12 x (1 - 0.3 x 0.5) = 0.102. Write-off after
    2 months: the 40 of NPL defaulted 2 months ago, so it is written off now.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(
        0,
        cash=20.0,
        loans=1000.0,
        npl=40.0,
        provisions=30.0,
        debt=790.0,
        equity=200.0,
        operating_cost=0.12,
        technology=0.5,
    )
    book.npl_by_age[0] = [0.0, 40.0]
    book.npl_originated_by_age[0] = [0.0, 40.0]
    return book


FLOWS = ServicingFlows(
    interest=np.array([12.0]),
    principal=np.array([60.0]),
    new_npl=np.array([30.0]),
    matured=3,
    defaulted=np.array([30.0]),
    expected_defaults=np.array([20.0]),
)


def test_book_servicing_by_hand() -> None:
    """A month of servicing at recovery 0.25, funding 6 %, provisions 2 %, computed by hand.

    loans = 1000 - 60 - 40 = 900; npl = 40 + 30 - 40 = 30;
    cash before costs = 20 + 60 + 12 + 0.25 x 40 = 102;
    funding = 790 x 0.06 / 12 = 3.95; opex = 0.102 x 900 / 12 = 7.65;
    provisions after the write-off = 30 - 0.75 x 40 = 0, target = 0.02 x (900 - 30)
    + 0.75 x 30 = 39.9, so the provision charge is 39.9;
    P&L = 12 - 3.95 - 7.65 - 39.9 = -39.5; equity = 200 - 39.5 = 160.5;
    cash = 102 - 3.95 - 7.65 = 90.4.
    """
    book = _servicing_book()
    book.book_servicing(
        FLOWS, recovery_rate=0.25, funding_rate=np.array([0.06]), provision_rate=0.02
    )
    assert book.loans[0] == pytest.approx(900.0)
    assert book.npl[0] == pytest.approx(30.0)
    assert book.provisions[0] == pytest.approx(39.9)
    assert book.cash[0] == pytest.approx(90.4)
    assert book.equity[0] == pytest.approx(160.5)
    assert book.profit_ytd[0] == pytest.approx(-39.5)
    assert book.debt[0] == 790.0
    np.testing.assert_allclose(book.npl_by_age[0], [30.0, 0.0])
    # the year's book moves a twelfth of the way to this month's: 0 + (900 - 0) / 12
    assert book.loans_trend[0] == pytest.approx(75.0)
    np.testing.assert_allclose(book.originated_npl(), [30.0])


def test_book_servicing_keeps_the_balance_identity() -> None:
    """After servicing, cash + loans - provisions == debt + equity (90.4 + 900 - 39.9 = 950.5)."""
    book = _servicing_book()
    book.book_servicing(
        FLOWS, recovery_rate=0.25, funding_rate=np.array([0.06]), provision_rate=0.02
    )
    assert book.balance_residual()[0] == pytest.approx(0.0, abs=1e-9)


def test_book_servicing_quiet_month_only_costs() -> None:
    """No flows, no npl, provisions already at target: the P&L is -(funding + opex).

    Loans 1200, provisions 0.02 x 1200 = 24, debt 600 at 12 %: funding 6;
    opex 0.05 x 1200 / 12 = 5 (technology 0); equity 600 - 11 = 589, cash 24 - 11 = 13.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(
        0, cash=24.0, loans=1200.0, provisions=24.0, debt=600.0, equity=600.0, operating_cost=0.05
    )
    zero = np.zeros(1)
    flows = ServicingFlows(zero, zero, zero, 0, zero, zero)
    book.book_servicing(
        flows, recovery_rate=0.4, funding_rate=np.array([0.12]), provision_rate=0.02
    )
    assert book.provisions[0] == pytest.approx(24.0)
    assert book.equity[0] == pytest.approx(589.0)
    assert book.cash[0] == pytest.approx(13.0)
    assert book.balance_residual()[0] == pytest.approx(0.0, abs=1e-9)


def test_rebalance_funding_by_hand() -> None:
    """Borrowing up to and repaying down to a 5 % buffer on loans of 1000 (50 of cash).

    * cash -30, debt 500: borrow 80, so debt 580 and cash 50;
    * cash 250, debt 300: repay the 200 above the buffer, so debt 100 and cash 50;
    * cash 250, debt 120: repay all 120, so debt 0 and cash 130.
    """
    book = LenderBook(n_regions=1, writeoff_months=2)
    book.add(0, loans=1000.0, cash=-30.0, debt=500.0, equity=470.0)
    book.add(0, loans=1000.0, cash=250.0, debt=300.0, equity=950.0)
    book.add(0, loans=1000.0, cash=250.0, debt=120.0, equity=1130.0)
    book.rebalance_funding(0.05)
    np.testing.assert_allclose(book.debt, [580.0, 100.0, 0.0])
    np.testing.assert_allclose(book.cash, [50.0, 50.0, 130.0])
    np.testing.assert_allclose(book.equity, [470.0, 950.0, 1130.0])
    np.testing.assert_allclose(book.balance_residual(), 0.0, atol=1e-9)
