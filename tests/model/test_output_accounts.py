"""A run's new accounts add up: unmet demand by reason, the HHI decomposition, exits by cause."""

from __future__ import annotations

import numpy as np
import pytest

from sim.clearing import UNMET_REASONS
from sim.regulator import EXIT_CAUSES
from tests.conftest import run_tables

RUN = ("market.n_borrowers=8000", "seed=3")


@pytest.fixture(scope="module")
def tables():
    """A small baseline run with its acquisitions (the baseline allows them)."""
    return run_tables(*RUN)


@pytest.mark.parametrize("name", ["market_monthly", "market_yearly"])
def test_unmet_by_reason_adds_up_to_unmet(tables, name):
    """Every unit of unmet demand has exactly one reason: the reasons sum to ``unmet``."""
    frame = tables[name]
    by_reason = frame[[f"unmet_{r}" for r in UNMET_REASONS]].sum(axis=1)
    assert np.allclose(by_reason, frame["unmet"], rtol=1e-9, atol=1e-9)
    assert (frame[[f"unmet_{r}" for r in UNMET_REASONS]] >= -1e-9).all().all()


def test_hhi_changes_telescope_and_split(tables):
    """Yearly HHI changes add up to the last year's HHI minus the opening one's (months
    likewise), and each change is its merger effect plus the rest.
    """
    yearly, monthly = tables["market_yearly"], tables["market_monthly"]
    opening = yearly["hhi"].iloc[0] - yearly["hhi_change"].iloc[0]
    assert monthly["hhi"].iloc[0] - monthly["hhi_change"].iloc[0] == pytest.approx(opening)
    assert yearly["hhi_change"].sum() == pytest.approx(yearly["hhi"].iloc[-1] - opening)
    assert monthly["hhi_change"].sum() == pytest.approx(yearly["hhi"].iloc[-1] - opening)
    parts = yearly["hhi_merger_effect"] + yearly["hhi_other_change"]
    assert np.allclose(parts, yearly["hhi_change"])
    assert monthly["hhi_merger_effect"].sum() == pytest.approx(yearly["hhi_merger_effect"].sum())


def test_exits_by_cause_agree_across_tables(tables):
    """Deals and wind-downs counted by cause match the market's counts, by year and by type."""
    yearly, types = tables["market_yearly"], tables["types_yearly"]
    lenders = tables["lenders_yearly"]
    acquired = yearly["n_acquired_failing"] + yearly["n_acquired_distressed"]
    assert (acquired == yearly["acquisitions"]).all()
    wound_down = yearly["n_failed"] + yearly["n_voluntary"] + yearly["n_licence_lost"]
    assert (wound_down == yearly["exits"]).all()
    assert acquired.sum() > 0  # the premise: this run has deals
    for cause in EXIT_CAUSES:
        by_type = types.groupby("year")[f"n_{cause}"].sum().to_numpy()
        assert (by_type == yearly[f"n_{cause}"].to_numpy()).all(), cause
        assert (lenders["exit_cause"] == cause).sum() == yearly[f"n_{cause}"].sum()
    bought = lenders[lenders["exit_cause"].str.startswith("acquired").fillna(False)]
    assert bought["acquirer"].notna().all() and (bought["active"] == 0).all()


def test_rate_quantiles_are_ordered_and_under_the_cap(tables):
    """By type and year, 0 < p10 <= p25 <= p50 <= p75 <= p90 <= the 24 % cap plus one bin
    (no loan is priced above the cap; quantiles are exact to one 0.1-point bin), and the
    volume-weighted mean rate is under the cap too.
    """
    types = tables["types_yearly"].dropna(subset=["rate"])
    q = types[["rate_p10", "rate_p25", "rate_p50", "rate_p75", "rate_p90"]].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-12).all()
    assert (q[:, 0] > 0).all() and (q[:, -1] <= 0.24 + 1e-3).all()
    assert (types["rate"] <= 0.24).all()


def test_merger_review_blocks_deals():
    """In the consolidation scenario, review at HHI 0 / rise 0 blocks the preferred buyer of
    nearly every deal: fewer acquisitions than with review off (HHI threshold 10,000),
    which blocks none (same seed). Its effect on HHI is not asserted: a lender nobody may
    buy is wound down and its borrowers move to the lenders with room, often the largest.
    """
    small = ("scenario=consolidation", "market.n_borrowers=8000", "seed=2")
    off = run_tables(*small, "regulation.merger_review_hhi=10000")["market_yearly"]
    strict = run_tables(
        *small, "regulation.merger_review_hhi=0", "regulation.merger_review_delta=0"
    )["market_yearly"]
    assert off["deals_blocked"].sum() == 0 and strict["deals_blocked"].sum() > 0
    assert strict["acquisitions"].sum() < off["acquisitions"].sum()
