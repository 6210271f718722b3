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
    DECLINED_PRICE,
    PD_BUCKET_EDGES,
    REFUSED_LOAN_CAP,
    REFUSED_RATE_CAP,
    REFUSED_RISK,
    LenderOffers,
    Terms,
)
from sim.finance import PRUDENCE, TECH_NOISE_CUT, THIN_FILE_PENALTY, monthly_hazard

if TYPE_CHECKING:
    from benchmarks.per_agent.population import MesaBorrowerPopulation


class Month:
    """What the borrowers' steps of one month share: parameters in, flows out."""

    def __init__(
        self,
        n_lenders: int,
        hazard_multiplier: np.ndarray,
        prepayment_rate: float,
        apply_prob: list[float],
        rng: np.random.Generator,
    ) -> None:
        self.hazard_multiplier = [float(h) for h in hazard_multiplier]
        self.prepayment_rate = prepayment_rate
        self.apply_prob = apply_prob
        self.rng = rng
        self.interest = [0.0] * n_lenders
        self.principal = [0.0] * n_lenders
        self.new_npl = [0.0] * n_lenders
        self.defaulted = [0.0] * n_lenders  # by originator
        self.expected_defaults = [0.0] * n_lenders  # what the originators' pricing expected
        self.matured = 0
        self.applicants: list[int] = []


RISK_CLASS_EDGES = PD_BUCKET_EDGES.tolist()
"""Lower edges of the risk classes borrowers know themselves to be in (annual PD)."""
Slot = tuple[int, int, float, float, bool, float, float]
"""One screened search draw: ``(lender, refusals, amount, rate, online, partner_rate,
priced_pd)``."""


