"""Per-agent reference: every borrower a ``mesa.Agent``, stepped one by one.

:class:`MesaBorrowerPopulation` has the interface the model uses of
:class:`agents.borrowers.BorrowerPopulation` (``applicants``, ``draw_need``,
``book``, ``service``, ``outstanding_by``, ``partner_exposure``,
``split_by_funder``, ``transfer``, ``for_model`` and the attribute arrays), so
:class:`benchmarks.per_agent.PerAgentModel` runs the same market with
per-agent borrowers. It exists to measure what vectorising the borrowers buys
(``benchmarks/run_benchmark.py``) and to check that both give the same results
in distribution (``tests/model/test_equivalence.py``).

What is per agent: each month ``model.agents_by_type[BorrowerAgent].shuffle_do("step")``
steps every borrower in random order; a borrower services its own loan in
plain Python (interest, amortisation, prepayment, default, write-off, with its
own scalar random draws) and, when it has no loan, decides whether to apply.
Each applicant then draws its loan need, searches (samples ``search_size``
lenders by visibility in its region among those that take its risk class),
ranks them by its logit utility, has each screened and priced (noisy risk
signal, rate cap, loan-size caps) and decides whether it would take each
approved offer at its price (its reservation rate), all in its own Python
method (:meth:`BorrowerAgent.search`), following :mod:`sim.clearing` step for
step. Only the matching against lenders' monthly room (first come first
served, round by round as in :func:`sim.clearing.clear`) reuses the
vectorised :func:`sim.clearing.room_granted`. New loans are booked agent
by agent, each defaulting at its borrower's PD when it was booked.

Static traits (segment, region, PD, reservation rate, thin file, data rank,
digital affinity) are drawn exactly as the vectorised population draws them
(it is built first and its traits copied), so for one seed both start from
the same borrowers and lenders; after that the random streams differ and only
distributions agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.borrowers import BorrowerPopulation, ServicingFlows
from agents.loan_table import NO_LENDER
from benchmarks.per_agent.agent import BorrowerAgent, Month, OffersView
from sim.clearing import (
    REFUSED_CAPACITY,
    Applicants,
    LenderOffers,
    Matches,
    Terms,
    decisive,
    room_granted,
)
from sim.config import MarketConfig

if TYPE_CHECKING:
    import mesa

STATIC_TRAITS = (
    "n",
    "weight",
    "segment",
    "region",
    "pd",
    "reservation",
    "thin_file",
    "data_rank",
    "affinity",
    "loan_mean",
    "loan_sigma",
    "term",
    "apply_rate",
    "business",
    "initial_loan_share",
)
LOAN_STATE = (
    "lender",
    "funder",
    "own_share",
    "balance",
    "rate",
    "payment",
    "months_left",
    "online",
)
LOAN_DTYPES = {
    "lender": np.int32,
    "funder": np.int32,
    "months_left": np.int32,
    "online": bool,
}


class MesaBorrowerPopulation:
    """Borrowers as Mesa agents, with the interface of ``BorrowerPopulation``.

    The loan state lives in the agents; the arrays ``lender``, ``balance`` ...
    are gathered from them on each read (read-only copies).
    """

    def __init__(self, market: MarketConfig, rng: np.random.Generator) -> None:
        traits = BorrowerPopulation(market, rng)  # the same draws as the vectorised one
        for name in STATIC_TRAITS:
            setattr(self, name, getattr(traits, name))
        self.demand_growth = market.demand_growth
        self.agents: list[BorrowerAgent] = []
        self.model: mesa.Model | None = None
        self.current: Month | None = None
        self._growth = 1.0

    @classmethod
    def for_model(cls, model: mesa.Model) -> MesaBorrowerPopulation:
        """The population of ``model.cfg``, its borrowers registered as agents of ``model``."""
        population = cls(model.cfg.market, model.rng)
        population.attach(model)
        return population

    def attach(self, model: mesa.Model) -> None:
        """Create one ``BorrowerAgent`` per borrower in ``model``."""
        self.model = model
        loan_mean = self.loan_mean[self.segment]
        loan_sigma = self.loan_sigma[self.segment]
        self.agents = [
            BorrowerAgent(
                model,
                self,
                i,
                int(self.segment[i]),
                float(self.pd[i]),
                bool(self.thin_file[i]),
                float(self.data_rank[i]),
                float(loan_mean[i]),
                float(loan_sigma[i]),
            )
            for i in range(self.n)
        ]

    def __getattr__(self, name: str) -> np.ndarray:
        if name in LOAN_STATE:
            agents = self.__dict__.get("agents", [])
            dtype = LOAN_DTYPES.get(name, float)
            return np.fromiter((getattr(a, name) for a in agents), dtype=dtype, count=len(agents))
        raise AttributeError(name)

    # ------------------------------------------------------------- interface
    def effective_pd(self, idx: np.ndarray, coverage: float, discipline: float) -> np.ndarray:
        """Annual PD of borrowers ``idx`` now, agent by agent (shared-data discipline)."""
        agents = self.agents
        return np.array(
            [agents[i].effective_pd(coverage, discipline) for i in idx.tolist()], dtype=float
        )

    def covered(self, idx: np.ndarray, coverage: float) -> np.ndarray:
        """Which of borrowers ``idx`` are thin files covered by shared credit data."""
        agents = self.agents
        return np.array([agents[i].covered(coverage) for i in idx.tolist()], dtype=bool)

    def draw_need(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Loan amounts wanted by borrowers ``idx`` (CNY), drawn agent by agent."""
        agents = self.agents
        return np.array([agents[i].draw_need(rng) for i in idx], dtype=float)

    def _apply_prob(self, growth: float) -> list[float]:
        return [min(float(rate) * growth, 1.0) for rate in self.apply_rate]

    def service(
        self,
        n_lenders: int,
        hazard_multiplier: np.ndarray,
        prepayment_rate: float,
        rng: np.random.Generator,
    ) -> ServicingFlows:
        """Step every borrower in random order: service its loan, decide whether to apply."""
        model = self.model
        years = (model.month - model.start) / 12.0 if model is not None else 0.0
        self._growth = (1.0 + self.demand_growth) ** years
        self.current = Month(
            n_lenders,
            hazard_multiplier,
            prepayment_rate,
            self._apply_prob(self._growth),
            rng,
        )
        if model is not None:
            model.agents_by_type[BorrowerAgent].shuffle_do("step")
        month = self.current
        w = self.weight
        return ServicingFlows(
            np.array(month.interest) * w,
            np.array(month.principal) * w,
            np.array(month.new_npl) * w,
            month.matured,
            np.array(month.defaulted) * w,
            np.array(month.expected_defaults) * w,
        )

    def applicants(self, growth: float, rng: np.random.Generator) -> np.ndarray:
        """Borrowers who decided to apply in this month's step (in step order, i.e. random)."""
        month = self.current
        if month is None or abs(growth - self._growth) > 1e-12 * growth:
            # not stepped this month at this growth: the agents decide now
            prob = self._apply_prob(growth)
            order = list(range(self.n))
            rng.shuffle(order)
            chosen = [
                i
                for i in order
                if self.agents[i].lender == NO_LENDER
                and rng.random() < prob[self.agents[i].segment]
            ]
            return np.array(chosen, dtype=np.int64)
        self.current = None
        return np.array(month.applicants, dtype=np.int64)

    def clear(
        self,
        app: Applicants,
        offers: LenderOffers,
        terms: Terms,
        weight: float,
        rng: np.random.Generator,
    ) -> Matches:
        """Each applicant searches, ranks and is screened in its own step; then the matching.

        The matching is :func:`sim.clearing.clear`'s: round ``k`` offers every
        applicant still without a loan to its ``k``-th ranked lender, and the
        approvals it accepts are served first come first served within the
        lender's room (an offer it declined takes none).
        """
        n, n_lenders, size = app.idx.size, offers.capacity.size, terms.search_size
        result = Matches.empty(n, n_lenders)
        if n == 0 or n_lenders == 0:
            return result
        market = OffersView(offers, terms)
        columns = zip(
            app.idx.tolist(),
            app.region.tolist(),
            app.mandate.tolist(),
            app.pd.tolist(),
            app.thin_file.tolist(),
            app.covered.tolist(),
            app.affinity.tolist(),
            app.need.tolist(),
            app.business.tolist(),
            app.reservation.tolist(),
            strict=True,
        )
        slots = [self.agents[i].search(market, rng, *rest) for i, *rest in columns]
        capacity = offers.capacity.copy()
        pending = np.ones(n, dtype=bool)
        for k in range(size):
            tried = [(row, s[k]) for row, s in enumerate(slots) if pending[row] and s[k]]
            if not tried:
                continue
            rows = np.array([row for row, _ in tried])
            lender = np.array([slot[0] for _, slot in tried], dtype=np.int64)
            refused = np.array([slot[1] for _, slot in tried], dtype=np.uint8)
            approved = refused == 0
            amount = np.array([slot[2] for _, slot in tried])
            granted = np.zeros(rows.size)
            granted[approved] = room_granted(lender[approved], amount[approved], capacity, weight)
            fits = granted > 0
            short = approved & (granted < amount)
            result.capacity_bound[lender[short]] = True
            result.room_short[rows[fits & short]] = True
            refused[approved & ~fits] = REFUSED_CAPACITY
            result.refusals[rows] |= decisive(refused)
            for j in np.flatnonzero(fits):
                row, (wl, _, _, rate, online, partner_rate, priced_pd) = tried[j]
                result.lender[row] = wl
                result.amount[row] = granted[j]
                result.rate[row] = rate
                result.partner_rate[row] = partner_rate
                result.priced_pd[row] = priced_pd
                result.online[row] = online
                share = offers.own_share[wl]
                result.own_share[row] = share
                result.funder[row] = offers.partner[wl] if share < 1.0 else NO_LENDER
                pending[row] = False
            capacity -= np.bincount(
                lender[fits], weights=granted[fits] * weight, minlength=n_lenders
            )
        return result

    def book(
        self,
        idx: np.ndarray,
        lender: np.ndarray,
        funder: np.ndarray,
        own_share: np.ndarray,
        amount: np.ndarray,
        rate: np.ndarray,
        online: np.ndarray,
        pd: np.ndarray,
        months_left: np.ndarray | None = None,
        partner_rate: np.ndarray | None = None,
        priced_pd: np.ndarray | None = None,
    ) -> None:
        """Record new loans for borrowers ``idx``, agent by agent, defaulting at annual ``pd``.

        ``partner_rate`` is what a co-lending partner earns on its part (the
        loan's rate by default); ``priced_pd`` the PD the originator priced (the
        true one by default).
        """
        term = self.term[self.segment[idx]] if months_left is None else months_left
        partner_rate = rate if partner_rate is None else partner_rate
        priced_pd = pd if priced_pd is None else priced_pd
        for k, i in enumerate(idx.tolist()):
            self.agents[i].take_loan(
                int(lender[k]),
                int(funder[k]),
                float(own_share[k]),
                float(amount[k]),
                float(rate[k]),
                bool(online[k]),
                float(pd[k]),
                int(term[k]),
                float(partner_rate[k]),
                float(priced_pd[k]),
            )

    def raise_own_share(self, minimum: float, n_lenders: int) -> tuple[np.ndarray, np.ndarray]:
        """Bring co-lent loans up to own share ``minimum``, agent by agent.

        Returns per lender (CNY) what originators take over and what partners give up.
        """
        flows = [[0.0] * n_lenders for _ in range(2)]
        for agent in self.agents:
            agent.raise_own_share(minimum, flows, self.weight)
        moved, back = (np.array(f) for f in flows)
        return moved, back

    def split_by_funder(self, idx: np.ndarray, amount: np.ndarray, n_lenders: int) -> np.ndarray:
        """Per-lender totals of ``amount`` (per real borrower), split by funding share."""
        total = [0.0] * n_lenders
        for i, a in zip(idx.tolist(), amount.tolist(), strict=True):
            self.agents[i]._split(total, a)
        return np.array(total) * self.weight

    def outstanding_by(self, n_lenders: int) -> tuple[np.ndarray, np.ndarray]:
        """Performing balance (CNY) by originator, and by funder split.

        The originators' parts and the partners' are summed apart and then
        added, as the vectorised sums are, so the opening balance sheets agree
        to the last digit.
        """
        by_originator, own, partners = ([0.0] * n_lenders for _ in range(3))
        for agent in self.agents:
            if agent.lender == NO_LENDER:
                continue
            by_originator[agent.lender] += agent.balance
            own[agent.lender] += agent.balance * agent.own_share
            if agent.own_share < 1.0:
                partners[agent.funder] += agent.balance * (1.0 - agent.own_share)
        w = self.weight
        by_funder = np.array(own) + np.array(partners)
        return np.array(by_originator) * w, by_funder * w

    def partner_exposure(self, n_lenders: int) -> np.ndarray:
        """Partner-funded balance of each originator's co-lent loans, CNY."""
        total = [0.0] * n_lenders
        for agent in self.agents:
            if agent.lender != NO_LENDER and agent.own_share < 1.0:
                total[agent.lender] += agent.balance * (1.0 - agent.own_share)
        return np.array(total) * self.weight

    def transfer(self, from_lender: int, to_lender: int) -> None:
        """Move every loan originated or funded by ``from_lender`` to ``to_lender``."""
        for agent in self.agents:
            if agent.lender == from_lender:
                agent.lender = to_lender
            if agent.funder == from_lender:
                agent.funder = to_lender
            if agent.lender == agent.funder and agent.lender != NO_LENDER:
                agent.funder = NO_LENDER
                agent.own_share = 1.0
