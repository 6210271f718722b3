"""A lender that loses its licence runs its book off rather than being sold."""

from __future__ import annotations

import numpy as np

from agents.lenders import type_code
from agents.loan_table import NO_LENDER
from sim.model import MarketModel
from tests.conftest import compose_config


def test_a_revoked_lender_keeps_its_loans_and_nobody_buys_it() -> None:
    """With acquisitions allowed and larger healthy platforms able to bid (the
    regulator's own bidder list is not empty), the smallest lending platform's
    licence is revoked: it leaves as ``licence_lost`` with no acquirer,
    and every loan it had originated is still its own (no transfer to a buyer).
    """
    model = MarketModel(compose_config("market.n_borrowers=20000", "seed=3"))
    model.step()
    platforms = model.book.rows(type_code("online_platform"))
    lending = platforms[model.book.loans[platforms] > 0]
    row = int(lending[np.argmin(model.book.loans[lending])])
    assert model.regulator.bidders(row).size > 0
    loans = model.population.loans
    held_before = int((loans.lender == row).sum())
    assert held_before > 0 and model.regulator.levers.acquisitions_allowed
    model.regulator.revoke_licence(row)
    last = model.regulator.exits[-1]
    assert (last.lender, last.cause, last.acquirer) == (row, "licence_lost", NO_LENDER)
    assert not model.book.active[row]
    assert int((model.population.loans.lender == row).sum()) == held_before
