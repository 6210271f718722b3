"""Loans as cohorts: a month's defaults are the hazard's fraction of each balance.

A simulated borrower stands for ``weight`` real ones, so its loan is a cohort of
real loans: each month the fraction ``hazard`` of the balance defaults and the
rest pays. The numbers here are worked out by hand in each docstring.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.borrowers import BorrowerPopulation
from agents.loan_table import NO_LENDER
from sim.entry import representative_sizes
from sim.finance import monthly_hazard
from sim.market import money_scale
from tests.conftest import compose_config


def _population(n: int = 4) -> BorrowerPopulation:
    """A small population of the default market, drawn from a fixed generator."""
    cfg = compose_config(f"market.n_borrowers={n}")
    return BorrowerPopulation(cfg.market, np.random.default_rng(0))


def _one_loan(pop: BorrowerPopulation, pd: float, months: int) -> None:
    """Borrower 0 borrows 1,200 CNY at 12 % for ``months`` months from lender 0."""
    pop.book(
        np.array([0]),
        lender=np.array([0]),
        funder=np.array([NO_LENDER]),
        own_share=np.array([1.0]),
        amount=np.array([1200.0]),
        rate=np.array([0.12]),
        online=np.array([False]),
        pd=np.array([pd]),
        months_left=np.array([months]),
    )


def test_a_month_of_a_cohort_loan_by_hand() -> None:
    """PD such that the monthly hazard is 1 %: of 1,200, 12 defaults and 1,188 pays.

    Payment 1,200 / 12 = 100, scaled by the survivors to 99; interest 1,188 x 0.12 / 12
    = 11.88; balance after 1,188 - 99 = 1,089; all per real borrower, times the weight.
    """
    pop = _population()
    pd = 1.0 - 0.99**12  # monthly hazard 0.01
    _one_loan(pop, pd, 12)
    assert monthly_hazard(np.array([pd]))[0] == pytest.approx(0.01)
    flows = pop.service(1, np.ones(1), 0.0, np.random.default_rng(1))
    w = pop.weight
    assert flows.defaulted[0] == pytest.approx(12.0 * w)
    assert flows.new_npl[0] == pytest.approx(12.0 * w)
    assert flows.expected_defaults[0] == pytest.approx(12.0 * w)
    assert flows.interest[0] == pytest.approx(11.88 * w)
    assert flows.principal[0] == pytest.approx(99.0 * w)
    assert pop.balance[0] == pytest.approx(1089.0)
    assert pop.lender[0] == 0 and flows.matured == 0


def test_a_shock_multiplies_the_fraction_defaulting_and_caps_it_at_one() -> None:
    """Hazard 1 % x 3 = 3 % of 1,200 = 36 defaults; x 500 would be 500 %: all 1,200 default."""
    for multiplier, defaulted in ((3.0, 36.0), (500.0, 1200.0)):
        pop = _population()
        _one_loan(pop, 1.0 - 0.99**12, 12)
        flows = pop.service(1, np.array([multiplier]), 0.0, np.random.default_rng(1))
        assert flows.defaulted[0] == pytest.approx(defaulted * pop.weight)
    assert pop.lender[0] == NO_LENDER  # nothing left to pay: the loan closed


def test_the_loan_repays_in_full_at_maturity_whatever_defaulted() -> None:
    """A 2-month loan at hazard 1 %: month 1 pays 600 x 0.99 = 594 of the 1,188 still
    paying; month 2 the survivors' whole balance, 594 x 0.99 = 588.06, and the loan closes.
    """
    pop = _population()
    _one_loan(pop, 1.0 - 0.99**12, 2)
    pop.service(1, np.ones(1), 0.0, np.random.default_rng(1))
    assert pop.balance[0] == pytest.approx(1200.0 * 0.99 - 600.0 * 0.99)
    flows = pop.service(1, np.ones(1), 0.0, np.random.default_rng(2))
    assert flows.principal[0] == pytest.approx((1188.0 - 594.0) * 0.99 * pop.weight)
    assert flows.matured == 1 and pop.lender[0] == NO_LENDER


def test_representative_sizes_are_the_lognormal_quantiles() -> None:
    """Two lenders at sigma 1: the quartiles, z = +-0.674490, so e^0.674490 = 1.963031 and
    e^-0.674490 = 0.509416, largest first.
    """
    np.testing.assert_allclose(representative_sizes(2, 1.0), [1.963031, 0.509416], rtol=1e-6)
    assert representative_sizes(1, 1.8).tolist() == [1.0]  # the median


def test_money_scale_is_the_expected_opening_book_over_the_real_balance() -> None:
    """One segment of 100 million real borrowers, a fifth with a loan of mean 10,000 CNY
    of which 0.55 is still owed: 1.1e11 CNY, against a real balance of 1.1e12: 0.1.
    """
    cfg = compose_config(
        "market.real_borrowers=1e8",
        "market.real_outstanding_cny=1.1e12",
        *(
            f"market.segments.{s}.share={1.0 if s == 'consumer' else 0.0}"
            for s in ("consumer", "sme", "agriculture", "welfare")
        ),
        "market.segments.consumer.initial_loan_share=0.2",
        "market.segments.consumer.loan_mean_cny=10000",
    )
    assert money_scale(cfg.market) == pytest.approx(0.1)
