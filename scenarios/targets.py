"""Calibration targets from the report, read from the project's copy in ``scenarios/data/``.

The loader turns the report's tables into the quantities the model reports
(fractions, market_yearly columns) and :func:`summarise` turns a run's tables
into the same quantities, so a target and its simulated value can be compared
directly. Definitions (see ``docs/ODD.md``, "Input data"):

* **online share** of new lending by year (``report_trajectory.csv``,
  ``online_share_pct``): the model's ``online_share`` in ``market_yearly``;
* **average loan rate** by year (``avg_loan_rate_pct``): the model's
  volume-weighted ``avg_rate`` of the year's new loans;
* **lending growth**: market size 2030 / 2024 (1,500 -> 3,500, ratio 2.33),
  compared with the model's yearly new lending (``lending``) 2030 / 2024;
* **type shares at the start** (``report_type_shares_2023.csv``): banks 53 %,
  credit cooperatives 33 %, online platforms and policy lenders 14 % together.
  They are end-2023 stocks; the model starts from them by construction
  (``lenders.*.initial_share``), so the target is measured at the *end of the
  first simulated year* (``market_yearly`` 2024 row: outstanding balance at
  2024-12). It then also says that the type shares may drift only modestly
  during 2024, which holds only if new lending is split much like the stock;
* **served share** of credit demand (``report_supply_demand.csv``, loans issued
  / credit demand: 1,200 / 1,600 = 0.75 in 2024, 3,000 / 4,200 = 0.714 in
  2030), compared with the model's ``served_share`` (lending / demand);
* **concentration rising**: HHI (outstanding, by originating lender) in 2030
  above its 2024 value (the report's narrative, no figure);
* **price structure** (``price_structure_2024.csv``, public PBOC and NFRA
  figures, not the report): 2024's volume-weighted new-loan rate of each
  lender type (``types_yearly`` ``rate``) within its band; platforms at least
  ``PLATFORM_SPREAD_MIN`` above banks; a quarter of platforms' new volume above
  ``PLATFORM_HIGH_RATE`` (their ``rate_p75`` at least that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
TYPE_GROUPS: dict[str, tuple[str, ...]] = {
    "bank": ("bank",),
    "credit_cooperative": ("credit_cooperative",),
    "online_platform_and_policy_lender": ("online_platform", "policy_lender"),
}
"""The report's three type groups and the model's lender types in each."""

TOLERANCE = {
    "online_share": 0.03,  # acceptance: within 3 percentage points
    "avg_rate": 0.005,  # within 0.5 percentage points
    "type_share": 0.03,  # within 3 percentage points
    "lending_growth": 0.10,  # within 10 % of the ratio
    "served_share": 0.05,  # "about": within 5 points (not an acceptance criterion)
}
"""Acceptance tolerances of the full-scale baseline; also the loss's scale."""

INFORMATION_GROUPS = ("served_share",)
"""Target groups the report gives as "about": in the loss, not acceptance criteria."""

PRICE_TOLERANCE = 0.0025
"""Scale of the price-structure penalty: a quarter of a percentage point outside a band."""
PRICE_MARGIN = 0.002
"""How far inside each type's rate band the calibration aims (a fifth of a point; a choice)."""
PLATFORM_SPREAD_MIN = 0.06  # real market: a platform loan costs roughly 8-15 points more
PLATFORM_HIGH_RATE = 0.15  # real market: much platform volume sits near the caps
PRICE_YEAR = 2024


@dataclass(frozen=True)
class Targets:
    """The report's figures as fractions and ratios, keyed like the model's outputs."""

    online_share: dict[int, float]
    avg_rate: dict[int, float]
    lending_growth: float
    growth_years: tuple[int, int]
    type_share: dict[str, float]
    served_share: dict[int, float]
    hhi_rising: tuple[int, int] = (2024, 2030)
    price_band: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)


def load_targets(data_dir: Path = DATA_DIR) -> Targets:
    """Read the report's tables from ``data_dir`` and return the calibration targets."""
    traj = pd.read_csv(data_dir / "report_trajectory.csv").set_index("year")
    supply = pd.read_csv(data_dir / "report_supply_demand.csv").set_index("metric")
    types = pd.read_csv(data_dir / "report_type_shares_2023.csv").set_index("lender_type")
    prices = pd.read_csv(data_dir / "price_structure_2024.csv").set_index("lender_type")
    first, last = int(traj.index.min()), int(traj.index.max())
    served = {}
    for column in (c for c in supply.columns if c.startswith("y")):
        year = int(column[1:])
        issued = float(supply.loc["loans_issued", column])
        demand = float(supply.loc["credit_demand", column])
        served[year] = issued / demand
    return Targets(
        online_share={int(y): v / 100.0 for y, v in traj["online_share_pct"].items()},
        avg_rate={int(y): v / 100.0 for y, v in traj["avg_loan_rate_pct"].items()},
        lending_growth=float(
            traj.loc[last, "market_size_100m_cny"] / traj.loc[first, "market_size_100m_cny"]
        ),
        growth_years=(first, last),
        type_share={name: float(types.loc[name, "share_pct"]) / 100.0 for name in TYPE_GROUPS},
        served_share=served,
        hhi_rising=(first, last),
        price_band={
            str(t): (float(r.low_pct) / 100.0, float(r.high_pct) / 100.0)
            for t, r in prices.iterrows()
        },
        source={
            "price_band": "price_structure_2024.csv (PBOC, NFRA, platforms' product terms)",
            "online_share": "report_trajectory.csv online_share_pct",
            "avg_rate": "report_trajectory.csv avg_loan_rate_pct",
            "lending_growth": "report_trajectory.csv market_size_100m_cny, last / first year",
            "type_share": "report_type_shares_2023.csv share_pct (end 2023)",
            "served_share": "report_supply_demand.csv loans_issued / credit_demand",
            "hhi_rising": "report narrative: concentration keeps rising",
        },
    )


