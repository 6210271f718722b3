"""The output arithmetic for unmet demand by reason, merger effects, rate quantiles and ROE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.clearing import (
    REFUSED_CAPACITY,
    REFUSED_LOAN_CAP,
    REFUSED_RATE_CAP,
    REFUSED_RISK,
    UNMET_REASONS,
    decisive,
    unmet_reason,
)
from sim.metrics import histogram_quantiles, merger_hhi_effect
from sim.output.tables import types_yearly


def test_merger_effect_is_twice_the_product_of_shares():
    """Shares 0.3 and 0.2 combine to 0.5: 0.25 - 0.09 - 0.04 = 0.12, i.e. 1,200 HHI points."""
    assert merger_hhi_effect(0.3, 0.2) == pytest.approx(1200.0)
    assert merger_hhi_effect(0.5, 0.0) == 0.0


def test_histogram_quantiles_of_an_even_spread():
    """Equal weight in bins [0, 1) and [1, 2) is uniform on [0, 2): quantile q is 2q."""
    q = histogram_quantiles([1.0, 1.0], 1.0, [0.0, 0.25, 0.5, 0.9, 1.0])
    assert q == pytest.approx([0.0, 0.5, 1.0, 1.8, 2.0])


def test_histogram_quantiles_skip_empty_bins_and_scale_by_width():
    """Weights 3, 0, 1 in bins of 0.001: the median (weight 2 of 4) lies 2/3 into bin 0."""
    q = histogram_quantiles([3.0, 0.0, 1.0], 0.001, [0.5, 0.875])
    assert q == pytest.approx([0.001 * 2 / 3, 0.0025])  # 3.5 of 4: half-way into bin 2


def test_histogram_quantiles_without_volume_are_undefined():
    """Nothing lent: every quantile is NaN."""
    assert np.isnan(histogram_quantiles([0.0, 0.0], 0.001, [0.1, 0.9])).all()


def test_a_risk_refusal_is_risk_only():
    """A lender that finds the risk too high refuses whatever the rules: the mask keeps risk."""
    masks = np.array([REFUSED_RISK | REFUSED_RATE_CAP, REFUSED_RATE_CAP, REFUSED_LOAN_CAP, 0])
    assert decisive(masks).tolist() == [REFUSED_RISK, REFUSED_RATE_CAP, REFUSED_LOAN_CAP, 0]


@pytest.mark.parametrize(
    ("mask", "reason"),
    [
        (REFUSED_RISK | REFUSED_RATE_CAP, "rate_cap"),  # one lender stopped by the cap alone
        (REFUSED_RISK | REFUSED_CAPACITY, "capacity"),
        (REFUSED_LOAN_CAP | REFUSED_CAPACITY, "loan_cap"),
        (REFUSED_RISK, "risk_screening"),
        (0, "no_lender"),
    ],
)
def test_unmet_reason_follows_the_documented_order(mask, reason):
    """An applicant's reason is the first of rate cap, loan cap, capacity, risk it met."""
    assert UNMET_REASONS[unmet_reason(np.array([mask], dtype=np.uint8))[0]] == reason


def test_type_roe_is_the_types_profit_over_its_positive_equity():
    """Two banks with profit 3 and -1 and equity 20 and -5: ROE (3 - 1) / 20 = 0.1.

    Negative equity (a failed lender) adds nothing to the equity held, its loss
    counts in the profit; a type without equity has no ROE.
    """
    lenders = pd.DataFrame(
        {
            "year": [2024, 2024, 2024],
            "lender_type": ["bank", "bank", "credit_cooperative"],
            "outstanding": [10.0, 5.0, 1.0],
            "new_lending": [4.0, 0.0, 1.0],
            "funded": [10.0, 5.0, 1.0],
            "share": [0.6, 0.3, 0.1],
            "share_new": [0.8, 0.0, 0.2],
            "share_funded": [0.6, 0.3, 0.1],
            "active": [1, 0, 1],
            "rate": [0.09, np.nan, 0.1],
            "exit_cause": ["", "failed", ""],
            "profit": [3.0, -1.0, 0.5],
            "equity": [20.0, -5.0, 0.0],
        }
    )
    out = types_yearly(lenders).set_index("lender_type")
    assert out.loc["bank", "profit"] == pytest.approx(2.0)
    assert out.loc["bank", "roe"] == pytest.approx(0.1)
    assert np.isnan(out.loc["credit_cooperative", "roe"])
    assert np.isnan(out.loc["online_platform", "roe"])
