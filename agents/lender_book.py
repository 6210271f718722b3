"""Lenders' numeric state as columns: one numpy array per variable, one row per lender.

Every lender that ever existed keeps its row (exited and acquired lenders
stay, marked inactive), so lender ids are row numbers and never reused. Each
column is declared once below with its dtype; reading one (``book.loans``)
gives the live rows ``0..n-1`` as a view, so ``book.loans[row]`` is one
lender's value and ``book.loans += x`` updates every lender in place.

Balance sheet of every row, in CNY, kept as an identity every month::

    cash + loans - provisions == debt + equity

``loans`` is the gross balance the lender funds (its own part of the loans it
originates plus its part of loans it co-funds for a platform); ``npl`` is the
non-performing part of it, kept by age in ``npl_by_age`` (column ``k``: the
balance that defaulted ``k`` months before this one) until it is written off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.loan_table import NO_LENDER
from sim.finance import effective_operating_cost

if TYPE_CHECKING:
    from agents.borrowers import ServicingFlows


LOSS_MEMORY_MONTHS = 24  # calibration assumption: lenders weigh about two years of defaults
LOSS_PRIOR = 0.01  # calibration assumption: credibility of one year at a 1 % default rate
LOSS_FACTOR_RANGE = (0.5, 3.0)  # calibration assumption: bounds on the learnt correction


class Column:
    """A column of the book: storage grows with the book, reads give the live rows."""

    def __init__(self, dtype: type, doc: str, width: str | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.__doc__ = doc
        self.width = width  # name of the book attribute giving a second dimension

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, book: LenderBook | None, owner: type) -> Any:
        if book is None:
            return self
        return book.storage[self.name][: book.n]

    def __set__(self, book: LenderBook, value: Any) -> None:
        book.storage[self.name][: book.n] = value

    def allocate(self, book: LenderBook, rows: int) -> np.ndarray:
        """Zeroed storage for ``rows`` lenders."""
        shape = (rows, getattr(book, self.width)) if self.width else (rows,)
        return np.zeros(shape, dtype=self.dtype)


class LenderBook:
    """Column store of all lenders, growing as lenders enter."""

    # balance sheet and flows, CNY
    cash = Column(np.float64, "cash held, CNY")
    loans = Column(np.float64, "gross loans funded, CNY")
    provisions = Column(np.float64, "loan-loss provisions, CNY")
    debt = Column(np.float64, "borrowed funds, CNY")
    equity = Column(np.float64, "equity capital, CNY")
    npl = Column(np.float64, "non-performing part of loans, CNY")
    npl_by_age = Column(
        np.float64, "[lender, months since default] NPL it funds, CNY", width="writeoff_months"
    )
    npl_originated_by_age = Column(
        np.float64, "[lender, months since default] NPL it originated, CNY", width="writeoff_months"
    )
    npl_ratio_trend = Column(np.float64, "NPL ratio smoothed over about a year")
    loans_trend = Column(np.float64, "gross loans funded, smoothed over about a year, CNY")
    defaults_seen = Column(np.float64, "defaulted balance, decayed over about two years, CNY")
    defaults_expected = Column(np.float64, "what its PD estimates expected of it, likewise")
    profit_ytd = Column(np.float64, "profit since January, CNY")
    profit_last_year = Column(np.float64, "last calendar year's profit, CNY")
    # costs, technology and conduct
    funding_spread = Column(np.float64, "annual cost of funds over the one-year LPR")
    fixed_cost = Column(np.float64, "yearly fixed cost (licence, staff, systems), CNY")
    cost_of_equity = Column(np.float64, "return on equity its owners require, annual")
    operating_cost = Column(np.float64, "annual operating cost per unit of balance")
    technology = Column(np.float64, "risk-model technology, 0-1")
    online_capability = Column(np.float64, "share of business it can take online, 0-1")
    risk_appetite = Column(np.float64, "highest annual PD it approves")
    markup = Column(np.float64, "markup over costs, annual")
    capital_charge = Column(np.float64, "markup add-on for a thin capital cushion, annual")
    business_discount = Column(np.float64, "rate cut on business loans (inclusive lending)")
    business_lending = Column(np.float64, "business-segment lending since January, CNY")
    business_lending_last = Column(np.float64, "business-segment lending last year, CNY")
    brand = Column(np.float64, "visibility to borrowers, relative")
    # identity, reach and supervision
    type_code = Column(np.int64, "index of the lender type in LENDER_TYPES")
    home_region = Column(np.int64, "home province")
    partner = Column(np.int64, "co-lending partner bank, or NO_LENDER")
    months_below = Column(np.int64, "consecutive months below the capital requirement")
    years_below_coe = Column(np.int64, "consecutive years with ROE below the cost of equity")
    deal_year = Column(np.int64, "last year it bought a lender")
    caught_until = Column(np.int64, "month until which an inspected breach deters overshooting")
    entry_month = Column(np.int64, "month the lender entered")
    active = Column(bool, "still in the market")
    national = Column(bool, "licensed and present in every region")
    capacity_bound = Column(bool, "turned an applicant away for lack of room this month")
    presence = Column(bool, "[lender, region] physical presence", width="n_regions")

    def __init__(self, n_regions: int, writeoff_months: int, capacity: int = 64) -> None:
        self.n = 0
        self.n_regions = n_regions
        self.writeoff_months = writeoff_months
        self._capacity = capacity
        self.storage = {c.name: c.allocate(self, capacity) for c in self.columns()}

    @classmethod
    def columns(cls) -> list[Column]:
        """Every declared column."""
        return [v for v in vars(cls).values() if isinstance(v, Column)]

    def _grow(self) -> None:
        new = self._capacity * 2
        for column in self.columns():
            grown = column.allocate(self, new)
            grown[: self.n] = self.storage[column.name][: self.n]
            self.storage[column.name] = grown
        self._capacity = new

    def add(self, type_code: int, **values: float | int | bool) -> int:
        """Append a lender; return its id (row). Unnamed columns start at zero."""
        if self.n == self._capacity:
            self._grow()
        row = self.n
        self.n += 1
        self.type_code[row] = type_code
        self.partner[row] = NO_LENDER
        self.active[row] = True
        for name, value in values.items():
            self.storage[name][row] = value
        return row

    def rows(self, type_code: int, active_only: bool = True) -> np.ndarray:
        """Ids of the lenders of one type (the active ones by default), ascending."""
        mask = self.of_type(type_code)
        return np.flatnonzero(mask & self.active if active_only else mask)

    def of_type(self, type_code: int) -> np.ndarray:
        """Which lenders are of one type (active or not)."""
        return self.type_code == type_code

    def per_lender(self, by_type: np.ndarray) -> np.ndarray:
        """A per-type value (indexed by type code) for every lender."""
        return by_type[self.type_code]

    def capital_ratio(self) -> np.ndarray:
        """Equity / loans per lender; infinite for a lender without loans."""
        loans = self.loans
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(loans > 0, self.equity / loans, np.inf)

    def balance_residual(self) -> np.ndarray:
        """``cash + loans - provisions - debt - equity`` per lender; zero when consistent."""
        return self.cash + self.loans - self.provisions - self.debt - self.equity

    def charge(self, rows: np.ndarray | int, amount: np.ndarray | float) -> None:
        """A cost paid in cash out of equity (technology, penalties)."""
        self.cash[rows] -= amount
        self.equity[rows] -= amount
        self.profit_ytd[rows] -= amount

    def absorb(self, acquirer: int, target: int) -> None:
        """Move ``target``'s balance sheet, presence and experience into ``acquirer``'s."""
        total = self.loans[acquirer] + self.loans[target]
        if total > 0:  # the NPL trend of the merged book, weighted by loans
            self.npl_ratio_trend[acquirer] = (
                self.npl_ratio_trend[acquirer] * self.loans[acquirer]
                + self.npl_ratio_trend[target] * self.loans[target]
            ) / total
        for column in (
            self.cash,
            self.loans,
            self.loans_trend,
            self.provisions,
            self.debt,
            self.equity,
            self.npl,
            self.npl_by_age,
            self.npl_originated_by_age,
            self.profit_ytd,
            self.defaults_seen,
            self.defaults_expected,
            self.business_lending,
            self.business_lending_last,
        ):
            column[acquirer] += column[target]
            column[target] = 0.0
        self.presence[acquirer] |= self.presence[target]

    def close_year(self) -> None:
        """January: this year's profit and business lending become last year's."""
        self.profit_last_year = self.profit_ytd
        self.profit_ytd = 0.0
        self.business_lending_last = self.business_lending
        self.business_lending = 0.0

    def set_presence(self, row: int, national: bool, regions_served: int) -> None:
        """Present in every region, or in ``regions_served`` regions from its home one."""
        self.national[row] = national
        if national:
            self.presence[row] = True
            return
        served = (self.home_region[row] + np.arange(min(regions_served, self.n_regions))) % (
            self.n_regions
        )
        self.presence[row] = False
        self.presence[row, served] = True

    def book_servicing(
        self,
        flows: ServicingFlows,
        recovery_rate: float,
        funding_rate: np.ndarray,
        provision_rate: float,
    ) -> None:
        """Book a month of servicing, funding, variable and fixed operating costs and provisions.

        The month's defaults join the non-performing book; what has been
        non-performing for ``writeoff_months`` is written off (the recovered part
        comes back in cash). Provisions are reset to ``provision_rate`` of
        performing loans plus the unrecovered part of non-performing ones; the
        change is a cost.
        """
        written_off = self.age_npl(self.npl_by_age, flows.new_npl)
        self.age_npl(self.npl_originated_by_age, flows.defaulted)
        self.loans -= flows.principal + written_off
        self.npl = self.npl_by_age.sum(axis=1)
        self.cash += flows.principal + flows.interest + recovery_rate * written_off
        self.provisions -= (1.0 - recovery_rate) * written_off
        funding = self.debt * funding_rate / 12.0
        opex = effective_operating_cost(self.operating_cost, self.technology) * self.loans / 12.0
        opex = opex + self.fixed_cost * self.active / 12.0  # a lender winding down has none
        target = provision_rate * (self.loans - self.npl) + (1 - recovery_rate) * self.npl
        provision_charge = target - self.provisions
        self.provisions = target
        with np.errstate(divide="ignore", invalid="ignore"):
            npl_ratio = np.where(self.loans > 0, self.npl / self.loans, 0.0)
        self.npl_ratio_trend += (npl_ratio - self.npl_ratio_trend) / 12.0
        self.loans_trend += (self.loans - self.loans_trend) / 12.0
        decay = 1.0 - 1.0 / LOSS_MEMORY_MONTHS
        self.defaults_seen = decay * self.defaults_seen + flows.defaulted
        self.defaults_expected = decay * self.defaults_expected + flows.expected_defaults
        self.cash -= funding + opex
        pnl = flows.interest - funding - opex - provision_charge
        self.equity += pnl
        self.profit_ytd += pnl

    def originated_npl(self) -> np.ndarray:
        """Non-performing balance of the loans each lender originated, CNY."""
        return self.npl_originated_by_age.sum(axis=1)

    @staticmethod
    def age_npl(aged: np.ndarray, new_npl: np.ndarray) -> np.ndarray:
        """Age an NPL-by-age book a month in place, adding ``new_npl``; return what leaves.

        A balance defaulting in month ``t`` is written off in month
        ``t + writeoff_months`` (the book's width).
        """
        written_off = aged[:, -1].copy()
        aged[:, 1:] = aged[:, :-1].copy()
        aged[:, 0] = new_npl
        return written_off

    def loss_factor(self, originated: np.ndarray) -> np.ndarray:
        """What each lender has learnt of its PD estimates: defaults seen / expected.

        Experience rating of its own book: a lender whose borrowers default more
        than it priced (adverse selection, a shock) scales its estimates up. The
        ratio is shrunk toward 1 by ``LOSS_PRIOR`` of the ``originated`` book (the
        loans it screened, co-lent ones in full: credibility) and kept within
        ``LOSS_FACTOR_RANGE``.
        """
        prior = LOSS_PRIOR * np.maximum(originated, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (self.defaults_seen + prior) / (self.defaults_expected + prior)
        return np.clip(np.nan_to_num(ratio, nan=1.0), *LOSS_FACTOR_RANGE)

    def rebalance_funding(self, liquidity_ratio: float) -> None:
        """Borrow to refill cash to ``liquidity_ratio`` x loans; repay debt from cash above that."""
        cash, debt, loans = self.cash, self.debt, self.loans
        shortfall = np.maximum(liquidity_ratio * loans - cash, 0.0)
        excess = np.maximum(cash - liquidity_ratio * loans, 0.0)
        repay = np.minimum(excess, debt)
        debt += shortfall - repay
        cash += shortfall - repay
