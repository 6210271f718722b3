"""The regulator: levers in force, capital rules, supervision and resolution of lenders.

Each month the regulator applies the dated changes of the regulation timeline
(:func:`regulation_at`), sets each lender's capital requirement and lending
limit, tops up policy lenders from the state's yearly budget, inspects ("double
random, one public") and fines breaches, and checks capital: a lender short for
``behaviour.exit_months`` months in a row, or with no equity left, is resolved
by acquisition (by the best-fitting healthy bidder of a type allowed to buy it,
where acquisitions are allowed and merger review lets the deal through) or
wound down. Each January it also carries out owners' dividends and exits, puts
distressed lenders up for sale and revokes licences the rules no longer allow.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.lenders import LENDER_CLASSES, LENDER_TYPES, Lender, trait
from agents.loan_table import NO_LENDER
from sim.calendar import month_year, parse_month, path_value
from sim.config import RegulationConfig
from sim.finance import lending_limit, return_on_capital_needed
from sim.metrics import HHI_SCALE, merger_hhi_effect

if TYPE_CHECKING:
    from sim.model import MarketModel

HEALTHY_PART = 0.5  # calibration assumption: healthy with half its owners' buffer or more
WEAK_PART = 0.25  # calibration assumption: weak with less than a quarter of its buffer left
SELLABLE = trait("sellable")
MAY_ACQUIRE = np.array(
    [[t in cls.acquired_by for t in LENDER_TYPES] for cls in LENDER_CLASSES.values()]
)  # [target type, acquirer type]


EXIT_CAUSES = ("failed", "voluntary", "licence_lost", "acquired_failing", "acquired_distressed")
"""How a lender left: wound down when failing (capital short too long or none left)
and nobody bought it; wound down by its owners when its return stayed below their
cost of equity; wound down for want of the capital its licence needs; bought when
failing (capital short too long or none left, or below its requirement when sold);
bought when distressed (in loss, short of a capital buffer, its owners leaving, or
its licence lost, with its capital requirement still met)."""


@dataclass(frozen=True)
class Exit:
    """One lender leaving the market."""

    month: int  # the model month it left in
    lender: int
    cause: str  # one of EXIT_CAUSES
    acquirer: int  # NO_LENDER when wound down
    hhi_effect: float  # static merger effect on HHI (outstanding), 0 when wound down


def cleared_by_review(
    hhi_now: float, rise: np.ndarray, max_hhi: float, max_rise: float
) -> np.ndarray:
    """Deals merger review lets through (the 2023 US Merger Guidelines' presumption).

    A deal passes with a post-merger HHI of at most ``max_hhi``, or a rise of at
    most ``max_rise``.
    """
    return (hhi_now + rise <= max_hhi) | (rise <= max_rise)


def regulation_at(base: RegulationConfig, month: int) -> RegulationConfig:
    """The levers in force in ``month``: every timeline change dated on or before it applied.

    Changes apply in date order (ties in file order). A dotted lever such as
    ``min_capital_ratio.online_platform`` changes one lender type; a path lever
    (``financing_support``) given a number holds that value from its date on.
    """
    reg = copy.deepcopy(base)
    changes = sorted(
        (c for c in base.timeline if parse_month(c["date"]) <= month),
        key=lambda c: parse_month(c["date"]),
    )
    for change in changes:
        for lever, value in change.items():
            if lever == "date":
                continue
            name, _, sub = str(lever).partition(".")
            current = getattr(reg, name)
            if sub:
                current[sub] = value
            elif isinstance(current, dict):
                start = month_year(parse_month(change["date"]))
                for year in [y for y in current if y >= start]:
                    current[year] = value
                current[start] = value
            else:
                setattr(reg, name, value)
    return reg


class Regulator:
    """Applies the regulation of ``model.cfg`` to the lenders of ``model``."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self._in_force: dict[tuple[int, ...], RegulationConfig] = {}
        self.exits: list[Exit] = []  # every resolution, in order
        self._budget_year, self.budget_left = -1, 0.0  # state capital left this year, CNY
        self.levers = self.levers_at(model.month)

    # ------------------------------------------------------------- levers
    def levers_at(self, month: int) -> RegulationConfig:
        """``regulation_at`` for ``month``, built once per distinct set of changes in force.

        The levers depend only on which dated changes apply, so months sharing that
        set share one (never modified) copy.
        """
        base = self.model.cfg.regulation
        applied = tuple(
            i for i, change in enumerate(base.timeline) if parse_month(change["date"]) <= month
        )
        if applied not in self._in_force:
            self._in_force[applied] = regulation_at(base, month)
        return self._in_force[applied]

    def update(self) -> None:
        """Put this month's levers in force."""
        self.levers = self.levers_at(self.model.month)

    def path(self, lever: str, year: int) -> float:
        """This year's value of a yearly path lever (``financing_support`` ...)."""
        return path_value(getattr(self.levers, lever), year)

    # ----------------------------------------------------- requirements
    def requirements(self) -> tuple[np.ndarray, np.ndarray]:
        """Minimum capital ratio and maximum leverage of every lender, by its type."""
        book = self.model.book
        ratio = book.per_lender(np.array([self.levers.min_capital_ratio[t] for t in LENDER_TYPES]))
        leverage = book.per_lender(np.array([self.levers.max_leverage[t] for t in LENDER_TYPES]))
        return ratio, leverage

    def capital_levels(self, part: float) -> np.ndarray:
        """Capital ratio of every lender at ``part`` of its owners' buffer over the requirement.

        ``requirement x (1 + part x (capital_buffer - 1))``: 0 is the requirement,
        1 the capital owners keep for the book (the type's
        ``capital_buffer``); healthy is ``HEALTHY_PART``, weak below ``WEAK_PART``.
        """
        book, lenders = self.model.book, self.model.cfg.lenders
        buffer = book.per_lender(np.array([lenders[t].capital_buffer for t in LENDER_TYPES]))
        min_ratio, _ = self.requirements()
        return min_ratio * (1.0 + part * (buffer - 1.0))

    def lending_limits(self) -> np.ndarray:
        """Largest loan book each lender may hold under its requirements."""
        min_ratio, leverage = self.requirements()
        return lending_limit(self.model.book.equity, min_ratio, leverage)

    def support_state_lenders(self) -> None:
        """The state tops up the equity of the lenders it funds, by their type's rule.

        The top-ups of a year come out of ``state_capital_budget_cny``: when they
        would exceed what is left of it, each is scaled down in proportion.
        """
        model = self.model
        book = model.book
        year = month_year(model.month)
        if year != self._budget_year:
            self._budget_year, self.budget_left = year, self.levers.state_capital_budget_cny
        healthy = self.capital_levels(HEALTHY_PART)
        support = self.path("financing_support", year)
        injection = np.zeros(book.n)
        for cls in LENDER_CLASSES.values():
            rows = book.rows(cls.type_code)
            injection[rows] = cls.capital_support(book, rows, healthy, support)
        wanted = float(injection.sum())
        if wanted > self.budget_left:
            injection *= self.budget_left / wanted
        self.budget_left = max(self.budget_left - float(injection.sum()), 0.0)
        book.equity += injection
        book.cash += injection

    # ------------------------------------------------------ supervision
    def inspect(self, limit: np.ndarray) -> None:
        """Inspect lenders at random; fine those above their limit, deterring them a year."""
        model = self.model
        book, reg = model.book, self.levers
        active = np.flatnonzero(book.active)
        inspected = active[model.rng.random(active.size) < reg.inspection_probability]
        model.events["inspections"] += inspected.size
        breach = inspected[book.loans[inspected] > limit[inspected] * (1 + 1e-9)]
        for row in breach:
            fine = reg.inspection_penalty * max(book.equity[row], 0.0)
            book.charge(int(row), fine)
            book.caught_until[row] = model.month + 12
            model.events["penalties"] += fine

    def check_capital(self) -> None:
        """Count months below requirement; resolve lenders failing or short too long."""
        model = self.model
        book = model.book
        min_ratio, _ = self.requirements()
        short = book.active & (book.capital_ratio() < min_ratio)
        book.months_below = np.where(short, book.months_below + 1, 0)
        failing = book.active & (
            ((book.equity <= 0) & (book.loans > 0))
            | (book.months_below >= model.cfg.behaviour.exit_months)
        )
        for row in np.flatnonzero(failing):
            self.resolve(int(row), unsold="failed")

    def review_owners_exits(self) -> None:
        """January: owners take their dividends, and leave when ROE stays below its cost.

        Each type pays its dividend (``pay_dividends``), then judges last year's
        profit on the capital its business needs (``return_on_capital_needed``:
        the buffer over the requirement on its book) and decides (``decide_exit``);
        a leaving lender is put up for sale with probability ``acquisition_rate``
        and sold if a buyer is found, else wound down.
        """
        model = self.model
        book = model.book
        needed = self.capital_levels(1.0) * Lender.capital_base(book, np.arange(book.n))
        for cls in LENDER_CLASSES.values():
            rows = book.rows(cls.type_code)
            payout = model.cfg.lenders[cls.lender_type].dividend_payout
            cls.pay_dividends(book, rows, needed, payout)
        roe = return_on_capital_needed(book.profit_ytd, book.equity, needed)
        leaving = []
        for cls in LENDER_CLASSES.values():
            rows = book.rows(cls.type_code)
            leaving.extend(cls.decide_exit(book, rows, roe[rows], model.cfg.behaviour.exit_years))
        for row in sorted(leaving):
            if book.active[row]:
                sale = model.rng.random() < model.cfg.behaviour.acquisition_rate
                self.resolve(int(row), unsold="voluntary", sale=sale)

    def revoke_licence(self, row: int) -> None:
        """A lender without the capital its licence needs stops lending and runs its book off.

        Not sold as a going concern: without the licence there is no lending
        business to buy, and its borrowers look for other lenders.
        """
        self.resolve(row, unsold="licence_lost", sale=False)

    def sell_weak_lenders(self) -> None:
        """January: each distressed sellable lender is put up for sale with some probability.

        Distressed: a loss last year, or less than ``WEAK_PART`` of its owners'
        capital buffer left over the requirement (``capital_levels``). A lender
        nobody bids for stays.
        """
        if not self.levers.acquisitions_allowed:
            return
        model = self.model
        book = model.book
        weak = book.active & (
            (book.capital_ratio() < self.capital_levels(WEAK_PART)) | (book.profit_ytd < 0)
        )
        for row in np.flatnonzero(weak & book.per_lender(SELLABLE)):
            if book.active[row] and model.rng.random() < model.cfg.behaviour.acquisition_rate:
                self.resolve(int(row), unsold=None)

    # ------------------------------------------------------- resolution
    def bidders(self, row: int) -> np.ndarray:
        """Lenders that may bid for ``row``, best fit first.

        A bidder is of a type allowed to buy it, healthy before and after the deal,
        larger than the target and has not bought a lender this year. Fit is the
        share of the target's regions the bidder is present in, plus a half for the
        same type, plus a Gumbel draw (what the bidder sees in the deal that the
        model does not): several bidders compete and the best fit wins.
        """
        model = self.model
        book = model.book
        healthy = self.capital_levels(HEALTHY_PART)
        year = month_year(model.month)
        with np.errstate(divide="ignore", invalid="ignore"):
            merged = (book.equity + book.equity[row]) / (book.loans + book.loans[row])
        ok = (
            book.active
            & book.per_lender(MAY_ACQUIRE[book.type_code[row]])
            & (book.capital_ratio() >= healthy)
            & (merged >= healthy)
            & (book.loans > book.loans[row])
            & (book.deal_year != year)
        )
        ok[row] = False
        candidates = np.flatnonzero(ok)
        if candidates.size == 0:
            return candidates
        target_regions = book.presence[row]
        overlap = (book.presence[candidates] & target_regions).sum(axis=1) / max(
            int(target_regions.sum()), 1
        )
        fit = (
            overlap
            + 0.5 * (book.type_code[candidates] == book.type_code[row])
            + model.rng.gumbel(size=candidates.size)
        )
        return candidates[np.argsort(-fit, kind="stable")]

    def acquirer_for(self, row: int, shares: np.ndarray) -> int | None:
        """The best-fitting bidder for ``row`` that merger review lets through, if any.

        Merger review blocks a deal that would take HHI (on outstanding balance)
        above ``merger_review_hhi`` with a rise of more than ``merger_review_delta``;
        the next bidder is then tried. ``shares`` are the lenders' shares of
        outstanding balance now (``_shares``).
        """
        ranked = self.bidders(row)
        if ranked.size == 0:
            return None
        if self.levers.merger_review_hhi >= HHI_SCALE:  # review off: the best fit buys
            return int(ranked[0])
        hhi_now = HHI_SCALE * float(np.sum(shares**2))
        rise = np.array([merger_hhi_effect(shares[a], shares[row]) for a in ranked])
        passes = cleared_by_review(
            hhi_now, rise, self.levers.merger_review_hhi, self.levers.merger_review_delta
        )
        if not passes[0]:
            self.model.events["deals_blocked"] += 1  # the preferred buyer was blocked
        return int(ranked[np.argmax(passes)]) if passes.any() else None

    def _shares(self) -> np.ndarray:
        """Each lender's share of outstanding balance (by originator)."""
        outstanding = self.model.market.outstanding_by_originator()
        total = outstanding[outstanding > 0].sum()
        return outstanding / total if total > 0 else np.zeros_like(outstanding)

    def resolve(self, row: int, unsold: str | None, sale: bool = True) -> bool:
        """Have a bidder buy ``row`` if allowed and possible, else wind it down.

        ``unsold`` is the exit cause when nobody buys it (``failed``, ``voluntary``,
        ``licence_lost``); None means a lender that is only distressed, which stays
        when nobody buys it; without ``sale`` nobody is asked. Returns whether it left.
        """
        model = self.model
        acquirer, shares = None, None
        if sale and self.levers.acquisitions_allowed:
            shares = self._shares()
            acquirer = self.acquirer_for(row, shares)
        if acquirer is None and unsold is None:
            return False
        book = model.book
        if acquirer is not None:
            min_ratio, _ = self.requirements()
            short = book.capital_ratio()[row] < min_ratio[row]
            failing = unsold == "failed" or short
            cause = "acquired_failing" if failing else "acquired_distressed"
            effect = merger_hhi_effect(shares[acquirer], shares[row])
            self.exits.append(Exit(model.month, row, cause, acquirer, effect))
            book.absorb(acquirer, row)
            book.deal_year[acquirer] = month_year(model.month)
            model.population.transfer(row, acquirer)
            book.partner[book.partner == row] = NO_LENDER
            model.events["acquisitions"] += 1
        else:
            self.exits.append(Exit(model.month, row, unsold, NO_LENDER, 0.0))
            model.events["exits"] += 1
        book.active[row] = False
        model.lenders_by_id[row].remove()
        return True
