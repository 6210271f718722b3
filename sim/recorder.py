"""Monthly records of the market and of every lender, preallocated.

Market figures go into one preallocated array per field; per-lender figures
into one row per month of a preallocated matrix that grows (by doubling) in
its lender dimension when lenders enter. Money is in CNY here; the tables
convert to the report's unit (100 million CNY).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.lenders import LENDER_TYPES
from sim.clearing import UNMET_REASONS
from sim.config import SEGMENTS

if TYPE_CHECKING:
    from sim.model import MarketModel
    from sim.regulator import Exit

RATE_BIN = 0.001  # new-loan rates are recorded in bins of 0.1 percentage point
RATE_BINS = 1000  # up to 100 % a year (higher rates fall in the last bin)

MARKET_FIELDS = (
    "lending",
    "lending_online",
    "rate_x_lending",
    "pd_x_lending",  # new lending x the borrower's annual PD (the default rate of new loans)
    "demand",
    "unmet",
    "applicants",
    "served",
    "outstanding",
    "npl",
    "n_active",
    "entries",
    "exits",
    "acquisitions",
    "deals_blocked",
    "inspections",
    "penalties",
    *(f"demand_{s}" for s in SEGMENTS),
    *(f"lending_{s}" for s in SEGMENTS),
    *(f"unmet_{s}" for s in SEGMENTS),
    *(f"unmet_{r}" for r in UNMET_REASONS),
)
LENDER_FIELDS = (
    "outstanding",  # by originator
    "funded",  # gross loans on the lender's balance sheet (by funder)
    "new_lending",  # originated this month
    "new_funded",  # funded this month (own part + co-funded part)
    "rate_x_lending",
    "npl",  # non-performing part of funded loans
    "equity",
    "profit",  # profit since January (December's: the year's)
    "active",
    "technology",
    "markup",
    "online_capability",
)


class Recorder:
    """Holds every monthly figure of one run."""

    def __init__(self, months: list[int], lender_capacity: int = 64) -> None:
        self.months = np.array(months)
        n = len(months)
        self.market = {name: np.zeros(n) for name in MARKET_FIELDS}
        self._lender_capacity = lender_capacity
        self.lenders = {name: np.zeros((n, lender_capacity)) for name in LENDER_FIELDS}
        self.n_lenders = 0
        self.rate_volume = np.zeros((n, len(LENDER_TYPES), RATE_BINS))  # CNY by rate bin
        self.opening_outstanding = np.zeros(0)  # by originator, before the first month
        self.exits: list[Exit] = []

    def _ensure(self, n_lenders: int) -> None:
        if n_lenders <= self._lender_capacity:
            return
        new = max(n_lenders, 2 * self._lender_capacity)
        for name, old in self.lenders.items():
            grown = np.zeros((old.shape[0], new))
            grown[:, : old.shape[1]] = old
            self.lenders[name] = grown
        self._lender_capacity = new

    def record(self, t: int, market: dict[str, float], lenders: dict[str, np.ndarray]) -> None:
        """Store month ``t``'s figures (``t`` counts from 0)."""
        for name, value in market.items():
            self.market[name][t] = value
        n = max(len(v) for v in lenders.values())
        self._ensure(n)
        self.n_lenders = max(self.n_lenders, n)
        for name, values in lenders.items():
            self.lenders[name][t, : values.size] = values

    def lender_matrix(self, name: str) -> np.ndarray:
        """``[month, lender]`` matrix of a lender field (lenders not yet entered are 0)."""
        return self.lenders[name][:, : self.n_lenders]

    def record_opening(self, model: MarketModel) -> None:
        """Store the opening book (the market before its first month)."""
        self.opening_outstanding = model.market.outstanding_by_originator()
        self.exits = model.regulator.exits  # the regulator's own record, read at the end

    def record_month(self, model: MarketModel, tallies: dict[str, float]) -> None:
        """Store the month ``model`` has just simulated: its market tallies and every lender."""
        book, market = model.book, model.market
        t = model.month - model.start
        self.rate_volume[t] = market.rate_volume
        performing, performing_funded = model.population.outstanding_by(book.n)
        by_originator = performing + book.originated_npl()  # gross: NPLs included
        by_funder = performing_funded + book.npl
        figures = {
            **tallies,
            "outstanding": float(by_originator.sum()),
            "npl": float(book.npl.sum()),
            "n_active": float(book.active.sum()),
            **{name: float(count) for name, count in model.events.items()},
        }
        self.record(
            t,
            figures,
            {
                "outstanding": by_originator,
                "funded": by_funder,
                "new_lending": market.new_originated,
                "new_funded": market.new_funded,
                "rate_x_lending": market.rate_x_new,
                "npl": book.npl.copy(),
                "equity": book.equity.copy(),
                "profit": book.profit_ytd.copy(),
                "active": book.active.astype(float),
                "technology": book.technology.copy(),
                "markup": book.markup.copy(),
                "online_capability": book.online_capability.copy(),
            },
        )
