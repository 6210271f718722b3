"""The regulation in force month by month, and the dated changes that moved it.

Both come from the configuration alone (the base levers and their
``timeline``) through :func:`sim.regulator.regulation_at`, the rule the
regulator applies each month, so the record says what the model ran under
without reaching into the model.

Columns of :func:`regulation_monthly`: ``month``, ``year``, then one column
per lever in the schema's order: a scalar lever by its name, a per-type lever
as ``NAME.TYPE`` (``min_capital_ratio.bank``) and a yearly path as its name,
holding the value for the month's year (``financing_support``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.calendar import format_month, month_year, parse_month
from sim.config import RegulationConfig
from sim.regulator import path_value, regulation_at


def _is_path(value: Any) -> bool:
    """A yearly path: a mapping keyed by year."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, int) for k in value)


def lever_values(levers: RegulationConfig, year: int) -> dict[str, Any]:
    """Every lever of ``levers`` as one flat row: scalars, ``NAME.TYPE`` and paths in ``year``."""
    row: dict[str, Any] = {}
    for field in dataclasses.fields(levers):
        value = getattr(levers, field.name)
        if isinstance(value, list):  # the timeline itself
            continue
        if _is_path(value):
            row[field.name] = path_value(value, year)
        elif isinstance(value, dict):
            row.update({f"{field.name}.{key}": item for key, item in value.items()})
        else:
            row[field.name] = value
    return row


def regulation_monthly(base: RegulationConfig, months: Sequence[int]) -> pd.DataFrame:
    """One row per month in ``months``: the value of every lever in force that month."""
    cache: dict[tuple[int, ...], RegulationConfig] = {}
    rows = []
    for month in months:
        applied = tuple(i for i, c in enumerate(base.timeline) if parse_month(c["date"]) <= month)
        if applied not in cache:
            cache[applied] = regulation_at(base, month)
        row = {"month": format_month(month), "year": month_year(month)}
        row.update(lever_values(cache[applied], month_year(month)))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LeverChange:
    """One lever moved by a dated change: its month, and its value before and after."""

    month: str  # "YYYY-MM"
    lever: str  # as in regulation_monthly's columns (``max_leverage.online_platform``)
    before: Any
    after: Any

    def describe(self) -> str:
        """``2027-01: rate_cap_apr 0.24 -> 0.1``."""
        before, after = format_value(self.before), format_value(self.after)
        return f"{self.month}: {self.lever} {before} -> {after}"

    def as_record(self) -> dict[str, Any]:
        """The change as a JSON-ready mapping (``month``, ``lever``, ``from``, ``to``)."""
        return {"month": self.month, "lever": self.lever, "from": self.before, "to": self.after}


def format_value(value: Any) -> str:
    """A lever value as a log line writes it: ``0.124``, ``1,000,000,000``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e4:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def dated_changes(base: RegulationConfig, start: int, end: int) -> list[LeverChange]:
    """Each lever each timeline entry dated in ``start..end`` names, in date then file order.

    ``before`` is the value in force in the month before the change's month
    (for a path, in the change's year), ``after`` the value from that month on.
    """
    dated = sorted(
        (c for c in base.timeline if start <= parse_month(c["date"]) <= end),
        key=lambda c: parse_month(c["date"]),
    )
    out = []
    for change in dated:
        month = parse_month(change["date"])
        year = month_year(month)
        before = lever_values(regulation_at(base, month - 1), year)
        after = lever_values(regulation_at(base, month), year)
        out += [
            LeverChange(format_month(month), str(lever), before[str(lever)], after[str(lever)])
            for lever in change
            if lever != "date"
        ]
    return out
