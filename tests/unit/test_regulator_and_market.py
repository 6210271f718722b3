"""Yearly paths, the dated regulation timeline, and the month's market tallies.

The regulation is a hand-written ``RegulationConfig`` holding only the levers
the timeline changes; the tallies come from hand-built applicants and matches.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.loan_table import NO_LENDER
from sim.calendar import parse_month
from sim.clearing import Applicants, Matches
from sim.config import SEGMENTS, RegulationConfig
from sim.market import tallies
from sim.regulator import path_value, regulation_at


# ------------------------------------------------------------------ paths
@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2024, 0.4),  # a year on the path
        (2025, 0.4),  # between points: the latest earlier one
        (2026, 0.6),
        (2031, 0.6),  # after the path: its last value
        (2020, 0.4),  # before the path: its earliest value
    ],
)
def test_path_value(year: int, expected: float) -> None:
    """The value of a path {2024: 0.4, 2026: 0.6} is the latest year at or before, else the
    earliest.
    """
    assert path_value({2026: 0.6, 2024: 0.4}, year) == expected


# --------------------------------------------------------------- timeline
def _regulation(*timeline: dict) -> RegulationConfig:
    """A 24 % cap, two types' capital ratios and a financing-support path, with changes."""
    return RegulationConfig(
        rate_cap_apr=0.24,
        min_capital_ratio={"bank": 0.105, "online_platform": 0.2},
        financing_support={2024: 0.45, 2025: 0.52, 2026: 0.6, 2027: 0.68},
        timeline=list(timeline),
    )


CAP = {"date": "2026-01", "rate_cap_apr": 0.18}
PLATFORM_RATIO = {"date": "2025-07", "min_capital_ratio.online_platform": 0.25}
SUPPORT = {"date": "2026-01", "financing_support": 0.1}


def test_scalar_change_applies_from_its_month() -> None:
    """The cap is 0.24 in 2025-12 and 0.18 from 2026-01 on."""
    base = _regulation(CAP)
    assert regulation_at(base, parse_month("2025-12")).rate_cap_apr == 0.24
    assert regulation_at(base, parse_month("2026-01")).rate_cap_apr == 0.18
    assert regulation_at(base, parse_month("2030-06")).rate_cap_apr == 0.18


def test_dotted_change_touches_one_type() -> None:
    """From 2025-07 the platforms' ratio is 0.25; the banks' stays 0.105."""
    base = _regulation(PLATFORM_RATIO)
    assert regulation_at(base, parse_month("2025-06")).min_capital_ratio == {
        "bank": 0.105,
        "online_platform": 0.2,
    }
    assert regulation_at(base, parse_month("2025-07")).min_capital_ratio == {
        "bank": 0.105,
        "online_platform": 0.25,
    }


def test_path_lever_given_a_number_holds_it_from_its_year() -> None:
    """Support 0.1 from 2026-01: 2026 and 2027 become 0.1, 2024 and 2025 are kept."""
    reg = regulation_at(_regulation(SUPPORT), parse_month("2026-01"))
    assert reg.financing_support == {2024: 0.45, 2025: 0.52, 2026: 0.1, 2027: 0.1}
    assert path_value(reg.financing_support, 2030) == 0.1
    assert path_value(reg.financing_support, 2025) == 0.52


def test_path_lever_dated_after_the_path_adds_its_year() -> None:
    """Support 0.9 from 2029-03 adds the year 2029 and leaves 2024-2027 as they were."""
    reg = regulation_at(
        _regulation({"date": "2029-03", "financing_support": 0.9}), parse_month("2029-03")
    )
    assert reg.financing_support == {2024: 0.45, 2025: 0.52, 2026: 0.6, 2027: 0.68, 2029: 0.9}
    assert path_value(reg.financing_support, 2028) == 0.68


def test_changes_apply_in_date_order_not_file_order() -> None:
    """A 2027 cap of 0.2 listed before a 2026 cap of 0.18: 0.18 in 2026, 0.2 from 2027."""
    base = _regulation({"date": "2027-01", "rate_cap_apr": 0.2}, CAP)
    assert regulation_at(base, parse_month("2026-06")).rate_cap_apr == 0.18
    assert regulation_at(base, parse_month("2027-01")).rate_cap_apr == 0.2


def test_same_date_changes_apply_in_file_order() -> None:
    """Two caps dated 2026-01 (0.18 then 0.15): the later one in the file wins."""
    base = _regulation(CAP, {"date": "2026-01", "rate_cap_apr": 0.15})
    assert regulation_at(base, parse_month("2026-01")).rate_cap_apr == 0.15


def test_regulation_at_leaves_the_base_alone() -> None:
    """Applying every change returns a copy; the base's levers are as written."""
    base = _regulation(CAP, PLATFORM_RATIO, SUPPORT)
    reg = regulation_at(base, parse_month("2030-01"))
    assert reg is not base
    assert reg.rate_cap_apr == 0.18 and reg.min_capital_ratio["online_platform"] == 0.25
    assert base.rate_cap_apr == 0.24
    assert base.min_capital_ratio == {"bank": 0.105, "online_platform": 0.2}
    assert base.financing_support == {2024: 0.45, 2025: 0.52, 2026: 0.6, 2027: 0.68}


