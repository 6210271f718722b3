"""Policy statistics on hand-made numbers: Wilson intervals, seeds needed, significance,
thresholds and exceedance, the year-by-year paired comparison and the metric registry.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scenarios.sweep.paired import resolution_summary, yearly_comparison
from scenarios.sweep.registry import METRICS, metric, parameter, point_display
from scenarios.sweep.stats import (
    PairedDifference,
    seeds_needed,
    seeds_to_exclude_zero,
    significant,
    wilson_interval,
)
from scenarios.sweep.summary import resolution_sentences
from scenarios.sweep.threshold import Threshold, exceedance, parse_threshold, run_outcomes

Z95 = 1.959963984540054  # the standard normal's 97.5 % point


def test_wilson_interval_of_three_in_ten_matches_the_formula_by_hand():
    """3 of 10: p = 0.3; centre (0.3 + z^2/20) / (1 + z^2/10), half-width
    z sqrt(0.021 + z^2/400) / (1 + z^2/10): [0.1078, 0.6032] (the textbook values).
    """
    w = wilson_interval(3, 10)
    denominator = 1 + Z95**2 / 10
    centre = (0.3 + Z95**2 / 20) / denominator
    half = Z95 * math.sqrt(0.3 * 0.7 / 10 + Z95**2 / 400) / denominator
    assert (w.k, w.n, w.p) == (3, 10, 0.3)
    assert w.low == pytest.approx(centre - half) and w.high == pytest.approx(centre + half)
    assert (w.low, w.high) == (pytest.approx(0.1078, abs=1e-4), pytest.approx(0.6032, abs=1e-4))


def test_wilson_interval_at_zero_has_closed_form_upper_bound_and_bad_counts_are_refused():
    """0 of n: the interval is [0, z^2 / (n + z^2)]; k > n or k < 0 raises; n = 0 is nan."""
    w = wilson_interval(0, 10)
    assert w.low == 0 and w.high == pytest.approx(Z95**2 / (10 + Z95**2))
    assert wilson_interval(10, 10).high == 1 and math.isnan(wilson_interval(0, 0).p)
    for k, n in ((11, 10), (-1, 3)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            wilson_interval(k, n)


def test_seeds_needed_is_the_rounded_up_normal_formula_with_a_floor_of_two():
    """Seeds n = ceil((z sd / h)^2): sd 200, h 100 gives ceil(15.37) = 16; sd 10, h 100 gives
    ceil(0.038) = 1, raised to 2 (a t-interval needs two pairs); no half-width: nan.
    """
    assert seeds_needed(200.0, 100.0) == math.ceil((Z95 * 2) ** 2) == 16
    assert seeds_needed(10.0, 100.0) == 2
    assert seeds_needed(50.0, 50.0 * Z95 / 3) == 9  # (z sd / h)^2 = 9 exactly: not 10
    assert math.isnan(seeds_needed(float("nan"), 1.0)) and math.isnan(seeds_needed(1.0, 0.0))


def test_significant_means_the_interval_excludes_zero():
    """(1, 3) and (-3, -1) exclude zero; (-1, 3) does not; an undefined interval is not."""
    assert significant(PairedDifference(3, 2, 1, 1, 3))
    assert significant(PairedDifference(3, -2, 1, -3, -1))
    assert not significant(PairedDifference(3, 1, 1, -1, 3))
    assert not significant(PairedDifference(1, 1, np.nan, np.nan, np.nan))


def test_thresholds_parse_and_bad_ones_are_refused_naming_the_known_metrics():
    """``hhi>1800`` and ``served_share<0.65`` parse; ``hhi=1800`` reads as ``>``; an unknown
    metric lists the known ones; a missing operator shows an example.
    """
    assert parse_threshold("hhi>1800") == Threshold("hhi", ">", 1800.0)
    assert parse_threshold(" hhi = 1,800 ") == Threshold("hhi", ">", 1800.0)
    assert parse_threshold("served_share<0.65").holds([0.6, 0.7, np.nan]).tolist() == [
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="known: hhi, cr5"):
        parse_threshold("hhx>1")
    with pytest.raises(ValueError, match=r"e\.g\. hhi>1800"):
        parse_threshold("hhi 1800")
    with pytest.raises(ValueError, match="unknown metric"):
        metric("nope")


def _runs() -> pd.DataFrame:
    """Run A: HHI 1900, 1700, 1700; run B: 1000, 1000, 2000 (years 2024-2026)."""
    return pd.DataFrame(
        {
            "run": ["A"] * 3 + ["B"] * 3,
            "year": [2024, 2025, 2026] * 2,
            "hhi": [1900, 1700, 1700, 1000, 1000, 2000],
        }
    )


def test_outcome_in_one_year_differs_from_any_year_up_to_it():
    """hhi>1800: in 2025 neither run; in any year up to 2025 run A (1,900 in 2024); in 2026
    run B only; a year not simulated is refused, listing the years.
    """
    t = parse_threshold("hhi>1800")
    in_2025 = run_outcomes(_runs(), ["run"], t, 2025)
    assert in_2025["hit"].tolist() == [False, False]
    upto = run_outcomes(_runs(), ["run"], t, 2025, any_year=True)
    assert upto["hit"].tolist() == [True, False] and upto["value"].tolist() == [1900, 1000]
    assert run_outcomes(_runs(), ["run"], t, 2026)["hit"].tolist() == [False, True]
    with pytest.raises(ValueError, match=r"years: \[2024, 2025, 2026\]"):
        run_outcomes(_runs(), ["run"], t, 2031)


def test_exceedance_counts_hits_per_group_with_its_wilson_interval():
    """Group x: 1 of 4 seeds past the line (p 0.25); group y: 0 of 2; nan values are not runs."""
    outcomes = pd.DataFrame(
        {
            "point": ["x"] * 4 + ["y"] * 3,
            "value": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan],
            "hit": [True, False, False, False, False, False, False],
        }
    )
    table = exceedance(outcomes, ["point"]).set_index("point")
    assert table.loc["x", ["k", "n"]].tolist() == [1, 4] and table.loc["x", "probability"] == 0.25
    assert table.loc["x", "ci_low"] == pytest.approx(wilson_interval(1, 4).low)
    assert table.loc["y", ["k", "n"]].tolist() == [0, 2]
    assert table.loc["y", "ci_high"] == pytest.approx(Z95**2 / (2 + Z95**2))


def _points_table(policy_hhi: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Baseline HHI 0, 0, 0 and a policy point on seeds 0-2, in one year."""
    yearly = pd.DataFrame(
        {
            "point": ["base"] * 3 + ["policy"] * 3,
            "seed": [0, 1, 2] * 2,
            "year": 2030,
            "hhi": [0.0, 0.0, 0.0, *policy_hhi],
        }
    )
    points = pd.DataFrame({"point": ["base", "policy"]})
    return yearly, points


