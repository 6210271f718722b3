"""The per-agent reference: the market model with every borrower a ``mesa.Agent``.

:class:`PerAgentModel` is :class:`sim.model.MarketModel` with a per-agent
population (:class:`~benchmarks.per_agent.population.MesaBorrowerPopulation`)
and a market whose matching runs applicant by applicant in Python. It is the
yardstick of ``benchmarks/run_benchmark.py`` and, in distribution, of the
vectorised model's results (``tests/model/test_equivalence.py``).
"""

from __future__ import annotations

from typing import ClassVar

from benchmarks.per_agent.population import MesaBorrowerPopulation
from sim.clearing import Applicants, LenderOffers, Matches
from sim.market import Market
from sim.model import MarketModel


class PerAgentMarket(Market):
    """The market, with each applicant's search, ranking and screening in its own step."""

    def match(self, app: Applicants, offers: LenderOffers) -> Matches:
        """Who lends to whom, decided by the borrower agents (see ``population.clear``)."""
        model = self.model
        pop = model.population
        return pop.clear(app, offers, self.terms(), pop.weight, model.rng)

    def enforce_own_share(self) -> None:
        """Co-lent loans below the minimum own share: their originators buy the gap."""
        model = self.model
        book = model.book
        minimum = model.regulator.levers.co_lending_min_own_share
        moved, back = model.population.raise_own_share(minimum, book.n)
        book.loans += moved - back
        book.cash += back - moved


class PerAgentModel(MarketModel):
    """:class:`~sim.model.MarketModel` with per-agent borrowers and matching."""

    population_class: ClassVar[type] = MesaBorrowerPopulation
    market_class: ClassVar[type[Market]] = PerAgentMarket


__all__ = ["MesaBorrowerPopulation", "PerAgentMarket", "PerAgentModel"]
