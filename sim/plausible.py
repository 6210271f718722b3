"""Plausible ranges: values a field can hold (see :mod:`sim.validation`) but a real market cannot.

A representable value outside its plausible range is almost always a slip of
unit: a percent typed for a fraction (``demand_growth=8`` for 8 %), CNY typed
in 10,000s (a consumer loan of 2), a monthly probability of 1. Each
:class:`Rule` gives the plausible interval, the source of its bounds, and
optionally a wider *stress* interval: a value inside it but outside the
plausible one runs with a WARNING naming the key (a legitimate stress test);
a value outside both is refused with the likely mistake.

Keys are dotted; ``*`` stands for one part (``lenders.*.funding_spread``). A
value in a dated change (``regulation.timeline[i].rate_cap_apr``) is held to
the lever's rule. A field without a rule keeps only its representable range,
so a new field never needs an entry here before it can be used; to add one,
add a line to :data:`RULES` with the source of its bounds in its comment.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sim.checks import is_number
from sim.config import SimConfig


@dataclass(frozen=True)
class Rule:
    """The plausible interval of one field, the source of its bounds, and how to read a slip."""

    lo: float
    hi: float
    source: str
    unit: str = "fraction"  # fraction | cny | people | multiple: chooses the hint
    stress: tuple[float, float] | None = None  # outside [lo, hi] but inside: run, with a WARNING
    off: float | None = None  # the value that switches the lever off (always allowed)


RULES: dict[str, Rule] = {
    # The highest rate cap China has had is 36 % APR (2015 Supreme People's Court
    # private-lending rules: interest above 36 % void); above 100 % APR no cap binds.
    "regulation.rate_cap_apr": Rule(
        0.0, 0.36, "the highest cap China has had is 36 % APR (2015 SPC rules)",
        stress=(0.0, 1.0),
    ),
    # report_supply_demand.csv: demand grows about 17 % a year; doubling every year
    # (growth 1) is the most a stress test can mean, and a fall of a half a year a crash.
    "market.demand_growth": Rule(
        -0.5, 1.0, "the report's demand grows 17 % a year; growth is a fraction a year",
        stress=(-1.0, 1.0),
    ),
    # A monthly probability: 1 repays every loan every month and empties the book;
    # the baseline's 1 % is a calibration assumption, 20 % a month is already extreme.
    "market.prepayment_rate": Rule(
        0.0, 0.2, "a monthly probability; the baseline repays 1 % of loans a month",
        stress=(0.0, 0.5),
    ),
    # A monthly probability: the baseline's 1.8 % matches the report's 2024 demand;
    # above a half, nearly every borrower without a loan applies every month.
    "market.segments.*.apply_rate": Rule(
        0.0, 0.2, "a monthly probability; the baseline's is 1.8 % a month",
        stress=(0.0, 0.5),
    ),
    # Annual PD of small loans: the riskiest segment's mean is 6 % (calibration);
    # a mean above 30 % is a crisis scenario, kept as a stress test.
    "market.segments.*.pd_mean": Rule(
        0.0, 0.3, "an annual probability; the riskiest segment's mean is 6 %",
        stress=(0.0, 1.0),
    ),
    # Small loans: the smallest online credit lines are hundreds of CNY; the largest
    # small business loans 10m CNY (the 2008 CBRC/PBoC guidance's "small loan" scale).
    "market.segments.*.loan_mean_cny": Rule(
        100.0, 1e7, "money is in CNY; small loans run from hundreds of CNY to 10m CNY",
        unit="cny",
    ),
    # People: about 400 million online micro-borrowers in 2023 (the report); China has
    # 1.41 billion people, and fewer than a million borrowers is not a national market.
    "market.real_borrowers": Rule(
        1e6, 1.41e9, "a count of people; China has 1.41 billion", unit="people"
    ),
    # Money: China's small-loan balance was about 15 trillion CNY at the end of 2023
    # (report_type_shares_2023.csv); banks' inclusive small-micro loans alone were 11.7
    # trillion at end-2019. Under 100bn or over 500 trillion is a unit mistake.
    "market.real_outstanding_cny": Rule(
        1e11, 5e14, "money is in CNY; China's small-loan balance is about 1.5e13", unit="cny"
    ),
    # Loan-size caps in CNY: the caps China has set are 200k (online consumer,
    # 2024-2025 measures), 300k (individual, 2020-11 draft), 1m (business, 2020-11 draft);
    # a cap of 1bn CNY or more is how a scenario before 2020-11 writes "no cap".
    "regulation.online_consumer_loan_cap_cny": Rule(
        1e4, 1e12, "money is in CNY; China's cap is 200,000 CNY", unit="cny", stress=(1e3, 1e12)
    ),
    "regulation.online_business_loan_cap_cny": Rule(
        1e4, 1e12, "money is in CNY; China's cap is 1,000,000 CNY", unit="cny", stress=(1e3, 1e12)
    ),
    "regulation.platform_individual_loan_cap_cny": Rule(
        1e4, 1e12, "money is in CNY; China's cap is 300,000 CNY", unit="cny", stress=(1e3, 1e12)
    ),
    # A multiple of net tier-1 capital: the 2021-02 notice caps one partner at 25 %;
    # more than five times a bank's capital is no cap at all; 100 (the representable
    # maximum) is how a scenario before the notice writes "no cap".
    "regulation.co_lending_partner_cap": Rule(
        0.0, 1.0, "a multiple of capital; the 2021-02 notice sets 0.25; 100 means no cap",
        unit="multiple", stress=(0.0, 5.0), off=100.0,
    ),
    # A monthly probability: "double random, one public" inspections reach about a
    # fifth of lenders a year (2 % a month); a quarter a month is an inspection blitz.
    "regulation.inspection_probability": Rule(
        0.0, 0.25, "a monthly probability; the baseline's is 2 % a month", stress=(0.0, 1.0)
    ),
    # Capital requirements: 10.5 % for banks (2023 capital rules), 20 % for platforms
    # (2020-11 draft); half the book in equity is already far beyond any rule.
    "regulation.min_capital_ratio.*": Rule(
        0.0, 0.5, "a fraction of loans; China's highest is 20 % (platforms)", stress=(0.0, 1.0)
    ),
    # Leverage: 25x for banks (2015 leverage-ratio rule: 4 %), 5x for platforms (2020-11
    # draft); below 1x a lender may not lend its own equity.
    "regulation.max_leverage.*": Rule(
        1.0, 50.0, "a multiple of equity; China's rules set 5x to 25x", unit="multiple",
        stress=(0.0, 1000.0),
    ),
    # Spreads of the cost of funds over the one-year LPR: deposits 1-2 points below it,
    # platforms' wholesale funds a few points above (banks' and small-loan companies'
    # reports); 20 points above is beyond any licensed lender.
    "lenders.*.funding_spread": Rule(
        -0.05, 0.2, "an annual rate over the LPR; lenders pay 1.5 below to 5 above",
        stress=(-0.1, 1.0),
    ),
    "lenders.*.operating_cost": Rule(
        0.0, 0.2, "an annual rate of the balance; the report's lenders spend 1-5 %",
        stress=(0.0, 1.0),
    ),
}
"""Every field with a plausible range (docs/robustness.md lists them); others have none."""

_INDEX = re.compile(r"\[\d+\]")


def leaves(obj: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` leaf of a config (dataclasses, mappings, lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from leaves(getattr(obj, f.name), f"{key}.{f.name}" if key else f.name)
    elif isinstance(obj, dict):
        for name, value in obj.items():
            yield from leaves(value, f"{key}.{name}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from leaves(value, f"{key}[{i}]")
    else:
        yield key, obj


def rule_key(key: str) -> str:
    """The key whose rule holds ``key``: a dated change's lever counts as the lever."""
    if key.startswith("regulation.timeline["):
        lever = key.split("].", 1)[1] if "]." in key else ""
        return f"regulation.{lever}"
    return _INDEX.sub("", key)


