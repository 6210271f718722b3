"""The Mesa model of the small-loan market, stepped month by month.

The model builds the parts and schedules them; each decision lives with the
one who makes it: a lender type's in its class (:mod:`agents.lenders`), the
regulator's in :class:`~sim.regulator.Regulator`, matching and booking in
:class:`~sim.market.Market`. Order within a month (docs/ODD.md, "Process
overview and scheduling"):

1. in January: owners' dividends and exits, distressed lenders sold, technology
   investment, entry of new lenders, licence review, co-lending partners,
   large banks' inclusive-lending push;
2. servicing of the loan book: interest, repayment, default, write-off, with
   costs and provisions booked on every lender's balance sheet; existing
   co-lent loans brought up to the minimum own share;
3. state capital support of state-funded lenders (within the yearly budget);
4. inspections ("double random, one public") and penalties;
5. capital check; lenders short for too long are acquired or wound down;
6. each lender prices the thinness of its capital cushion; market clearing:
   demand, search, screening (sharper with the lender's data), pricing, booking;
7. funding rebalanced, markups adapted, the month recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import mesa
import numpy as np

from agents.borrowers import BorrowerPopulation
from agents.lender_book import LenderBook
from agents.lenders import LENDER_CLASSES, Lender
from sim.calendar import month_of_year, month_year, parse_month
from sim.config import SimConfig
from sim.diagnostics import RunDiagnostics
from sim.entry import initial_lenders, yearly_entrants
from sim.market import LIQUIDITY_RATIO, Market
from sim.recorder import Recorder
from sim.regulator import Regulator

EVENTS = ("entries", "exits", "acquisitions", "deals_blocked", "inspections", "penalties")
"""What the month counts (penalties in CNY)."""

TypeAction = Callable[[type[Lender], np.ndarray], None]


class MarketModel(mesa.Model):
    """Lenders (Mesa agents), a vectorised borrower population, a regulator and a market."""

    population_class: ClassVar[type] = BorrowerPopulation
    """Builds the borrowers (``for_model(model)``); the per-agent benchmark brings its own."""
    market_class: ClassVar[type[Market]] = Market
    """Builds and clears the monthly market; the per-agent benchmark brings its own."""

    def __init__(self, cfg: SimConfig) -> None:
        """Build the market of ``cfg``'s start month."""
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.start = parse_month(cfg.market.start)
        self.end = parse_month(cfg.market.end)
        self.month = self.start
        self.months = list(range(self.start, self.end + 1))
        self.events: dict[str, float] = dict.fromkeys(EVENTS, 0)
        self.regulator = Regulator(self)
        self.book = LenderBook(cfg.market.n_regions, cfg.market.writeoff_months)
        self.population = self.population_class.for_model(self)
        self.recorder = Recorder(self.months)
        self.lenders_by_id: dict[int, Lender] = {}
        self.market = self.market_class(self)
        self.market.book_initial_loans(initial_lenders(self))
        self._review_licences_and_partners(enforce=False)  # licensed at the start
        self.recorder.record_opening(self)
        self.diagnostics = RunDiagnostics(self)  # logs warnings about extreme markets

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one month."""
        self.regulator.update()
        self.events = dict.fromkeys(EVENTS, 0)
        if month_of_year(self.month) == 1 and self.month != self.start:
            self._new_year()
        self.market.service_loans()
        self.market.enforce_own_share()
        self.regulator.support_state_lenders()
        self.regulator.inspect(self.regulator.lending_limits())
        self.regulator.check_capital()
        self._inclusive_push()
        self._price_capital()
        tallies = self.market.lend(self.regulator.lending_limits())
        self.book.rebalance_funding(LIQUIDITY_RATIO)
        self._adapt_markups()
        self.recorder.record_month(self, tallies)
        self.diagnostics.after_month()
        self.month += 1

    def run(self, progress: Callable[[int, int, int], None] | None = None) -> Recorder:
        """Step through every month; ``progress(done, total, month)`` is called monthly."""
        total = len(self.months)
        while self.month <= self.end:
            self.step()
            if callable(progress):
                progress(self.month - self.start, total, self.month - 1)
        return self.recorder

    # -------------------------------------------------------------- schedule
    def _new_year(self) -> None:
        """January: exits and sales, technology, entry, licences, partners, inclusive push."""
        self.regulator.review_owners_exits()
        self.regulator.sell_weak_lenders()
        subsidy = self.regulator.path("tech_subsidy", month_year(self.month))
        behaviour = self.cfg.behaviour
        self._each_type(
            lambda cls, rows: cls.invest_in_technology(self.book, rows, subsidy, behaviour)
        )
        yearly_entrants(self)
        self.book.close_year()
        self._review_licences_and_partners()

    def _review_licences_and_partners(self, enforce: bool = True) -> None:
        """Licence review (lenders losing a licence leave, unless ``enforce`` is off), partners."""
        levers, lenders, scale = self.regulator.levers, self.cfg.lenders, self.market.money_scale
        revoked: list[int] = []
        self._each_type(
            lambda cls, rows: revoked.extend(
                cls.review_licences(
                    self.book, rows, levers, lenders[cls.lender_type], enforce, scale
                )
            )
        )
        for row in sorted(revoked):
            self.regulator.revoke_licence(int(row))
        self._each_type(lambda cls, rows: cls.choose_partners(self.book, rows, self.rng))

    def _adapt_markups(self) -> None:
        (share, online), behaviour = self.market.lending_shares(), self.cfg.behaviour
        self._each_type(
            lambda cls, rows: cls.adapt_markups(self.book, rows, share, online, behaviour)
        )

    def _price_capital(self) -> None:
        """Each lender prices the thinness of its capital cushion into this month's offers."""
        target, (min_ratio, _) = self.regulator.capital_levels(1.0), self.regulator.requirements()
        price = self.cfg.behaviour.capital_charge
        self._each_type(
            lambda cls, rows: cls.price_capital(self.book, rows, target, min_ratio, price)
        )

    def _inclusive_push(self) -> None:
        """Large banks set their inclusive-lending push on the year's lending so far."""
        target = self.regulator.path("inclusive_lending_target", month_year(self.month))
        elapsed = month_of_year(self.month) - 1
        if elapsed == 0:  # January: keep last year's push until this year's lending shows
            return
        book, behaviour = self.book, self.cfg.behaviour
        self._each_type(
            lambda cls, rows: cls.set_inclusive_push(book, rows, target, elapsed / 12, behaviour)
        )

    def _each_type(self, action: TypeAction) -> None:
        """Apply a type's decision to that type's active lenders, type by type."""
        for cls in LENDER_CLASSES.values():
            action(cls, self.book.rows(cls.type_code))
