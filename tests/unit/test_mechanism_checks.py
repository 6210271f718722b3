"""The mechanism checks judge a paired difference by its interval, sign and bound."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from scenarios.mechanism_checks import (
    EXIT_COLUMNS,
    SCALE_EFFECTS,
    Check,
    change,
    checks,
    effect_per_seed,
    effect_scale_row,
    exits,
    failures,
    of_type,
    population_sizes,
    scale_row,
    verdict,
    why_not,
    with_seed,
    yearly,
)
from scenarios.sweep.stats import PairedDifference


def _check(expect: int, relative: bool = False, bound: float | None = None) -> Check:
    return Check("g", "n", ("a=1",), (), lambda t: 0.0, expect, relative, bound)


def test_an_interval_below_zero_holds_for_a_fall_only() -> None:
    """Difference -2 (-3 to -1): a fall holds, a rise does not."""
    diff = PairedDifference(5, -2.0, 1.0, -3.0, -1.0)
    assert verdict(_check(-1), diff, 10.0) == (-2.0, -3.0, -1.0, True)
    assert not verdict(_check(+1), diff, 10.0)[3]


def test_an_interval_across_zero_never_holds() -> None:
    """Difference 0.5 (-1 to 2) holds for neither direction."""
    diff = PairedDifference(5, 0.5, 1.0, -1.0, 2.0)
    assert not verdict(_check(-1), diff, 10.0)[3]
    assert not verdict(_check(+1), diff, 10.0)[3]


def test_relative_difference_and_bound() -> None:
    """-3 (-4 to -2) on a reference of 10 is -30 % (-40 % to -20 %): beyond -10 %, not -25 %."""
    diff = PairedDifference(5, -3.0, 1.0, -4.0, -2.0)
    assert verdict(_check(-1, True, -0.10), diff, 10.0) == pytest.approx((-0.3, -0.4, -0.2, True))
    assert not verdict(_check(-1, True, -0.25), diff, 10.0)[3]


def test_why_a_check_fails() -> None:
    """A failing check names its reason.

    * mean +0.5 where a fall is expected: the opposite sign, and not significant when
      its interval (-1 to +2) reaches 0 (significant: +0.5, +0.2 to +0.8);
    * mean -1, sd 1 (interval across 0): not significant, and 7 seeds would do
      (t(0.975, 6) / sqrt(7) = 2.447 / 2.646 = 0.925 < 1, n = 6: 2.571 / 2.449 = 1.05);
    * -3 (-4 to -2) where -25 % of a reference of 10 is asked: short of its bound.
    """
    wrong_ns = PairedDifference(5, 0.5, 1.0, -1.0, 2.0)
    assert why_not(_check(-1), wrong_ns) == "opposite sign, not significant"
    assert why_not(_check(-1), PairedDifference(5, 0.5, 0.3, 0.2, 0.8)) == "opposite sign"
    across = PairedDifference(5, -1.0, 1.0, -2.2, 0.2)
    assert why_not(_check(-1), across) == "not significant, ~7 seeds would exclude 0"
    short = PairedDifference(5, -3.0, 1.0, -4.0, -2.0)
    assert why_not(_check(-1, True, -0.25), short) == "short of its bound"


def test_seed_overrides_put_the_scenario_first() -> None:
    """A scenario choice leads the overrides; seed and scale come last."""
    assert with_seed(("x=1", "scenario=s"), 3, 100) == (
        "scenario=s",
        "x=1",
        "seed=3",
        "market.n_borrowers=100",
    )


def test_metrics_read_the_right_cells() -> None:
    """A yearly metric reads its year's row; a type metric its type's row."""
    tables = {
        "market_yearly": pd.DataFrame({"year": [2024, 2025], "hhi": [100.0, 200.0]}),
        "types_yearly": pd.DataFrame(
            {"year": [2025, 2025], "lender_type": ["bank", "online_platform"], "n": [3, 7]}
        ),
    }
    assert yearly("hhi", 2025)(tables) == 200.0
    assert change("hhi", 2024, 2025)(tables) == 100.0
    assert of_type("n", "online_platform", 2025)(tables) == 7.0


def test_exits_count_every_cause_and_failures_only_failing_ones() -> None:
    """Years 2026-2027 of three: each cause 1, 2, 3, 4, 5 in 2026 and twice that in
    2027 sums to 15 + 30 = 45 exits; failures are failed plus bought failing,
    (1 + 4) + (2 + 8) = 15; 2025's row is left out.
    """
    counts = {c: [100.0, k, 2.0 * k] for k, c in enumerate(EXIT_COLUMNS, 1)}
    tables = {"market_yearly": pd.DataFrame({"year": [2025, 2026, 2027], **counts})}
    assert exits((2026, 2027))(tables) == 45.0
    assert failures((2026, 2027))(tables) == 15.0


def test_checks_are_named_uniquely() -> None:
    """No two checks share a name within a group (the report would be ambiguous)."""
    names = [(c.group, c.name) for c in checks()]
    assert len(names) == len(set(names))


def test_scales_option_reads_sizes_and_refuses_bad_ones() -> None:
    """``--scales 20000,400000`` gives both sizes.

    Words, nothing or a size below 1,000 are refused naming the option, the value
    and what is allowed.
    """
    assert population_sizes("20000,400000") == (20_000, 400_000)
    for bad in ("", "20k", "500,20000"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"--scales .*at least 1000"):
            population_sizes(bad)


def test_scale_row_by_hand() -> None:
    """Large 1, 2, 3 (var 1) and small 3, 4, 5 (var 1): gap 2, SE sqrt(1/3 + 1/3) = 0.816.

    Two SE is 1.633 < 2, so the scales disagree (and the row says so); small 2, 3, 4
    (gap 1) agree, with no reason given.
    """
    row = scale_row("x", [1.0, 2.0, 3.0], [3.0, 4.0, 5.0])
    assert row["difference"] == pytest.approx(2.0)
    assert row["ci_low"] == pytest.approx(2.0 - 2 * (2 / 3) ** 0.5)
    assert not row["holds"]
    assert row["why_not"] == "the scales differ by more than 2 SE"
    agree = scale_row("x", [1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert agree["holds"] and agree["why_not"] == ""


def test_a_relative_effect_per_seed_and_its_comparison_across_scales_by_hand() -> None:
    """Policy 8, 9, 10 against reference 10, 10, 10 at 100,000: -20 %, -10 %, 0 % per seed
    (relative to the reference mean 10). At 20,000 policy 4, 4.5, 5 on 5: the same
    effects, so the scales agree (gap 0). A metric that reads the tables' one number.
    """
    check = Check("g", "n", ("a=1",), (), lambda t: t["v"], -1, relative=True)
    values = {100_000: ([8.0, 9.0, 10.0], 10.0), 20_000: ([4.0, 4.5, 5.0], 5.0)}
    results = {}
    for n, (policy, ref) in values.items():
        for s, v in zip((1, 2, 3), policy, strict=True):
            results[with_seed(check.policy, s, n)] = {"v": v}
            results[with_seed(check.reference, s, n)] = {"v": ref}
    big = effect_per_seed(check, results, (1, 2, 3), 100_000)
    small = effect_per_seed(check, results, (1, 2, 3), 20_000)
    assert big.tolist() == pytest.approx([-0.2, -0.1, 0.0])
    assert small.tolist() == pytest.approx(big.tolist())
    row = effect_scale_row(check, big, small, (100_000, 20_000))
    assert row["holds"] and row["difference"] == pytest.approx(0.0)
    assert row["check"] == "effect of n: 20,000 vs 100,000" and row["relative"]
    assert row["reference"] == pytest.approx(-0.1)
    differ = effect_scale_row(check, big, small - 1.0, (100_000, 20_000))
    assert differ["why_not"] == "the effects differ by more than 2 SE"


def test_every_effect_compared_across_scales_is_a_check() -> None:
    """Each name in SCALE_EFFECTS is one check's (a renamed check would drop it silently)."""
    names = {c.name for c in checks()}
    assert set(SCALE_EFFECTS) <= names and len(SCALE_EFFECTS) == len(set(SCALE_EFFECTS))
