"""One borrower as a ``mesa.Agent``: services its own loan, applies, searches and is screened.

What the agents of one month share (:class:`Month`) and the month's lender
offers as plain lists (:class:`OffersView`) live here too. See
:mod:`benchmarks.per_agent` for what the reference is for.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.loan_table import NO_LENDER
from sim.clearing import (
    REFUSED_LOAN_CAP,
    REFUSED_RATE_CAP,
    REFUSED_RISK,
    LenderOffers,
    Terms,
)
from sim.finance import PRUDENCE, TECH_NOISE_CUT, THIN_FILE_PENALTY

if TYPE_CHECKING:
    from benchmarks.per_agent.population import MesaBorrowerPopulation


class Month:
    """What the borrowers' steps of one month share: parameters in, flows out."""

    def __init__(
        self,
        n_lenders: int,
        hazard_multiplier: np.ndarray,
        prepayment_rate: float,
        writeoff_months: int,
        apply_prob: list[float],
        rng: np.random.Generator,
    ) -> None:
        self.hazard_multiplier = [float(h) for h in hazard_multiplier]
        self.prepayment_rate = prepayment_rate
        self.writeoff_months = writeoff_months
        self.apply_prob = apply_prob
        self.rng = rng
        self.interest = [0.0] * n_lenders
        self.principal = [0.0] * n_lenders
        self.new_npl = [0.0] * n_lenders
        self.written_off = [0.0] * n_lenders
        self.matured = 0
        self.applicants: list[int] = []


class OffersView:
    """This month's lender offers as plain Python lists, for the applicants' own choices."""

    def __init__(self, offers: LenderOffers, terms: Terms) -> None:
        self.terms = terms
        self.cumulative = [
            np.cumsum(offers.visibility, axis=1).tolist(),
            np.cumsum(offers.visibility_mandate, axis=1).tolist(),
        ]
        self.present = offers.present.tolist()
        for name in (
            "online_only",
            "online_capability",
            "funding_cost",
            "mandate_funding_cut",
            "operating_cost",
            "technology",
            "risk_appetite",
            "risk_appetite_mandate",
            "markup",
            "posted_rate",
            "equity",
            "is_platform",
        ):
            setattr(self, name, getattr(offers, name).tolist())
        self.log_brand = np.log(offers.brand).tolist()