def summarise(
    yearly: pd.DataFrame, targets: Targets, types: pd.DataFrame | None = None
) -> dict[str, float]:
    """The simulated counterpart of every target, from one run's yearly tables.

    Keys: ``online_share_YYYY``, ``avg_rate_YYYY``, ``lending_growth``,
    ``type_share_GROUP`` (end of the first year), ``served_share_YYYY``,
    ``hhi_FIRST`` and ``hhi_LAST``; with ``types`` (``types_yearly``) also
    ``rate_TYPE`` (``PRICE_YEAR``) and ``platform_rate_p75``.
    """
    y = yearly.set_index("year")
    out: dict[str, float] = {}
    for year in targets.online_share:
        out[f"online_share_{year}"] = float(y.loc[year, "online_share"])
    for year in targets.avg_rate:
        out[f"avg_rate_{year}"] = float(y.loc[year, "avg_rate"])
    first, last = targets.growth_years
    out["lending_growth"] = float(y.loc[last, "lending"] / y.loc[first, "lending"])
    for group, members in TYPE_GROUPS.items():
        out[f"type_share_{group}"] = float(sum(y.loc[first, f"share_{t}"] for t in members))
    for year in targets.served_share:
        out[f"served_share_{year}"] = float(y.loc[year, "served_share"])
    a, b = targets.hhi_rising
    out[f"hhi_{a}"] = float(y.loc[a, "hhi"])
    out[f"hhi_{b}"] = float(y.loc[b, "hhi"])
    if types is not None:
        year = types[types["year"] == PRICE_YEAR].set_index("lender_type")
        for lender_type in targets.price_band:
            out[f"rate_{lender_type}"] = float(year.loc[lender_type, "rate"])
        out["platform_rate_p75"] = float(year.loc["online_platform", "rate_p75"])
    return out


def price_gaps(
    summary: dict[str, float], targets: Targets, margin: float = 0.0
) -> dict[str, float]:
    """How far each price-structure fact is missed (0 when it holds), in rate units.

    With a ``margin`` a type's rate must lie that far inside its band (the
    calibration aims inside, ``PRICE_MARGIN``, so seed noise does not carry the
    fit across a band's edge); acceptance uses the band itself.
    """
    gaps = {}
    for lender_type, (low, high) in targets.price_band.items():
        rate = summary[f"rate_{lender_type}"]
        low, high = low + margin, high - margin
        gaps[f"rate_{lender_type}"] = max(low - rate, 0.0) + max(rate - high, 0.0)
    spread = summary["rate_online_platform"] - summary["rate_bank"]
    gaps["platform_bank_spread"] = max(PLATFORM_SPREAD_MIN - spread, 0.0)
    gaps["platform_rate_p75"] = max(PLATFORM_HIGH_RATE - summary["platform_rate_p75"], 0.0)
    return gaps


def target_rows(targets: Targets) -> list[tuple[str, float, float]]:
    """``(key, target value, tolerance)`` for every point target, in report order."""
    rows = [
        (f"online_share_{y}", v, TOLERANCE["online_share"]) for y, v in targets.online_share.items()
    ]
    rows += [(f"avg_rate_{y}", v, TOLERANCE["avg_rate"]) for y, v in targets.avg_rate.items()]
    rows.append(
        (
            "lending_growth",
            targets.lending_growth,
            TOLERANCE["lending_growth"] * targets.lending_growth,
        )
    )
    rows += [(f"type_share_{g}", v, TOLERANCE["type_share"]) for g, v in targets.type_share.items()]
    rows += [
        (f"served_share_{y}", v, TOLERANCE["served_share"]) for y, v in targets.served_share.items()
    ]
    return rows


def misses(summary: dict[str, float], targets: Targets, scale: float = 1.0) -> list[str]:
    """Acceptance failures of a (seed-averaged) summary, tolerances multiplied by ``scale``.

    Served share is reported but not an acceptance criterion (the report says
    "about"); every other target must be within its tolerance and HHI must rise.
    """
    out = []
    for key, target, tol in target_rows(targets):
        if key.startswith(INFORMATION_GROUPS):
            continue
        if abs(summary[key] - target) > tol * scale:
            out.append(
                f"{key}: simulated {summary[key]:.4f}, target {target:.4f} +- {tol * scale:.4f}"
            )
    a, b = targets.hhi_rising
    if not summary[f"hhi_{b}"] > summary[f"hhi_{a}"]:
        out.append(
            f"hhi: {b} ({summary[f'hhi_{b}']:.0f}) not above {a} ({summary[f'hhi_{a}']:.0f})"
        )
    if "platform_rate_p75" in summary:
        for key, gap in price_gaps(summary, targets).items():
            if gap > 0:
                out.append(f"{key}: outside the price structure by {gap:.4f}")
    return out


def mean_summary(summaries: list[dict[str, float]]) -> dict[str, float]:
    """Average of per-seed summaries, key by key."""
    return {k: float(np.mean([s[k] for s in summaries])) for k in summaries[0]}