def test_no_change_before_the_first_date() -> None:
    """Before every change's date, the levers equal the base's."""
    base = _regulation(CAP, PLATFORM_RATIO, SUPPORT)
    reg = regulation_at(base, parse_month("2024-01"))
    assert reg.rate_cap_apr == 0.24
    assert reg.min_capital_ratio == base.min_capital_ratio
    assert reg.financing_support == base.financing_support


# ---------------------------------------------------------------- tallies
CONSUMER, SME, AGRICULTURE = (SEGMENTS.index(s) for s in ("consumer", "sme", "agriculture"))


def _month() -> tuple[Applicants, Matches, np.ndarray]:
    """Four applicants (consumer, sme, agriculture, consumer) wanting 100, 200, 300, 400.

    The first is lent 100 online at 10 %, the second nobody, the third 150 at
    20 %, the fourth 400 at 15 %.
    """
    n = 4
    app = Applicants(
        idx=np.array([7, 3, 5, 0]),
        region=np.zeros(n, dtype=np.int64),
        mandate=np.array([False, False, True, False]),
        pd=np.full(n, 0.05),
        thin_file=np.zeros(n, dtype=bool),
        covered=np.zeros(n, dtype=bool),
        affinity=np.full(n, 0.5),
        need=np.array([100.0, 200.0, 300.0, 400.0]),
        business=np.array([False, True, True, False]),
        reservation=np.full(n, 1.0),
    )
    m = Matches.empty(n, n_lenders=2)
    m.lender[:] = [0, NO_LENDER, 1, 0]
    m.amount[:] = [100.0, 0.0, 150.0, 400.0]
    m.rate[:] = [0.10, 0.0, 0.20, 0.15]
    m.online[:] = [True, False, False, False]
    segment = np.array([CONSUMER, SME, AGRICULTURE, CONSUMER], dtype=np.int8)
    return app, m, segment


def test_tallies_by_hand() -> None:
    """At weight 2: lending (100 + 150 + 400) x 2 = 1300, online 200,
    rate x lending 2 x (10 + 30 + 60) = 200, demand 1000 x 2 = 2000, unmet 700,
    applicants 8, served 6.
    """
    out = tallies(*_month(), 2.0)
    assert out["lending"] == pytest.approx(1300.0)
    assert out["lending_online"] == pytest.approx(200.0)
    assert out["rate_x_lending"] == pytest.approx(200.0)
    assert out["demand"] == pytest.approx(2000.0)
    assert out["unmet"] == pytest.approx(700.0)
    assert out["applicants"] == pytest.approx(8.0)
    assert out["served"] == pytest.approx(6.0)


def test_tallies_by_segment_by_hand() -> None:
    """At weight 2: consumer demand (100 + 400) x 2 = 1000, all lent; sme 400 demanded,
    none lent; agriculture 600 demanded, 300 lent; welfare nothing.
    """
    out = tallies(*_month(), 2.0)
    expected = {
        "consumer": (1000.0, 1000.0, 0.0),
        "sme": (400.0, 0.0, 400.0),
        "agriculture": (600.0, 300.0, 300.0),
        "welfare": (0.0, 0.0, 0.0),
    }
    for name, (demand, lending, unmet) in expected.items():
        assert out[f"demand_{name}"] == pytest.approx(demand), name
        assert out[f"lending_{name}"] == pytest.approx(lending), name
        assert out[f"unmet_{name}"] == pytest.approx(unmet), name


def test_segment_tallies_add_up_to_the_totals() -> None:
    """Demand, lending and unmet by segment sum to the overall figures."""
    out = tallies(*_month(), 2.0)
    for figure in ("demand", "lending", "unmet"):
        total = sum(out[f"{figure}_{name}"] for name in SEGMENTS)
        assert total == pytest.approx(out[figure]), figure


def test_unserved_applicant_lends_nothing_whatever_its_amount() -> None:
    """An amount left on an applicant nobody lent to is not counted as lending."""
    app, m, segment = _month()
    m.amount[1] = 999.0
    out = tallies(app, m, segment, 1.0)
    assert out["lending"] == pytest.approx(650.0)
    assert out["lending_sme"] == 0.0


def test_tallies_of_an_empty_month() -> None:
    """No applicants: every figure is zero."""
    empty = np.zeros(0)
    app = Applicants(
        idx=np.zeros(0, dtype=np.int64),
        region=np.zeros(0, dtype=np.int64),
        mandate=np.zeros(0, dtype=bool),
        pd=empty,
        thin_file=np.zeros(0, dtype=bool),
        covered=np.zeros(0, dtype=bool),
        affinity=empty,
        need=empty,
        business=np.zeros(0, dtype=bool),
        reservation=empty,
    )
    out = tallies(app, Matches.empty(0, 1), np.zeros(0, dtype=np.int8), 2.0)
    assert all(value == 0.0 for value in out.values())
    assert {f"unmet_{name}" for name in SEGMENTS} <= set(out)


def test_merger_review_blocks_only_a_large_rise_into_high_concentration():
    """At HHI 1,700 with the 1,800 / 100 rule: a rise of 150 (to 1,850) is blocked, a rise
    of 90 (to 1,790) or of 100 exactly passes; at HHI 1,500 a rise of 200 (to 1,700) passes.
    """
    from sim.regulator import cleared_by_review

    assert cleared_by_review(1700.0, np.array([150.0, 90.0, 100.0]), 1800.0, 100.0).tolist() == [
        False,
        True,
        True,
    ]
    assert cleared_by_review(1500.0, np.array([200.0]), 1800.0, 100.0).tolist() == [True]
