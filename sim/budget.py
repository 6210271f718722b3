"""Bounded work: what a configuration will cost, estimated before any work starts.

:func:`estimate` gives the run's months, its peak memory and the size of its
tables from the config alone; :func:`budget_problems` refuses a horizon outside
the calendar window and a run whose memory estimate exceeds the budget (the
``memory_budget_gb`` key, or by default this machine's memory).

The memory model is the measured one (README, "How big a run can be"): about
105 bytes a borrower on top of a ~170 MB interpreter, plus the recorder's 11
float columns per lender and month (its capacity doubles as lenders enter, so
twice that), with a safety factor of 2 on the whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agents.lenders import ENTRY_RESPONSE_MAX
from sim.calendar import parse_month
from sim.config import SimConfig

FIRST_MONTH = "2000-01"
"""Earliest start: China's small-loan regulation begins with the 2008 CBRC/PBoC pilot
guidance; the back-test starts in 2019; nothing before 2000 has a rule to model."""
LAST_MONTH = "2100-12"
"""Latest end: every policy path (financing support, subsidies) stops by 2030; a
projection beyond this century is not a forecast of anything."""

BASE_BYTES = 170e6  # interpreter with numpy, pandas, Mesa and Hydra (measured)
BYTES_PER_BORROWER = 105.0  # measured at 1 million borrowers
BYTES_PER_LENDER_MONTH = 2 * 11 * 8.0  # 11 float64 recorder columns, capacity doubling
SAFETY = 2.0
CSV_BYTES_PER_CELL = 12.0  # a shortest-repr float and its comma
MARKET_COLUMNS, LENDER_COLUMNS = 110, 16


@dataclass(frozen=True)
class Estimate:
    """What a run will take: months, lenders at most, peak memory and table size (bytes)."""

    months: int
    lenders: int
    memory_bytes: float
    output_bytes: float
    borrower_months: float

    def describe(self) -> str:
        """One phrase: months, borrower-months, memory and table size."""
        return (
            f"{self.months:,} months, {self.borrower_months:,.0f} borrower-months, up to "
            f"{self.lenders:,} lenders: about {self.memory_bytes / 1e9:.2f} GB of memory and "
            f"{self.output_bytes / 1e6:.1f} MB of tables"
        )


def max_lenders(cfg: SimConfig, months: int) -> int:
    """Lenders at the start plus the most that can enter (every type at its highest rate)."""
    years = months / 12 + 1
    total = 0.0
    for lt in cfg.lenders.values():
        rate = lt.entry_rate * ENTRY_RESPONSE_MAX
        total += lt.count + rate * years
    return int(total) + 1


def estimate(cfg: SimConfig) -> Estimate:
    """The run's size from its config (valid calendar and counts assumed)."""
    months = parse_month(cfg.market.end) - parse_month(cfg.market.start) + 1
    lenders = max_lenders(cfg, months)
    n = cfg.market.n_borrowers
    memory = SAFETY * (
        BASE_BYTES + BYTES_PER_BORROWER * n + BYTES_PER_LENDER_MONTH * lenders * months
    )
    years = months / 12 + 1
    cells = months * MARKET_COLUMNS + years * (MARKET_COLUMNS + LENDER_COLUMNS * lenders)
    return Estimate(months, lenders, memory, cells * CSV_BYTES_PER_CELL, float(n) * months)


def machine_memory() -> float:
    """Physical memory of this machine in bytes (0 where it cannot be read)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


def calendar_problems(cfg: SimConfig) -> list[str]:
    """A horizon outside the calendar window (``FIRST_MONTH`` to ``LAST_MONTH``)."""
    out = []
    first, last = parse_month(FIRST_MONTH), parse_month(LAST_MONTH)
    window = (
        f"allowed {FIRST_MONTH} to {LAST_MONTH} (small-loan regulation starts in 2008; "
        "the policy paths end in 2030)"
    )
    for key, value in (("market.start", cfg.market.start), ("market.end", cfg.market.end)):
        if not first <= parse_month(value) <= last:
            out.append(f"{key} = {value!r}: outside the calendar window; {window}")
    return out


def budget_problems(cfg: SimConfig) -> list[str]:
    """The calendar window, then the memory budget; one line per problem."""
    out = calendar_problems(cfg)
    if out:
        return out
    est = estimate(cfg)
    budget_gb = cfg.memory_budget_gb
    budget = budget_gb * 1e9 if budget_gb is not None else machine_memory()
    where = "memory_budget_gb" if budget_gb is not None else "this machine's memory"
    if budget > 0 and est.memory_bytes > budget:
        out.append(
            f"market.n_borrowers = {cfg.market.n_borrowers}: the run needs {est.describe()}; "
            f"more than {where} ({budget / 1e9:.2f} GB); use fewer borrowers, fewer lenders "
            "or a shorter horizon, or raise memory_budget_gb"
        )
    return out
