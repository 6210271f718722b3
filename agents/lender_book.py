"""Lenders' numeric state as columns: one numpy array per variable, one row per lender.

Every lender that ever existed keeps its row (exited and acquired lenders
stay, marked inactive), so lender ids are row numbers and never reused. The
Mesa agents in :mod:`agents.lenders` read and write their own row; the market
clearing reads whole columns at once.

Balance sheet of every row, in CNY, kept as an identity every month::

    cash + loans - provisions == debt + equity

``loans`` is the gross balance the lender funds (its own part of the loans it
originates plus its part of loans it co-funds for a platform); ``npl`` is the
non-performing part of it.
"""

from __future__ import annotations

import numpy as np

from sim.config import LENDER_TYPES

FLOAT_COLUMNS = (
    "cash",
    "loans",
    "provisions",
    "debt",
    "equity",
    "npl",
    "funding_cost",
    "operating_cost",
    "technology",
    "online_capability",
    "risk_appetite",
    "markup",
    "brand",
    "profit_ytd",
    "co_funded",
)
INT_COLUMNS = ("type_code", "home_region", "partner", "months_below", "caught_until", "entry_month")
BOOL_COLUMNS = ("active", "national", "capacity_bound", "adapts_markup")


class LenderBook:
    """Column store of all lenders, growing as lenders enter."""

    def __init__(self, n_regions: int, capacity: int = 64) -> None:
        self.n = 0
        self.n_regions = n_regions
        self._capacity = capacity
        for name in FLOAT_COLUMNS:
            setattr(self, name, np.zeros(capacity))
        for name in INT_COLUMNS:
            setattr(self, name, np.zeros(capacity, dtype=np.int64))
        for name in BOOL_COLUMNS:
            setattr(self, name, np.zeros(capacity, dtype=bool))
        self.presence = np.zeros((capacity, n_regions), dtype=bool)

    def _grow(self) -> None:
        new = self._capacity * 2
        for name in (*FLOAT_COLUMNS, *INT_COLUMNS, *BOOL_COLUMNS):
            old = getattr(self, name)
            grown = np.zeros(new, dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)
        presence = np.zeros((new, self.n_regions), dtype=bool)
        presence[: self.n] = self.presence[: self.n]
        self.presence = presence
        self._capacity = new

    def add(self, lender_type: str, **values: float | int | bool) -> int:
        """Append a lender; return its id (row). Unnamed columns start at zero."""
        if self.n == self._capacity:
            self._grow()
        row = self.n
        self.n += 1
        self.type_code[row] = LENDER_TYPES.index(lender_type)
        self.partner[row] = -1
        self.active[row] = True
        for name, value in values.items():
            getattr(self, name)[row] = value
        return row

    def view(self, name: str) -> np.ndarray:
        """The live part (rows ``0..n-1``) of a column."""
        return getattr(self, name)[: self.n]

    def balance_residual(self) -> np.ndarray:
        """``cash + loans - provisions - debt - equity`` per lender; zero when consistent."""
        v = self.view
        return v("cash") + v("loans") - v("provisions") - v("debt") - v("equity")

    def rebalance_funding(self, liquidity_ratio: float) -> None:
        """Borrow to cover negative cash; repay debt from cash above the liquidity buffer."""
        n = self.n
        cash, debt, loans = self.cash[:n], self.debt[:n], self.loans[:n]
        shortfall = np.maximum(liquidity_ratio * loans - cash, 0.0)
        excess = np.maximum(cash - liquidity_ratio * loans, 0.0)
        repay = np.minimum(excess, debt)
        debt += shortfall - repay
        cash += shortfall - repay