def test_yearly_comparison_flags_significance_and_states_seeds_needed():
    """Diffs 100, 110, 120 (sd 10) exclude zero: significant; diffs 10, 20, 30 (sd 10) do not
    (20 +/- 4.30 x 10 / sqrt 3). Half-width 5 needs ceil((1.96 x 10 / 5)^2) = 16 seeds either way.
    """
    yearly, points = _points_table([100.0, 110.0, 120.0])
    table = yearly_comparison(yearly, points, [], "base", ["hhi"], {"hhi": 5.0})
    policy = table.set_index("point").loc["policy"]
    assert bool(policy["significant"]) and policy["diff_sd"] == pytest.approx(10.0)
    assert policy["seeds_needed"] == math.ceil((Z95 * 10 / 5) ** 2) == 16
    assert not bool(table.set_index("point").loc["base", "significant"])
    yearly, points = _points_table([10.0, 20.0, 30.0])
    table = yearly_comparison(yearly, points, [], "base", ["hhi"], {"hhi": 5.0})
    assert not bool(table.set_index("point").loc["policy", "significant"])
    summary = resolution_summary(table, ["hhi"])
    assert summary.loc[0, "n_significant"] == 0 and summary.loc[0, "seeds_needed"] == 16
    sentence = resolution_sentences(summary, "the baseline", {})[0]
    assert "no point differs significantly from the baseline" in sentence
    assert "about 16 seeds would resolve 5 " in sentence


def test_registry_labels_parameters_and_points_in_words():
    """Rate cap 0.24 reads 24%, entry capital 2e9 reads 2 bn CNY; every metric has a label,
    a direction and a positive half-width; shares' differences are in percentage points.
    """
    values = {"regulation.rate_cap_apr": 0.24, "regulation.online_entry_capital_cny": 2e9}
    assert point_display(values, list(values)) == "Rate cap 24%, Entry capital 2 bn CNY"
    assert all(m.label and m.direction.startswith("higher is") for m in METRICS.values())
    assert all(m.resolution > 0 for m in METRICS.values())
    assert metric("share_online_platform").format_difference(0.012) == "+1.2 pp"
    assert metric("hhi").format_difference(-95.4) == "-95"
    assert parameter("market.default_cycle.2027").label == "Default cycle 2027"


def test_money_metrics_resolve_a_share_of_the_baseline():
    """Unmet demand resolves 5 % of the baseline's mean: baseline 1,000 on every seed gives a
    half-width of 50; policy diffs 0, 100, 200 (sd 100) need ceil((1.96 x 100 / 50)^2) = 16.
    """
    yearly = pd.DataFrame(
        {
            "point": ["base"] * 3 + ["policy"] * 3,
            "seed": [0, 1, 2] * 2,
            "year": 2030,
            "unmet": [1000.0] * 3 + [1000.0, 1100.0, 1200.0],
        }
    )
    points = pd.DataFrame({"point": ["base", "policy"]})
    row = yearly_comparison(yearly, points, [], "base", ["unmet"]).set_index("point").loc["policy"]
    assert row["half_width"] == pytest.approx(50.0)
    assert row["seeds_needed"] == math.ceil((Z95 * 100 / 50) ** 2) == 16


def test_seeds_to_exclude_zero_by_hand():
    """Mean 1, sd 1: n = 7 is the first with t(0.975, n-1) / sqrt(n) < 1 (2.447 / 2.646 =
    0.925; n = 6: 2.571 / 2.449 = 1.050); no effect at all needs no number.
    """
    assert seeds_to_exclude_zero(PairedDifference(5, 1.0, 1.0, 0.0, 0.0)) == 7
    assert seeds_to_exclude_zero(PairedDifference(5, 0.0, 1.0, 0.0, 0.0)) is None
