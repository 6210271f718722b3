"""One registry of metrics and parameters: label, unit, format and direction, for every output.

Every table, summary and figure of the comparison, the scenario discovery and
the sensitivity analysis takes its words from here, so a metric reads the same
everywhere ("HHI (0-10,000)", "Online platforms' share of balances") and a
parameter is shown as "Rate cap (APR) 24 %", not ``regulation.rate_cap_apr=0.24``.

* :data:`METRICS`: each metric is a column of ``market_yearly.csv`` (or one the
  comparison derives from the lender table, ``exits_<type>``) with its label,
  unit, format, direction ("higher is more concentrated") and the half-width
  at which a difference is worth resolving (seeds needed are stated for it).
* :data:`PARAMETERS`: labels, display scale and format of the config keys
  that sweeps and designs vary; any other key gets a label made from its name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.output.plots import TYPE_LABELS


@dataclass(frozen=True)
class Metric:
    """How one metric is named, written and read.

    Attributes:
        name: Column name in the yearly table.
        label: Words for tables and axis labels.
        unit: Unit as written after the label (empty for none).
        fmt: ``str.format`` pattern of one value.
        direction: What a higher value means, e.g. "higher is more concentrated".
        resolution: Half-width of a 95 % interval worth resolving (seeds needed); for a
            ``relative`` metric a share of the baseline's mean in the same year.
        relative: ``resolution`` is relative to the baseline (money and counts, whose
            size depends on the simulated population).
    """

    name: str
    label: str
    unit: str
    fmt: str
    direction: str
    resolution: float
    relative: bool = False

    @property
    def axis_label(self) -> str:
        """Label with its unit in brackets."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def format(self, value: float | None, signed: bool = False) -> str:
        """``value`` written with the metric's format (``n/a`` when not finite)."""
        if value is None or not math.isfinite(float(value)):
            return "n/a"
        text = self.fmt.format(float(value))
        return "+" + text if signed and not text.startswith("-") else text

    def format_difference(self, value: float | None) -> str:
        """A difference of two values, signed: percentage points (``+1.2 pp``) for shares."""
        if value is None or not math.isfinite(float(value)):
            return "n/a"
        if "%" in self.fmt:
            decimals = self.fmt.split(".")[1][0] if "." in self.fmt else "0"
            return f"{100 * float(value):+.{decimals}f} pp"
        return self.format(value, signed=True)


_SEGMENT_LABELS = {
    "consumer": "consumer",
    "sme": "small business",
    "agriculture": "agriculture",
    "welfare": "welfare",
}
_REASON_LABELS = {
    "rate_cap": "priced above the rate cap",
    "loan_cap": "over the loan-size cap",
    "capacity": "lender capacity",
    "priced_out": "priced out",
    "risk_screening": "refused on risk",
    "no_lender": "no lender reachable",
}


def _core() -> list[Metric]:
    conc = "higher is more concentrated"
    return [
        Metric("hhi", "HHI", "0-10,000", "{:,.0f}", conc, 100.0),
        Metric("cr5", "CR5", "share", "{:.1%}", conc, 0.02),
        Metric("online_share", "Online channel share of new lending", "share", "{:.1%}",
               "higher is more lending online", 0.02),
        Metric("avg_rate", "Average loan rate", "APR", "{:.2%}", "higher is dearer credit",
               0.005),
        Metric("npl_ratio", "NPL ratio", "share", "{:.2%}", "higher is worse loan quality",
               0.005),
        Metric("served_share", "Served share of demand", "share", "{:.1%}",
               "higher is more demand met", 0.02),
        Metric("n_active", "Active lenders", "count", "{:.1f}", "higher is more competitors",
               1.0),
        Metric("exits", "Exits", "count a year", "{:.1f}", "higher is more lenders leaving",
               1.0),
        Metric("unmet", "Unmet demand", "100m CNY", "{:,.0f}", "higher is more demand unmet",
               0.05, relative=True),
    ]


