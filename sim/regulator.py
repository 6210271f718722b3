"""The regulator: levers in force, capital rules, supervision and resolution of lenders.

Each month the regulator applies the dated changes of the regulation timeline
(:func:`regulation_at`), sets each lender's capital requirement and lending
limit, inspects ("double random, one public") and fines breaches, and checks
capital: a lender short for ``behaviour.exit_months`` months in a row, or
with no equity left, is resolved by acquisition (by the largest healthy lender
of a type allowed to buy it, where acquisitions are allowed) or wound down.
Each January it also lets healthy lenders buy weak ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.lenders import LENDER_CLASSES, LENDER_TYPES, trait
from agents.loan_table import NO_LENDER
from sim.calendar import month_year, parse_month
from sim.config import RegulationConfig
from sim.finance import lending_limit
from sim.metrics import HHI_SCALE, merger_hhi_effect

if TYPE_CHECKING:
    from sim.model import MarketModel

HEALTHY_MULTIPLE = 1.5  # an acquirer holds at least 1.5x its capital requirement
WEAK_MULTIPLE = 1.25  # a lender below 1.25x its requirement is weak
SELLABLE = trait("sellable")
MAY_ACQUIRE = np.array(
    [[t in cls.acquired_by for t in LENDER_TYPES] for cls in LENDER_CLASSES.values()]
)  # [target type, acquirer type]


EXIT_CAUSES = ("wound_down", "acquired_failing", "acquired_weak")
"""How a lender left: wound down when failing and nobody could buy it, bought when
failing (capital short for too long or no equity left), bought when only weak."""


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


def path_value(path: Mapping[int, float], year: int) -> float:
    """Value of a yearly path: the latest year at or before ``year``, else the earliest."""
    years = sorted(path)
    earlier = [y for y in years if y <= year]
    return float(path[earlier[-1] if earlier else years[0]])


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

    def lending_limits(self) -> np.ndarray:
        """Largest loan book each lender may hold under its requirements."""
        min_ratio, leverage = self.requirements()
        return lending_limit(self.model.book.equity, min_ratio, leverage)

    def support_state_lenders(self) -> None:
        """The state tops up the equity of the lenders it funds, by their type's rule."""
        model = self.model
        book = model.book
        min_ratio, _ = self.requirements()
        support = self.path("financing_support", month_year(model.month))
        injection = np.zeros(book.n)
        for cls in LENDER_CLASSES.values():
            rows = book.rows(cls.type_code)
            injection[rows] = cls.capital_support(book, rows, HEALTHY_MULTIPLE * min_ratio, support)
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
            self.resolve(int(row), failing=True)

    def sell_weak_lenders(self) -> None:
        """January: each weak sellable lender finds a healthy buyer with some probability."""
        if not self.levers.acquisitions_allowed:
            return
        model = self.model
        book = model.book
        min_ratio, _ = self.requirements()
        weak = book.active & (
            (book.capital_ratio() < WEAK_MULTIPLE * min_ratio) | (book.profit_ytd < 0)
        )
        for row in np.flatnonzero(weak & book.per_lender(SELLABLE)):
            if book.active[row] and model.rng.random() < model.cfg.behaviour.acquisition_rate:
                self.resolve(int(row), failing=False)

    # ------------------------------------------------------- resolution
    def acquirer_for(self, row: int, shares: np.ndarray) -> int | None:
        """The largest healthy lender of a type allowed to buy ``row`` that can absorb it.

        Candidates are tried largest first; merger review blocks a deal that would
        take HHI (on outstanding balance) above ``merger_review_hhi`` with a rise of
        more than ``merger_review_delta``, and the next candidate is tried.
        ``shares`` are the lenders' shares of outstanding balance now (``_shares``).
        """
        book = self.model.book
        min_ratio, _ = self.requirements()
        with np.errstate(divide="ignore", invalid="ignore"):
            merged = (book.equity + book.equity[row]) / (book.loans + book.loans[row])
        ok = (
            book.active
            & book.per_lender(MAY_ACQUIRE[self.model.lenders_by_id[row].type_code])
            & (book.capital_ratio() >= HEALTHY_MULTIPLE * min_ratio)
            & (merged >= HEALTHY_MULTIPLE * min_ratio)
            & (book.loans > book.loans[row])
        )
        ok[row] = False
        candidates = np.flatnonzero(ok)
        if candidates.size == 0:
            return None
        largest_first = candidates[np.argsort(-book.loans[candidates], kind="stable")]
        if self.levers.merger_review_hhi >= HHI_SCALE:  # review off: the largest buys
            return int(largest_first[0])
        hhi_now = HHI_SCALE * float(np.sum(shares**2))
        rise = np.array([merger_hhi_effect(shares[a], shares[row]) for a in largest_first])
        passes = cleared_by_review(
            hhi_now, rise, self.levers.merger_review_hhi, self.levers.merger_review_delta
        )
        if not passes[0]:
            self.model.events["deals_blocked"] += 1  # the preferred buyer was blocked
        return int(largest_first[np.argmax(passes)]) if passes.any() else None

    def _shares(self) -> np.ndarray:
        """Each lender's share of outstanding balance (by originator)."""
        outstanding = self.model.population.outstanding_by(self.model.book.n)[0]
        total = outstanding[outstanding > 0].sum()
        return outstanding / total if total > 0 else np.zeros_like(outstanding)

    def _merger(self, target: int, acquirer: int, failing: bool, shares: np.ndarray) -> Exit:
        """The record of ``acquirer`` buying ``target``, with its static effect on HHI."""
        model = self.model
        effect = merger_hhi_effect(shares[acquirer], shares[target])
        cause = "acquired_failing" if failing else "acquired_weak"
        return Exit(model.month, target, cause, acquirer, effect)

    def resolve(self, row: int, failing: bool) -> bool:
        """Have a healthy lender acquire ``row`` if allowed and possible, else wind it down.

        A lender that is only weak (not ``failing``) stays when nobody can buy it.
        """
        model = self.model
        acquirer, shares = None, None
        if self.levers.acquisitions_allowed:
            shares = self._shares()
            acquirer = self.acquirer_for(row, shares)
        if acquirer is None and not failing:
            return False
        book = model.book
        if acquirer is not None:
            self.exits.append(self._merger(row, acquirer, failing, shares))
            book.absorb(acquirer, row)
            model.population.transfer(row, acquirer)
            book.partner[book.partner == row] = NO_LENDER
            model.events["acquisitions"] += 1
        else:
            self.exits.append(Exit(model.month, row, "wound_down", NO_LENDER, 0.0))
            model.events["exits"] += 1
        book.active[row] = False
        model.lenders_by_id[row].remove()
        return True
