"""Tidy tables from a run's monthly records: market by month and year, lenders and types by year.

:func:`build_tables` is the one place a run's tables are made (the run, the
sweep job and the benchmarks all use it); :func:`write_tables` writes them.

Money is in the report's unit, 100 million CNY (亿元); shares, rates and
ratios are fractions. Concentration is undefined (left empty) in a month or
year with nothing outstanding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from agents.lenders import LENDER_TYPES
from sim import metrics
from sim.calendar import format_month, month_year
from sim.clearing import UNMET_REASONS
from sim.config import SEGMENTS
from sim.output.atomic import write_csv, write_parquet
from sim.recorder import RATE_BIN, Recorder
from sim.regulator import EXIT_CAUSES

UNIT_CNY = 1e8  # 100 million CNY, the report's unit
MONEY_FLOWS = (
    "lending",
    "lending_online",
    "demand",
    "unmet",
    *(f"{kind}_{s}" for kind in ("demand", "lending", "unmet") for s in SEGMENTS),
    *(f"unmet_{r}" for r in UNMET_REASONS),
)
COUNT_FLOWS = ("entries", "exits", "acquisitions", "deals_blocked", "inspections")


def positive_shares(amounts: np.ndarray) -> np.ndarray:
    """Shares of ``amounts``, summed over the positive entries only.

    Lenders that have not entered yet hold zeros; leaving them out of the sum
    keeps results identical to the last bit whatever the number of lenders.
    """
    out = np.zeros(amounts.size)
    positive = amounts > 0
    out[positive] = metrics.shares(amounts[positive])
    return out


def concentration(amounts: np.ndarray, suffix: str = "") -> dict[str, float]:
    """HHI, CR4, CR5, entropy and Hannah-Kay (alpha 2) of one amount vector."""
    s = metrics.shares(amounts[amounts > 0])
    return {
        f"hhi{suffix}": metrics.hhi(s),
        f"cr4{suffix}": metrics.concentration_ratio(s, 4),
        f"cr5{suffix}": metrics.concentration_ratio(s, 5),
        f"entropy{suffix}": metrics.entropy(s),
        f"hannah_kay{suffix}": metrics.hannah_kay(s, 2.0),
    }


def type_shares(amounts: np.ndarray, types: np.ndarray, prefix: str) -> dict[str, float]:
    """Share of each lender type in ``amounts``, as ``{prefix}{type}`` columns."""
    positive = amounts > 0
    shares = metrics.group_shares(amounts[positive], types[positive], list(LENDER_TYPES))
    return {f"{prefix}{t}": shares[t] for t in LENDER_TYPES}


def _period_row(
    rec: Recorder, months: np.ndarray, types: np.ndarray, flows: dict[str, float]
) -> dict[str, float]:
    """Market figures for a period: ``months`` are record rows; stocks at the last one."""
    last = months[-1]
    outstanding = rec.lender_matrix("outstanding")[last]
    funded = rec.lender_matrix("funded")[last]
    new = rec.lender_matrix("new_lending")[months].sum(axis=0)
    row: dict[str, float] = {}
    row.update(concentration(outstanding))
    row.update(concentration(new, "_new"))
    row.update(concentration(funded, "_funder"))
    row["online_share"] = metrics.safe_ratio(flows["lending_online"], flows["lending"])
    row["avg_rate"] = metrics.safe_ratio(flows["rate_x_lending"], flows["lending"])
    row["new_loan_pd"] = metrics.safe_ratio(flows["pd_x_lending"], flows["lending"])
    row["npl_ratio"] = metrics.safe_ratio(rec.market["npl"][last], funded[funded > 0].sum())
    row["served_share"] = metrics.safe_ratio(flows["lending"], flows["demand"])
    for name in MONEY_FLOWS:
        row[name] = flows[name] / UNIT_CNY
    row["outstanding"] = rec.market["outstanding"][last] / UNIT_CNY
    row["n_active"] = int(rec.market["n_active"][last])
    for name in COUNT_FLOWS:
        row[name] = int(flows[name])
    row["penalties"] = flows["penalties"] / UNIT_CNY
    row.update(type_shares(outstanding, types, "share_"))
    row.update(type_shares(new, types, "share_new_"))
    row.update(type_shares(funded, types, "share_funded_"))
    row.update(_hhi_decomposition(rec, months, row["hhi"]))
    return row


def _exits_in(rec: Recorder, months: np.ndarray) -> list:
    """The exits recorded in the record rows ``months`` (consecutive)."""
    first, last = int(rec.months[months[0]]), int(rec.months[months[-1]])
    return [e for e in rec.exits if first <= e.month <= last]


def _hhi_decomposition(rec: Recorder, months: np.ndarray, hhi_now: float) -> dict[str, float]:
    """The period's change in HHI, its static merger effect and the rest; deals by cause.

    The change is from the end of the previous period (the opening book for the
    first); the merger effect adds ``2 s_a s_t x 10,000`` for each deal, shares
    taken just before it; the rest is organic growth, entry and exit.
    """
    start = months[0]
    before = rec.lender_matrix("outstanding")[start - 1] if start > 0 else rec.opening_outstanding
    hhi_before = concentration(np.asarray(before))["hhi"]
    exits = _exits_in(rec, months)
    merger = float(sum(e.hhi_effect for e in exits))
    change = hhi_now - hhi_before
    return {
        "hhi_change": change,
        "hhi_merger_effect": merger,
        "hhi_other_change": change - merger,
        **{f"n_{cause}": sum(e.cause == cause for e in exits) for cause in EXIT_CAUSES},
    }


def _flows(rec: Recorder, months: np.ndarray) -> dict[str, float]:
    names = (*MONEY_FLOWS, "rate_x_lending", "pd_x_lending", *COUNT_FLOWS, "penalties")
    return {name: float(rec.market[name][months].sum()) for name in names}


def market_monthly(rec: Recorder, types: np.ndarray) -> pd.DataFrame:
    """One row per simulated month."""
    rows = []
    for t, month in enumerate(rec.months):
        months = np.array([t])
        row = {"month": format_month(int(month)), "year": month_year(int(month))}
        row.update(_period_row(rec, months, types, _flows(rec, months)))
        rows.append(row)
    return pd.DataFrame(rows)


def _year_groups(rec: Recorder) -> dict[int, np.ndarray]:
    years = np.array([month_year(int(m)) for m in rec.months])
    return {int(y): np.flatnonzero(years == y) for y in np.unique(years)}


def market_yearly(rec: Recorder, types: np.ndarray) -> pd.DataFrame:
    """One row per calendar year: flows summed over the year, stocks at its last month."""
    rows = []
    for year, months in _year_groups(rec).items():
        row: dict[str, float] = {"year": year}
        row.update(_period_row(rec, months, types, _flows(rec, months)))
        rows.append(row)
    return pd.DataFrame(rows)


def lenders_yearly(rec: Recorder, types: np.ndarray) -> pd.DataFrame:
    """One row per lender and year, for every lender alive or holding loans that year."""
    frames = []
    type_names = np.array(LENDER_TYPES)[types]
    for year, months in _year_groups(rec).items():
        last = months[-1]
        outstanding = rec.lender_matrix("outstanding")[last]
        funded = rec.lender_matrix("funded")[last]
        new = rec.lender_matrix("new_lending")[months].sum(axis=0)
        rate_x = rec.lender_matrix("rate_x_lending")[months].sum(axis=0)
        active_any = rec.lender_matrix("active")[months].max(axis=0) > 0
        left = np.zeros(active_any.size, dtype=bool)
        left[[e.lender for e in _exits_in(rec, months)]] = True  # its exit year, bought in January
        keep = np.flatnonzero(active_any | (outstanding > 0) | (funded > 0) | left)
        equity = rec.lender_matrix("equity")[last]
        profit = rec.lender_matrix("profit")[last]  # December's profit since January
        with np.errstate(divide="ignore", invalid="ignore"):
            roe = np.where(equity > 0, profit / equity, np.nan)
            rate = np.where(new > 0, rate_x / new, np.nan)
            npl_ratio = np.where(funded > 0, rec.lender_matrix("npl")[last] / funded, np.nan)
            capital_ratio = np.where(funded > 0, equity / funded, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "year": year,
                    "lender_id": keep,
                    "lender_type": type_names[keep],
                    "outstanding": outstanding[keep] / UNIT_CNY,
                    "new_lending": new[keep] / UNIT_CNY,
                    "share": positive_shares(outstanding)[keep],
                    "rate": rate[keep],
                    "npl_ratio": npl_ratio[keep],
                    "capital_ratio": capital_ratio[keep],
                    "active": rec.lender_matrix("active")[last][keep].astype(int),
                    "funded": funded[keep] / UNIT_CNY,
                    "share_new": positive_shares(new)[keep],
                    "share_funded": positive_shares(funded)[keep],
                    "equity": equity[keep] / UNIT_CNY,
                    "profit": profit[keep] / UNIT_CNY,
                    "roe": roe[keep],
                    "technology": rec.lender_matrix("technology")[last][keep],
                    "markup": rec.lender_matrix("markup")[last][keep],
                    **_exit_columns(rec, months, keep),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _exit_columns(rec: Recorder, months: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """How each of the lenders ``keep`` left in these months ('' if it did not) and its buyer."""
    cause = np.full(keep.size, "", dtype=object)
    acquirer = np.full(keep.size, np.nan)
    position = {int(lender): k for k, lender in enumerate(keep)}
    for e in _exits_in(rec, months):
        k = position[e.lender]
        cause[k] = e.cause
        acquirer[k] = e.acquirer if e.acquirer >= 0 else np.nan
    return {"exit_cause": cause, "acquirer": acquirer}


RATE_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def type_rates(rec: Recorder) -> pd.DataFrame:
    """Per type and year: volume-weighted new-loan rate quantiles (``rate_p10`` ...).

    From the recorded volume by 0.1-point rate bin, linear within a bin; empty
    where the type lent nothing that year.
    """
    rows = []
    for year, months in _year_groups(rec).items():
        volume = rec.rate_volume[months].sum(axis=0)
        for code, lender_type in enumerate(LENDER_TYPES):
            q = metrics.histogram_quantiles(volume[code], RATE_BIN, RATE_QUANTILES)
            row = {"year": year, "lender_type": lender_type}
            for p, value in zip(RATE_QUANTILES, q, strict=True):
                row[f"rate_p{round(100 * p)}"] = value
            rows.append(row)
    return pd.DataFrame(rows)


def types_yearly(lenders: pd.DataFrame, years: list[int] | None = None) -> pd.DataFrame:
    """One row per lender type and year: balances, lending, shares, active lenders, exits.

    ``years`` (default: those in ``lenders``) lists every year of the run, so a
    year in which no lender held anything still has its rows, all zero. ``rate``
    is the volume-weighted new-loan rate (empty without new lending); ``profit``
    the year's profit of the type's lenders (before tax, 100m CNY) and ``roe``
    that profit over their positive equity at the year's end.
    """
    lenders = lenders.assign(
        rate_x_new=lenders["rate"].fillna(0.0) * lenders["new_lending"],
        equity_held=lenders["equity"].clip(lower=0.0),
        **{f"n_{cause}": lenders["exit_cause"] == cause for cause in EXIT_CAUSES},
    )
    grouped = lenders.groupby(["year", "lender_type"], sort=True)
    out = grouped.agg(
        outstanding=("outstanding", "sum"),
        new_lending=("new_lending", "sum"),
        funded=("funded", "sum"),
        share=("share", "sum"),
        share_new=("share_new", "sum"),
        share_funded=("share_funded", "sum"),
        n_active=("active", "sum"),
        rate_x_new=("rate_x_new", "sum"),
        profit=("profit", "sum"),
        equity_held=("equity_held", "sum"),
        **{f"n_{cause}": (f"n_{cause}", "sum") for cause in EXIT_CAUSES},
    ).reset_index()
    full = pd.MultiIndex.from_product(
        [sorted(lenders["year"].unique()) if years is None else sorted(years), list(LENDER_TYPES)],
        names=["year", "lender_type"],
    )
    out = out.set_index(["year", "lender_type"]).reindex(full, fill_value=0).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(out["new_lending"] > 0, out["rate_x_new"] / out["new_lending"], np.nan)
        roe = np.where(out["equity_held"] > 0, out["profit"] / out["equity_held"], np.nan)
    return out.drop(columns=["rate_x_new", "equity_held"]).assign(rate=rate, roe=roe)


def build_tables(rec: Recorder, types: np.ndarray) -> dict[str, pd.DataFrame]:
    """Every table of a run from its records and each lender's type code, by file stem."""
    yearly = market_yearly(rec, types)
    lenders = lenders_yearly(rec, types)
    return {
        "market_monthly": market_monthly(rec, types),
        "market_yearly": yearly,
        "lenders_yearly": lenders,
        "types_yearly": types_yearly(lenders, yearly["year"].tolist()).merge(
            type_rates(rec), on=["year", "lender_type"], how="left"
        ),
    }


TABLE_NAMES = ("market_monthly", "market_yearly", "lenders_yearly", "types_yearly",
               "regulation_monthly")
"""The tables of a run, by file stem (``regulation_monthly`` is added by the run)."""

TABLES = tuple(f"{name}.{kind}" for name in TABLE_NAMES for kind in ("csv", "parquet"))
"""The files :func:`write_tables` writes: each table as CSV and as Parquet."""


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write each table atomically as ``out_dir/NAME.csv`` and ``NAME.parquet``; return the paths.

    Both files hold the same columns in the same order; the Parquet file keeps
    each column's type (``exit_cause`` and ``month`` as strings, flags as booleans).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables.items():
        paths.append(write_csv(table, out_dir / f"{name}.csv"))
        paths.append(write_parquet(table, out_dir / f"{name}.parquet"))
    return paths