class BorrowerAgent(mesa.Agent):
    """One simulated borrower (standing for ``weight`` real ones) and its loan."""

    def __init__(
        self,
        model: mesa.Model,
        population: MesaBorrowerPopulation,
        index: int,
        segment: int,
        hazard: float,
        loan_mean: float,
        loan_sigma: float,
    ) -> None:
        super().__init__(model)
        self.population = population
        self.index = index
        self.segment = segment
        self.hazard = hazard  # monthly default probability of a performing loan
        self.loan_mean = loan_mean
        self.loan_sigma = loan_sigma
        self.rate = 0.0
        self.payment = 0.0
        self.online = False
        self.close()  # no loan yet

    # ------------------------------------------------------------- behaviour
    def draw_need(self, rng: np.random.Generator) -> float:
        """Amount wanted (CNY), lognormal with the segment's mean."""
        sigma = self.loan_sigma
        return self.loan_mean * float(np.exp(sigma * rng.standard_normal() - 0.5 * sigma**2))

    def step(self) -> None:
        """Service the loan, then (without one) decide whether to apply this month."""
        month = self.population.current
        if self.lender != NO_LENDER:
            self._service(month)
        if self.lender == NO_LENDER and month.rng.random() < month.apply_prob[self.segment]:
            month.applicants.append(self.index)

    def search(
        self,
        market: OffersView,
        rng: np.random.Generator,
        region: int,
        mandate: bool,
        pd: float,
        thin_file: bool,
        covered: bool,
        affinity: float,
        need: float,
        business: bool,
    ) -> list[tuple[int, int, float, float, bool] | None]:
        """Sample lenders, rank them, and have each screen and price this application.

        Returns one slot per search draw, best first: ``(lender, refusals,
        amount, rate, online)``, or None for an empty or repeated draw (as the
        vectorised clearing leaves it).
        """
        t = market.terms
        size = t.search_size
        cumulative = market.cumulative[mandate][region]
        total = cumulative[-1] if cumulative else 0.0
        if total <= 0:
            return [None] * size
        last = len(cumulative) - 1
        drawn = [min(bisect_right(cumulative, rng.random() * total), last) for _ in range(size)]
        ranked = []
        for lender in drawn:
            present = market.present[lender][region]
            by_app = rng.random() < affinity * market.online_capability[lender]
            online = market.online_only[lender] or not present or by_app
            convenience = affinity if online else 1.0 - affinity
            utility = (
                -t.rate_sensitivity * 100.0 * market.posted_rate[lender]
                + t.online_preference * convenience
                + market.log_brand[lender]
                + rng.gumbel()
            )
            ranked.append((-utility, lender, online))
        ranked.sort(key=lambda item: item[0])  # stable, as the vectorised argsort
        slots: list[tuple[int, bool, float, float, bool] | None] = []
        seen = set()
        for _, lender, online in ranked:
            if lender in seen:
                slots.append(None)
                continue
            seen.add(lender)
            slots.append(
                (
                    lender,
                    *self._screen(
                        market, rng, lender, online, mandate, pd, thin_file, covered, need, business
                    ),
                    online,
                )
            )
        return slots

    @staticmethod
    def _screen(
        market: OffersView,
        rng: np.random.Generator,
        lender: int,
        online: bool,
        mandate: bool,
        pd: float,
        thin_file: bool,
        covered: bool,
        need: float,
        business: bool,
    ) -> tuple[bool, float, float]:
        """One lender's screening of this application: ``(refusals, amount, rate)``.

        ``refusals`` is the bit mask of ``sim.clearing.REFUSED_*`` reasons (0: approved).
        """
        t = market.terms
        thin_factor = 1.0 + THIN_FILE_PENALTY * thin_file * (1.0 - t.data_sharing_effect * covered)
        noise = t.screening_noise * (1.0 - TECH_NOISE_CUT * market.technology[lender]) * thin_factor
        signal = min(pd * math.exp(noise * rng.standard_normal()), 1.0)
        if mandate:
            appetite = market.risk_appetite_mandate[lender]
            funding = max(market.funding_cost[lender] - market.mandate_funding_cut[lender], 0.0)
        else:
            appetite = market.risk_appetite[lender]
            funding = market.funding_cost[lender]
        break_even = (
            funding + market.operating_cost[lender] + signal * t.loss_given_default + 0.0
        )
        rate = min(break_even + market.markup[lender], t.rate_cap)
        amount = need
        if online:
            amount = min(amount, t.online_business_cap if business else t.online_consumer_cap)
        if market.is_platform[lender] and not business:
            amount = min(amount, t.platform_individual_cap)
        amount = min(amount, t.single_borrower_limit * max(market.equity[lender], 0.0))
        prudent = signal * math.exp(PRUDENCE * noise)
        refusals = (
            REFUSED_RISK * (prudent > appetite)
            | REFUSED_RATE_CAP * (break_even > t.rate_cap)
            | REFUSED_LOAN_CAP * (amount <= 0)
        )
        return refusals, amount, rate

    def _split(self, flows: list[float], amount: float) -> None:
        own = self.own_share
        flows[self.lender] += amount * own
        if own < 1.0:
            flows[self.funder] += amount * (1.0 - own)

    def _service(self, month: Month) -> None:
        if self.npl_age > 0:
            self.npl_age += 1
            if self.npl_age > month.writeoff_months:
                self._split(month.written_off, self.balance)
                self.close()
                month.matured += 1
            return
        if month.rng.random() < self.hazard * month.hazard_multiplier[self.lender]:
            self.npl_age = 1
            self._split(month.new_npl, self.balance)
            return
        balance = self.balance
        self._split(month.interest, balance * self.rate / 12.0)
        if month.rng.random() < month.prepayment_rate or self.months_left <= 1:
            principal = balance
        else:
            principal = min(self.payment, balance)
        self._split(month.principal, principal)
        self.balance = balance - principal
        self.months_left -= 1
        if self.balance <= 0.0:
            self.close()
            month.matured += 1

    # -------------------------------------------------------------- the loan
    def take_loan(
        self,
        lender: int,
        funder: int,
        own_share: float,
        amount: float,
        rate: float,
        online: bool,
        months_left: int,
    ) -> None:
        """Start a loan (or, at set-up, one already part-repaid)."""
        self.lender = lender
        self.funder = funder
        self.own_share = own_share
        self.balance = amount
        self.rate = rate
        self.months_left = months_left
        self.payment = amount / max(months_left, 1)
        self.online = online
        self.npl_age = 0

    def close(self) -> None:
        """The loan is repaid or written off."""
        self.lender = NO_LENDER
        self.funder = NO_LENDER
        self.own_share = 1.0
        self.balance = 0.0
        self.months_left = 0
        self.npl_age = 0