def _by_type() -> list[Metric]:
    out = []
    for column, name in TYPE_LABELS.items():
        kind = column.removeprefix("share_")
        out.append(Metric(column, f"{name}' share of balances", "share", "{:.1%}",
                          f"higher is more for {name.lower()}", 0.01))
        out.append(Metric(f"share_new_{kind}", f"{name}' share of new lending", "share",
                          "{:.1%}", f"higher is more for {name.lower()}", 0.01))
        out.append(Metric(f"exits_{kind}", f"Exits of {name.lower()}", "count a year", "{:.1f}",
                          "higher is more lenders leaving", 1.0))
    return out


def _unmet() -> list[Metric]:
    out = [
        Metric(f"unmet_{s}", f"Unmet demand, {label}", "100m CNY", "{:,.0f}",
               "higher is more demand unmet", 0.05, relative=True)
        for s, label in _SEGMENT_LABELS.items()
    ]
    out += [
        Metric(f"unmet_{r}", f"Unmet demand: {label}", "100m CNY", "{:,.0f}",
               "higher is more demand unmet", 0.05, relative=True)
        for r, label in _REASON_LABELS.items()
    ]
    return out


METRICS: dict[str, Metric] = {m.name: m for m in (*_core(), *_by_type(), *_unmet())}
"""Every metric the comparison and the discovery know, by column name."""

EXIT_PREFIX = "exits_"
"""Prefix of the exit counts by lender type, derived from the lender table."""


def metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises:
        ValueError: ``name`` is not a known metric (the message lists the known ones).
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def present(columns: Iterable[str]) -> list[str]:
    """The registered metrics among ``columns``, in registry order."""
    have = set(columns)
    return [name for name in METRICS if name in have]


@dataclass(frozen=True)
class ParameterLabel:
    """How a varied config key is shown.

    Attributes:
        label: Axis label, with its unit.
        scale: Factor from the config value to the displayed one.
        fmt: ``str.format`` pattern of one displayed value.
        short: Label used before a value in a point's name.
    """

    label: str
    scale: float = 1.0
    fmt: str = "{:g}"
    short: str = ""


PARAMETERS: dict[str, ParameterLabel] = {
    "regulation.rate_cap_apr": ParameterLabel("Rate cap (APR)", 1.0, "{:.1%}", "Rate cap"),
    "regulation.online_entry_capital_cny": ParameterLabel(
        "Entry capital (bn CNY)", 1e-9, "{:.3g}", "Entry capital"
    ),
    "regulation.co_lending_min_own_share": ParameterLabel(
        "Co-lending own share", 1.0, "{:.1%}", "Own share"
    ),
    "behaviour.rate_sensitivity": ParameterLabel("Rate sensitivity", 1.0, "{:.3g}",
                                                 "Rate sensitivity"),
    "market.demand_growth": ParameterLabel("Demand growth (a year)", 1.0, "{:.1%}",
                                           "Demand growth"),
}
"""Labels of the config keys sweeps and designs usually vary."""


def parameter(key: str) -> ParameterLabel:
    """How ``key`` is shown: the registry's entry, else a label made from its last part.

    A year of a yearly path (``market.default_cycle.2027``) reads "Default cycle 2027".
    """
    if key in PARAMETERS:
        return PARAMETERS[key]
    parts = key.replace("/", ".").split(".")
    last = " ".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
    words = last.replace("_", " ").strip()  # a year of a path: "default cycle 2027"
    label = words[:1].upper() + words[1:]
    return ParameterLabel(label, fmt="{:.4g}", short=label)


def format_parameter(key: str, value: Any) -> str:
    """A parameter value as displayed: ``24%`` for a rate cap, ``2`` (bn) for entry capital."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "default"
    if isinstance(value, bool | str):
        return str(value)
    try:
        number = float(value) * parameter(key).scale
    except (TypeError, ValueError):
        return str(value)
    text = parameter(key).fmt.format(number)
    return text.replace(".0%", "%")  # 24%, not 24.0%; 14.6% keeps its decimal


def point_display(values: Mapping[str, Any], keys: Iterable[str]) -> str:
    """A policy point in words: ``Rate cap 24%, Entry capital 2 bn CNY``."""
    parts = []
    for key in keys:
        p = parameter(key)
        text = format_parameter(key, values.get(key))
        unit = " bn CNY" if "bn CNY" in p.label and text != "default" else ""
        parts.append(f"{p.short or p.label} {text}{unit}")
    return ", ".join(parts) or "all"
