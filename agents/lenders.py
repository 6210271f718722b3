"""Lender agents: a Mesa ``Agent`` base and the four lender types.

An agent owns one row of the model's :class:`~agents.lender_book.LenderBook`
(its id) and makes that lender's decisions: its markup, its technology
programme, and whether it is resolved when its capital stays short. Monthly
flows (lending, repayments, losses) are booked on the columns in bulk by the
model, so the agents stay few and the borrowers vectorised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from sim.finance import technology_gain

if TYPE_CHECKING:
    from sim.model import MarketModel


class Lender(mesa.Agent):
    """A lender of some type; its numeric state lives in ``model.book`` row ``lender_id``."""

    lender_type: ClassVar[str] = ""
    adapts_markup: ClassVar[bool] = True
    sellable: ClassVar[bool] = True  # may be bought when weak (not only when failing)
    mandate_segments: ClassVar[tuple[str, ...]] = ()

    model: MarketModel

    def __init__(self, model: MarketModel, lender_id: int) -> None:
        super().__init__(model)
        self.lender_id = lender_id

    def _get(self, name: str) -> float:
        return getattr(self.model.book, name)[self.lender_id]

    def _set(self, name: str, value: float) -> None:
        getattr(self.model.book, name)[self.lender_id] = value

    @property
    def equity(self) -> float:
        """Equity capital, CNY."""
        return float(self._get("equity"))

    @property
    def loans(self) -> float:
        """Gross loans funded, CNY."""
        return float(self._get("loans"))

    @property
    def capital_ratio(self) -> float:
        """Equity / loans (infinite with no loans)."""
        loans = self.loans
        return self.equity / loans if loans > 0 else float("inf")

    def invest_in_technology(self, subsidy: float) -> None:
        """Spend part of last year's profit on technology; subsidised by policy support."""
        b = self.model.cfg.behaviour
        spend = b.tech_investment * max(self._get("profit_ytd"), 0.0)
        tech = technology_gain(
            np.array([self._get("technology")]),
            np.array([spend]),
            subsidy,
            b.tech_efficiency,
            b.tech_scale_cost,
            b.tech_depreciation,
        )[0]
        online = self._get("online_capability")
        self._set("online_capability", min(1.0, online + b.online_growth * tech * (1.0 - online)))
        self._set("technology", tech)
        self.model.charge(self.lender_id, spend * (1.0 - subsidy))


class CommercialBank(Lender):
    """A commercial bank: deep capital, funds platforms' loans as a co-lending partner."""

    lender_type = "bank"


class CreditCooperative(Lender):
    """An urban or rural credit cooperative: low cost, local."""

    lender_type = "credit_cooperative"


class OnlinePlatform(Lender):
    """An internet small-loan platform: online only; co-lends with a partner bank."""

    lender_type = "online_platform"


class PolicyLender(Lender):
    """A state policy lender: mandate for agriculture and welfare, no profit-seeking markup."""

    lender_type = "policy_lender"
    adapts_markup = False
    sellable = False  # state-owned: not for sale, recapitalised by the state instead
    mandate_segments = ("agriculture", "welfare")


LENDER_CLASSES: dict[str, type[Lender]] = {
    cls.lender_type: cls
    for cls in (CommercialBank, CreditCooperative, OnlinePlatform, PolicyLender)
}