def rule_for(key: str) -> Rule | None:
    """The rule for a dotted key (``*`` matching one part), or None."""
    parts = rule_key(key).split(".")
    for pattern, rule in RULES.items():
        wanted = pattern.split(".")
        if len(wanted) != len(parts):
            continue
        if all(w in ("*", p) for w, p in zip(wanted, parts, strict=True)):
            return rule
    return None


def _g(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1e4 and float(value).is_integer() else f"{value:g}"


def hint(rule: Rule, value: float) -> str:
    """The likely mistake behind an implausible value, or a plain request to check it."""
    inside = lambda v: rule.lo <= v <= rule.hi  # noqa: E731
    if rule.unit in ("fraction", "multiple") and value > rule.hi and inside(value / 100):
        return f"{value:g} looks like a percent: write {value / 100:g}"
    if rule.unit == "cny" and value < rule.lo:
        for factor, name in ((1e4, "10,000 CNY (wan)"), (1e8, "100 million CNY (yi)")):
            if inside(value * factor):
                return f"{value:g} looks like {name} units: write {value * factor:.0f}"
    if rule.unit == "people" and value < rule.lo and inside(value * 1e6):
        return f"{value:g} looks like millions: write {value * 1e6:.0f}"
    return "check the unit"


def _inside(value: float, interval: tuple[float, float]) -> bool:
    return interval[0] <= value <= interval[1]


def plausibility(cfg: SimConfig, skip: set[str] | frozenset[str] = frozenset()) -> tuple[
    list[str], list[str]
]:
    """``(problems, warnings)``: one line each for values outside their plausible range.

    Keys in ``skip`` (already refused as unrepresentable) are not looked at again.
    """
    problems: list[str] = []
    warnings: list[str] = []
    for key, value in leaves(cfg):
        if key in skip or not is_number(value) or not math.isfinite(value):
            continue
        rule = rule_for(key)
        if rule is None or _inside(value, (rule.lo, rule.hi)) or value == rule.off:
            continue
        plausible = f"plausible [{_g(rule.lo)}, {_g(rule.hi)}] ({rule.source})"
        if rule.stress is not None and _inside(value, rule.stress):
            warnings.append(f"{key} = {value!r}: outside the {plausible}; running as a stress test")
        else:
            problems.append(f"{key} = {value!r}: implausible; {plausible}; {hint(rule, value)}")
    return problems, warnings
