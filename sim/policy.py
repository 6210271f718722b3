"""The regulation in force in a given month: base levers plus dated changes."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from sim.calendar import month_year, parse_month
from sim.config import RegulationConfig


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
