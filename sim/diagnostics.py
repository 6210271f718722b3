"""Warnings about legal but extreme markets, logged when a run starts and as it goes.

None of these stops a run: the configuration is valid (see :mod:`sim.validation`)
and the model has a documented behaviour for each case (``docs/robustness.md``).
They are logged at WARNING on the ``sim.diagnostics`` logger, so a reader of the
run's log learns why its tables look the way they do:

* a lender type with no lenders at the start;
* a rate cap below every lender's break-even rate;
* no lender within its capital requirement at the start;
* every lender of a type gone, and every lender of all types gone, leaving no
  one to lend.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from agents.lenders import LENDER_TYPES
from sim.calendar import format_month
from sim.config import SEGMENTS
from sim.finance import effective_operating_cost
from sim.market import MANDATE_SEGMENTS

if TYPE_CHECKING:
    from sim.model import MarketModel

log = logging.getLogger(__name__)


def break_even_rates(model: MarketModel) -> np.ndarray:
    """Each lender's lowest break-even annual rate at the start, over the populated segments.

    Break-even in a segment is funding + operating cost (after technology) +
    expected loss at the segment's mean PD, ``pd_mean * (1 - recovery_rate)``;
    mandate segments (agriculture, welfare) count with the funding cut the
    financing support gives there. A loan priced below this loses money on
    average, and the model prices every loan at this plus a markup.
    """
    cfg, book = model.cfg, model.book
    funding = model.market.funding_rates()
    mandate_cut = model.market.mandate_funding_cut()
    opex = effective_operating_cost(book.operating_cost, book.technology)
    lgd = 1.0 - cfg.market.recovery_rate
    best = np.full(book.n, np.inf)
    for s, name in enumerate(SEGMENTS):
        seg = cfg.market.segments[name]
        if seg.share <= 0:
            continue
        rate = funding + opex + lgd * seg.pd_mean
        if s in MANDATE_SEGMENTS:
            rate = rate - mandate_cut
        best = np.minimum(best, rate)
    return best


SCALE_FREE_FROM = 100_000
"""Borrowers the baseline is calibrated and checked at; below it the run log warns.

Type shares, prices and channels (2030 bank, cooperative and platform shares,
online share, average rate, served share) agree with 100,000 within two
standard errors from ``PRICES_HOLD_FROM`` (``tests/model/test_scale.py``), and
at 200,000 HHI does too. Below 100,000 HHI stays higher (about +100 points at
50,000 and +130 at 20,000 over 10 seeds) and at 20,000 the banks gain share
from the cooperatives: a small lender's few simulated borrowers make its years
noisy, and a bad year costs it share faster than a good one wins it back
(``python -m scenarios.mechanism_checks --only scale``)."""

PRICES_HOLD_FROM = 50_000
"""Borrowers from which type shares, prices and channels agree with the default scale."""

EFFECTS_HOLD_FROM = 20_000
"""Borrowers from which the levers' paired effects agree with the default scale's.

One effect per lever group (the rate cap on platform lending, a default shock on
lending, tightening on HHI, credit-data sharing on served share, the 2020-2024 rules
on platform balance) agrees with 100,000 within two standard errors at 20,000 and
50,000 over 10 seeds (``python -m scenarios.mechanism_checks --only scale``), and
two of them are tested (``tests/model/test_scale.py``): policies compared at one
scale travel, levels below ``SCALE_FREE_FROM`` do not."""


class RunDiagnostics:
    """Checks a model at its start and after every month; keeps the warnings it logged."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.messages: list[str] = []
        self._anyone_active = bool(model.book.active.any())
        self._types_active = self._active_types()
        self._start()

    def _active_types(self) -> set[str]:
        book = self.model.book
        codes = np.unique(book.type_code[book.active])
        return {LENDER_TYPES[int(c)] for c in codes}

    def _warn(self, message: str) -> None:
        self.messages.append(message)
        log.warning(message)

    def _start(self) -> None:
        model = self.model
        cfg, book = model.cfg, model.book
        n = cfg.market.n_borrowers
        if n < SCALE_FREE_FROM:
            effects = (
                f"the levers' paired effects agree with {SCALE_FREE_FROM:,} from "
                f"{EFFECTS_HOLD_FROM:,}, so compare policies at one scale, but do not quote levels"
                if n >= EFFECTS_HOLD_FROM
                else f"below {EFFECTS_HOLD_FROM:,} not even the levers' paired effects are "
                "checked: use it for quick looks only"
            )
            self._warn(
                f"market.n_borrowers = {n:,} is below {SCALE_FREE_FROM:,}, "
                "the scale the model is calibrated and checked at: small lenders then have few "
                "simulated borrowers, and concentration and type shares depend on the population "
                f"size (more exits, higher HHI, fewer cooperatives); {effects}"
            )
        for lender_type in LENDER_TYPES:
            lt = cfg.lenders[lender_type]
            if lt.count == 0:
                later = (
                    f"entrants may join each January (entry_rate {lt.entry_rate:g} a year)"
                    if lt.entry_rate > 0
                    else "with entry_rate 0 there will be none in the whole run"
                )
                self._warn(
                    f"lenders.{lender_type}.count = 0: no {lender_type} lenders at the start; "
                    f"{later}"
                )
        active = book.active
        if not active.any():
            return
        cap = model.regulator.levers.rate_cap_apr
        lowest = float(break_even_rates(model)[active].min())
        if cap < lowest:
            self._warn(
                f"regulation.rate_cap_apr = {cap:g} is below every lender's break-even rate "
                f"(lowest {lowest:.4g}: funding + operating cost + expected loss at the "
                "segment mean PD); only borrowers screened well below their segment's mean "
                "risk can be served, and lending may stop altogether"
            )
        limit = model.regulator.lending_limits()
        within = book.loans <= limit * (1 + 1e-9)
        if not within[active].any():
            self._warn(
                "no lender meets its capital requirement at the start (regulation."
                "min_capital_ratio, regulation.max_leverage): lenders make no new loans while "
                "their book is above the limit, and a lender below its minimum capital ratio "
                f"for behaviour.exit_months = {cfg.behaviour.exit_months} months in a row is "
                "acquired or wound down"
            )

    def after_month(self) -> None:
        """Warn each time the last active lender of a type, or of all types, goes."""
        types = self._active_types()
        for lender_type in sorted(self._types_active - types):
            self._warn(
                f"every {lender_type} lender has exited by {format_month(self.model.month)}: "
                f"its share of new lending is 0 from now on (unless {lender_type} lenders "
                "enter in a later January)"
            )
        self._types_active = types
        active = bool(types)
        if self._anyone_active and not active:
            self._warn(
                f"every lender has exited by {format_month(self.model.month)}: no new lending "
                "from now on (unless lenders enter in a later January); the remaining book "
                "runs off, and concentration is undefined (left empty) once nothing is "
                "outstanding"
            )
        self._anyone_active = active
