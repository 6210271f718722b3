"""Months as integers: ``year * 12 + month - 1``, parsed from ``"YYYY-MM"``."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> int:
    """Return the month index of ``"YYYY-MM"``; raise ValueError if malformed."""
    match = _MONTH.match(str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month of the form YYYY-MM")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_year(month: int) -> int:
    """Calendar year of a month index."""
    return month // 12


def month_of_year(month: int) -> int:
    """Calendar month (1-12) of a month index."""
    return month % 12 + 1


def format_month(month: int) -> str:
    """``"YYYY-MM"`` of a month index."""
    return f"{month_year(month):04d}-{month_of_year(month):02d}"


def path_value(path: Mapping[int, float], year: int, default: float | None = None) -> float:
    """Value of a yearly path: the latest year at or before ``year``, else the earliest.

    An empty path gives ``default`` (an error when there is none).
    """
    if not path and default is not None:
        return default
    years = sorted(path)
    earlier = [y for y in years if y <= year]
    return float(path[earlier[-1] if earlier else years[0]])