class OffersView:
    """This month's lender offers as plain Python lists, for the applicants' own choices.

    ``cumulative[risk_class][mandate][region]`` is the cumulative visibility a
    borrower of that risk class samples lenders by: only lenders whose risk
    appetite (mandate appetite for mandate applicants) reaches the class's
    lower edge.
    """

    def __init__(self, offers: LenderOffers, terms: Terms) -> None:
        self.terms = terms
        base = (offers.visibility, offers.visibility_mandate)
        appetite = (offers.risk_appetite, offers.risk_appetite_mandate)
        self.cumulative = [
            [np.cumsum(base[m] * (appetite[m] >= edge), axis=1).tolist() for m in (0, 1)]
            for edge in RISK_CLASS_EDGES
        ]
        self.present = offers.present.tolist()
        for name in (
            "online_only",
            "online_capability",
            "funding_cost",
            "mandate_funding_cut",
            "operating_cost",
            "technology",
            "data_noise",
            "relationship",
            "thin_file_edge",
            "business_discount",
            "loss_factor",
            "risk_appetite",
            "risk_appetite_mandate",
            "markup",
            "posted_rate",
            "equity",
            "partner_funding",
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
        pd: float,
        thin_file: bool,
        data_rank: float,
        loan_mean: float,
        loan_sigma: float,
    ) -> None:
        super().__init__(model)
        self.population = population
        self.index = index
        self.segment = segment
        self.pd = pd  # annual PD without shared-data discipline
        self.thin_file = thin_file
        self.data_rank = data_rank  # covered by shared credit data when below coverage
        self.loan_mean = loan_mean
        self.loan_sigma = loan_sigma
        self.hazard = 0.0  # monthly default probability of the performing loan
        self.priced_hazard = 0.0  # the monthly hazard its originator priced it at
        self.rate = 0.0
        self.partner_rate = 0.0  # what a co-lending partner earns on its part
        self.payment = 0.0
        self.online = False
        self.close()  # no loan yet

    # ------------------------------------------------------------- behaviour
    def covered(self, coverage: float) -> bool:
        """Whether it is a thin file covered by shared credit data."""
        return self.thin_file and self.data_rank < coverage

    def effective_pd(self, coverage: float, discipline: float) -> float:
        """Annual PD now: a thin file covered by shared data defaults ``discipline`` less."""
        return self.pd * (1.0 - discipline * self.covered(coverage))

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
        reservation: float,
    ) -> list[Slot | None]:
        """Sample lenders, rank them, and have each screen and price this application.

        The borrower samples among the lenders that take its risk class. Returns
        one :data:`Slot` per search draw, best first, or None for an empty or
        repeated draw (as the vectorised clearing leaves it).
        """
        t = market.terms
        size = t.search_size
        risk_class = bisect_right(RISK_CLASS_EDGES, pd) - 1
        cumulative = market.cumulative[risk_class][mandate][region]
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
            # comparing offers online is cheaper: the rate weighs more there
            sensitivity = t.online_rate_sensitivity if online else 1.0
            utility = (
                -t.rate_sensitivity * 100.0 * market.posted_rate[lender] * sensitivity
                + t.online_preference * convenience
                + market.log_brand[lender]
                + rng.gumbel()
            )
            ranked.append((-utility, lender, online))
        ranked.sort(key=lambda item: item[0])  # stable, as the vectorised argsort
        slots: list[Slot | None] = []
        seen = set()
        for _, lender, online in ranked:
            if lender in seen:
                slots.append(None)
                continue
            seen.add(lender)
            refusals, amount, rate, partner_rate, priced_pd = self._screen(
                market, rng, lender, online, mandate, pd, thin_file, covered, need, business
            )
            if refusals == 0 and rate * (1.0 - pd) > reservation:
                refusals = DECLINED_PRICE  # dearer than the borrower would pay
            slots.append((lender, refusals, amount, rate, online, partner_rate, priced_pd))
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
    ) -> tuple[int, float, float, float, float]:
        """One lender's screening: ``(refusals, amount, rate, partner_rate, priced_pd)``.

        ``refusals`` is the bit mask of ``sim.clearing.REFUSED_*`` reasons (0:
        approved); ``partner_rate`` is what a co-lending partner would earn;
        ``priced_pd`` is the lender's estimate, scaled by its loss experience.
        """
        t = market.terms
        # the thin-file part of the noise, cut by the lender's thin-file edge; its own
        # data sharpen the whole signal; relationship lending cuts the noise on
        # borrowers met at its branches
        thin_excess = THIN_FILE_PENALTY * thin_file * (1.0 - t.data_sharing_effect * covered)
        noise = (
            t.screening_noise
            * market.data_noise[lender]
            * (1.0 - TECH_NOISE_CUT * market.technology[lender])
            * (1.0 + (1.0 - market.thin_file_edge[lender]) * thin_excess)
            * (1.0 - market.relationship[lender] * (not online))
        )
        signal = min(pd * math.exp(noise * rng.standard_normal()), 1.0)
        signal = min(signal * market.loss_factor[lender], 1.0)  # experience rating
        if mandate:
            appetite = market.risk_appetite_mandate[lender]
            funding = max(market.funding_cost[lender] - market.mandate_funding_cut[lender], 0.0)
        else:
            appetite = market.risk_appetite[lender]
            funding = max(market.funding_cost[lender], 0.0)
        break_even = funding + market.operating_cost[lender] + signal * t.loss_given_default + 0.0
        discount = market.business_discount[lender] if business else 0.0
        markup = max(market.markup[lender] - discount, 0.0)
        rate = min(break_even + markup, t.rate_cap)
        amount = need
        if online:
            amount = min(amount, t.online_business_cap if business else t.online_consumer_cap)
        if market.is_platform[lender] and not business:
            amount = min(amount, t.platform_individual_cap)
        amount = min(amount, t.single_borrower_limit * max(market.equity[lender], 0.0))
        prudent = signal * math.exp(PRUDENCE * noise)
        # the cap must cover cost and the prudent expected loss
        prudent_break_even = (
            funding + market.operating_cost[lender] + prudent * t.loss_given_default + 0.0
        )
        refusals = (
            REFUSED_RISK * (prudent > appetite)
            | REFUSED_RATE_CAP * (prudent_break_even > t.rate_cap)
            | REFUSED_LOAN_CAP * (amount <= 0)
        )
        partner_rate = market.partner_funding[lender] + signal * t.loss_given_default
        partner_rate = min(partner_rate + t.co_lending_margin, rate)
        return refusals, amount, rate, partner_rate, signal

    def _split(self, flows: list[float], amount: float) -> None:
        own = self.own_share
        flows[self.lender] += amount * own
        if own < 1.0:
            flows[self.funder] += amount * (1.0 - own)

    def _service(self, month: Month) -> None:
        """A month of the loan: the hazard's fraction defaults, the rest pays."""
        month.expected_defaults[self.lender] += self.balance * self.priced_hazard
        hazard = min(self.hazard * month.hazard_multiplier[self.lender], 1.0)
        defaulting = self.balance * hazard
        month.defaulted[self.lender] += defaulting
        self._split(month.new_npl, defaulting)
        balance = self.balance - defaulting
        self.payment *= 1.0 - hazard
        interest = balance * self.rate / 12.0
        own = self.own_share
        if own < 1.0:  # the partner earns its rate on its part, the originator the rest
            partner = balance * (1.0 - own) * self.partner_rate / 12.0
            month.interest[self.lender] += interest - partner
            month.interest[self.funder] += partner
        else:
            month.interest[self.lender] += interest
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
        pd: float,
        months_left: int,
        partner_rate: float,
        priced_pd: float,
    ) -> None:
        """Start a loan defaulting at annual ``pd`` (or, at set-up, one already part-repaid)."""
        self.lender = lender
        self.funder = funder
        self.own_share = own_share
        self.balance = amount
        self.rate = rate
        self.partner_rate = partner_rate
        self.hazard = float(monthly_hazard(pd))
        self.priced_hazard = float(monthly_hazard(priced_pd))
        self.months_left = months_left
        self.payment = amount / max(months_left, 1)
        self.online = online

    def raise_own_share(self, minimum: float, flows: list[list[float]], weight: float) -> None:
        """Bring a co-lent loan up to own share ``minimum``: the originator buys the gap.

        ``flows`` are ``[moved, back]`` per lender (CNY): what the originator
        takes over and what its partner gives up.
        """
        if self.lender == NO_LENDER or self.funder == NO_LENDER or self.own_share >= minimum:
            return
        amount = self.balance * (minimum - self.own_share) * weight
        flows[0][self.lender] += amount
        flows[1][self.funder] += amount
        self.own_share = minimum

    def close(self) -> None:
        """The loan is repaid or written off."""
        self.lender = NO_LENDER
        self.funder = NO_LENDER
        self.own_share = 1.0
        self.balance = 0.0
        self.months_left = 0
