"""Invariant checks shared by the property and extreme-scenario tests.

:func:`simulate_checked` runs :func:`sim.run.simulate` with a model that checks
the accounting after every month (:func:`check_month`); :func:`check_tables`
checks the tables it returns. Each check raises ``AssertionError`` naming the
month, lender or column that breaks the rule. The rules are documented in
``docs/robustness.md``.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd

import sim.run
from agents.lenders import LENDER_TYPES
from sim.calendar import format_month
from sim.config import SimConfig
from sim.model import MarketModel
from sim.output.tables import UNIT_CNY

REL = 1e-9  # relative tolerance of accounting identities (float rounding only)
CONCENTRATION = ("hhi", "cr4", "cr5", "entropy", "hannah_kay")


class CheckedModel(MarketModel):
    """The market model, checking its accounting after every month."""

    last: CheckedModel | None = None

    def __init__(self, cfg: SimConfig, *args, **kwargs) -> None:
        super().__init__(cfg, *args, **kwargs)
        CheckedModel.last = self
        self.n_positive: list[int] = []  # lenders with positive outstanding, by month
        self.n_active_monthly: list[int] = []
        self.months_checked = 0

    def step(self) -> None:
        """One month, then every accounting invariant."""
        month = self.month
        super().step()
        by_originator = check_month(self, month)
        self.n_positive.append(int((by_originator > 0).sum()))
        self.n_active_monthly.append(int(self.book.active.sum()))
        self.months_checked += 1


def check_month(model: MarketModel, month: int) -> np.ndarray:
    """Balance sheets, loan books and signs after a month; return outstanding by originator
    (performing loans and NPLs, as the tables count it).
    """
    book, pop = model.book, model.population
    label = format_month(month)
    by_originator, performing = pop.outstanding_by(book.n)
    funded = performing + book.npl  # gross: the performing loans and the NPLs
    scale = max(float(np.abs(book.loans).sum()), float(np.abs(book.equity).sum()), 1.0)
    residual = book.balance_residual()
    assert np.all(np.isfinite(residual)), f"{label}: non-finite balance sheet"
    worst = int(np.argmax(np.abs(residual))) if residual.size else 0
    assert residual.size == 0 or abs(residual[worst]) <= REL * scale, (
        f"{label}: lender {worst} cash + loans - provisions - debt - equity = {residual[worst]!r}"
    )
    assert np.allclose(book.loans, funded, rtol=REL, atol=REL * scale), (
        f"{label}: booked loans differ from the borrowers' balances by "
        f"{np.abs(book.loans - funded).max()!r}"
    )
    assert np.allclose(book.npl, book.npl_by_age.sum(axis=1), rtol=REL, atol=REL * scale), (
        f"{label}: npl differs from its ages"
    )
    tol = -REL * scale
    assert book.npl_by_age.min(initial=0.0) >= tol, f"{label}: negative aged npl"
    originated_npl = book.originated_npl()
    by_originator = by_originator + originated_npl
    assert np.isclose(originated_npl.sum(), book.npl.sum(), rtol=REL, atol=REL * scale), (
        f"{label}: NPLs by originator and by funder differ in total"
    )
    for name in ("cash", "loans", "npl", "provisions", "debt"):
        assert getattr(book, name).min(initial=0.0) >= tol, f"{label}: negative {name}"
    assert np.all(book.npl <= book.loans - tol), f"{label}: npl above loans"
    assert by_originator.min(initial=0.0) >= 0.0, f"{label}: negative outstanding"
    assert pop.balance.min() >= 0.0, f"{label}: a borrower owes a negative balance"
    has_loan = pop.lender >= 0
    assert np.all(pop.balance[~has_loan] == 0.0), f"{label}: balance without a loan"
    assert np.all(pop.lender < book.n) and np.all(pop.funder < book.n)
    assert np.all((pop.own_share >= 0.0) & (pop.own_share <= 1.0))
    partnered = has_loan & (pop.own_share < 1.0)
    assert np.all(pop.funder[partnered] >= 0), f"{label}: co-lent loan without a funder"
    for name in ("equity", "markup", "technology", "online_capability"):
        assert np.all(np.isfinite(getattr(book, name))), f"{label}: non-finite {name}"
    return by_originator


def simulate_checked(cfg: SimConfig) -> tuple[dict[str, pd.DataFrame], CheckedModel]:
    """``sim.run.simulate(cfg)`` with every month checked; the tables and the model."""
    with mock.patch.object(sim.run, "MarketModel", CheckedModel):
        tables = sim.run.simulate(cfg)
    model = CheckedModel.last
    assert model is not None and model.months_checked == len(model.months)
    return tables, model


def _nan_exactly_when(frame: pd.DataFrame, column: str, undefined: pd.Series, where: str) -> None:
    values = frame[column].astype(float)
    assert not np.isinf(values).any(), f"{where}.{column}: infinite"
    bad_nan = values.isna() & ~undefined
    assert not bad_nan.any(), f"{where}.{column}: empty in rows {list(frame.index[bad_nan])}"
    bad_value = values.notna() & undefined
    assert not bad_value.any(), (
        f"{where}.{column}: set where undefined, rows {list(frame.index[bad_value])}"
    )


def _shares_sum(frame: pd.DataFrame, columns: list[str], defined: pd.Series, where: str) -> None:
    block = frame[columns].astype(float)
    assert ((block >= 0.0) & (block <= 1.0 + 1e-12)).all().all(), f"{where}: a share outside [0, 1]"
    total = block.sum(axis=1)
    assert np.allclose(total[defined], 1.0, atol=1e-9), f"{where}: shares do not sum to 1"
    assert np.all(total[~defined] == 0.0), f"{where}: shares of an empty market are not 0"


def check_market_table(frame: pd.DataFrame, n_positive: list[int] | None, where: str) -> None:
    """A market table (monthly or yearly): signs, empty cells only where undefined, shares, HHI."""
    numeric = frame.select_dtypes("number")
    assert not np.isinf(numeric.to_numpy(dtype=float)).any(), f"{where}: infinite value"
    outstanding = frame["outstanding"] > 0
    lent = frame["lending"] > 0
    rules = {
        **{c: ~outstanding for c in CONCENTRATION},
        **{f"{c}_funder": ~outstanding for c in CONCENTRATION},
        **{f"{c}_new": ~lent for c in CONCENTRATION},
        "online_share": ~lent,
        "avg_rate": ~lent,
        "new_loan_pd": ~lent,
        "npl_ratio": ~outstanding,
        "served_share": ~(frame["demand"] > 0),
    }
    # a change in HHI needs HHI at both ends (the first period starts from the opening
    # book, which has loans in every test configuration)
    no_change = ~outstanding | ~outstanding.shift(1, fill_value=True)
    rules.update(hhi_change=no_change, hhi_other_change=no_change)
    for column, undefined in rules.items():
        _nan_exactly_when(frame, column, undefined, where)
    others = [c for c in numeric.columns if c not in rules]
    assert not frame[others].isna().any().any(), f"{where}: empty cells in {others}"
    scale = max(float(frame["demand"].abs().max()), 1.0)
    for column in ("lending", "lending_online", "demand", "unmet", "outstanding", "penalties"):
        assert frame[column].min() >= -REL * scale, f"{where}.{column}: negative"
    assert np.all(frame["lending_online"] <= frame["lending"] * (1 + REL) + REL)
    for column in ("n_active", "entries", "exits", "acquisitions", "inspections"):
        assert frame[column].min() >= 0, f"{where}.{column}: negative"
    _shares_sum(frame, [f"share_{t}" for t in LENDER_TYPES], outstanding, f"{where} share_*")
    _shares_sum(frame, [f"share_new_{t}" for t in LENDER_TYPES], lent, f"{where} share_new_*")
    _shares_sum(
        frame, [f"share_funded_{t}" for t in LENDER_TYPES], outstanding, f"{where} share_funded_*"
    )
    for suffix in ("", "_new", "_funder"):
        hhi = frame[f"hhi{suffix}"].dropna()
        assert ((hhi > 0) & (hhi <= 10_000 * (1 + 1e-12))).all(), f"{where}.hhi{suffix} range"
        cr4, cr5 = frame[f"cr4{suffix}"].dropna(), frame[f"cr5{suffix}"].dropna()
        assert ((cr4 > 0) & (cr4 <= cr5 + 1e-12) & (cr5 <= 1 + 1e-12)).all()
    if n_positive is not None:
        n = np.asarray(n_positive)
        hhi = frame["hhi"].to_numpy(dtype=float)
        has = n > 0
        assert np.array_equal(has, outstanding.to_numpy()), f"{where}: outstanding vs lenders"
        assert np.all(hhi[has] >= 10_000 / n[has] * (1 - 1e-9)), f"{where}: hhi below 10,000/n"


def check_lender_tables(lenders: pd.DataFrame, types: pd.DataFrame, yearly: pd.DataFrame) -> None:
    """Lender and type tables: shares, HHI bounds by year, empty cells only where undefined."""
    numeric = lenders.select_dtypes("number")
    assert not np.isinf(numeric.to_numpy(dtype=float)).any(), "lenders_yearly: infinite value"
    _nan_exactly_when(lenders, "rate", lenders["new_lending"] <= 0, "lenders_yearly")
    for column in ("npl_ratio", "capital_ratio"):
        _nan_exactly_when(lenders, column, lenders["funded"] <= 0, "lenders_yearly")
    bought = lenders["exit_cause"].isin(["acquired_failing", "acquired_distressed"])
    _nan_exactly_when(lenders, "acquirer", ~bought, "lenders_yearly")
    _nan_exactly_when(lenders, "roe", lenders["equity"] <= 0, "lenders_yearly")
    ratios = ("rate", "npl_ratio", "capital_ratio", "acquirer", "roe")
    others = [c for c in numeric.columns if c not in ratios]
    assert not lenders[others].isna().any().any(), "lenders_yearly: empty cells"
    for column in ("outstanding", "new_lending", "funded"):
        assert (lenders[column] >= 0.0).all(), f"lenders_yearly.{column}: negative"
    for column in ("share", "share_new", "share_funded"):
        assert lenders[column].between(0.0, 1.0 + 1e-12).all(), f"lenders_yearly.{column}"
    assert set(lenders["active"].unique()) <= {0, 1}
    by_year = yearly.set_index("year")
    for year, group in lenders.groupby("year"):
        row = by_year.loc[year]
        for column, amount in (
            ("share", "outstanding"),
            ("share_new", "new_lending"),
            ("share_funded", "funded"),
        ):
            total = group[column].sum()
            expected = 1.0 if group[amount].sum() > 0 else 0.0
            assert abs(total - expected) <= 1e-9, f"{year}: lenders' {column} sum to {total}"
        n = int((group["outstanding"] > 0).sum())
        if n:
            assert 10_000 / n * (1 - 1e-9) <= row["hhi"] <= 10_000 * (1 + 1e-12), year
            squares = 10_000 * float((group["share"] ** 2).sum())
            assert abs(row["hhi"] - squares) <= 1e-9 * squares, f"{year}: hhi != sum of squares"
        else:
            assert np.isnan(row["hhi"]), f"{year}: hhi set with nothing outstanding"
        assert abs(group["outstanding"].sum() - row["outstanding"]) <= 1e-9 * max(
            row["outstanding"], 1.0 / UNIT_CNY
        ), f"{year}: lenders' outstanding do not add up to the market's"
    rates = [c for c in types.columns if c == "rate" or c.startswith("rate_p")]
    for column in rates:  # a type's rates are undefined exactly when it lent nothing
        _nan_exactly_when(types, column, types["new_lending"] <= 0, "types_yearly")
    # a type's ROE is undefined exactly when none of its lenders holds positive equity
    held = lenders.assign(held=lenders["equity"].clip(lower=0.0))
    held = held.groupby(["year", "lender_type"])["held"].sum()
    keys = pd.MultiIndex.from_frame(types[["year", "lender_type"]])
    no_equity = held.reindex(keys, fill_value=0.0).to_numpy() <= 0
    _nan_exactly_when(types, "roe", pd.Series(no_equity, index=types.index), "types_yearly")
    others = [
        c for c in types.select_dtypes("number").columns if c not in rates and c != "roe"
    ]
    assert not types[others].isna().any().any(), "types_yearly: empty cells"
    expected = [(y, t) for y in yearly["year"] for t in LENDER_TYPES]
    assert list(zip(types["year"], types["lender_type"], strict=True)) == expected, "type rows"
    for year, group in types.groupby("year"):
        total = group["share"].sum()
        assert abs(total - (1.0 if group["outstanding"].sum() > 0 else 0.0)) <= 1e-9, year


def check_tables(tables: dict[str, pd.DataFrame], model: CheckedModel) -> None:
    """Every table invariant of one run."""
    monthly, yearly = tables["market_monthly"], tables["market_yearly"]
    assert len(monthly) == len(model.months)
    check_market_table(monthly, model.n_positive, "market_monthly")
    check_market_table(yearly, None, "market_yearly")
    check_lender_tables(tables["lenders_yearly"], tables["types_yearly"], yearly)
    # a month with no active lender lends nothing
    idle = np.asarray(model.n_active_monthly) == 0
    assert np.all(monthly["lending"].to_numpy()[idle] == 0.0), "lending with no lender active"
    assert np.all(monthly["n_active"].to_numpy() == np.asarray(model.n_active_monthly))
