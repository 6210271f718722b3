"""Every scenario in conf/scenario/ runs and moves its metric the documented way.

Each scenario is run at test scale on the same seeds as the baseline (common
random numbers) and compared with it on the metric its file's opening paragraph
names. Only directions are asserted, never magnitudes from earlier runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from sim.calendar import month_year, parse_month
from sim.run import simulate
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "conf" / "scenario"
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
SEEDS = (21, 22, 23)
SCALE = ("market.n_borrowers=100000",)  # the calibrated scale (smaller: lumpier lenders)
LATE = range(2025, 2031)  # the years after the 2025-01 changes


@cache
def tables(scenario: str, seed: int, *overrides: str) -> dict[str, pd.DataFrame]:
    """Tables of one run at the default scale (cached)."""
    return simulate(compose_config(f"scenario={scenario}", f"seed={seed}", *SCALE, *overrides))


def total(scenario: str, fn, *overrides: str) -> float:
    """``fn(tables)`` summed over the test seeds."""
    return sum(fn(tables(scenario, seed, *overrides)) for seed in SEEDS)


def late_mean(column: str):
    """Mean of a market_yearly column over 2025-2030."""

    def fn(t: dict[str, pd.DataFrame]) -> float:
        y = t["market_yearly"]
        return float(y.loc[y["year"].isin(LATE), column].mean())

    return fn


def column_sum(column: str):
    """Sum of a market_yearly column over every year of the run."""
    return lambda t: float(t["market_yearly"][column].sum())


def last_value(column: str):
    """A market_yearly column in the run's last year."""
    return lambda t: float(t["market_yearly"][column].iloc[-1])


def platform_lending(t: dict[str, pd.DataFrame]) -> float:
    """New lending originated by online platforms, 2025-2030."""
    y = t["market_yearly"]
    y = y[y["year"].isin(LATE)]
    return float((y["lending"] * y["share_new_online_platform"]).sum())


# (scenario, metric, its description, expected sign of scenario - baseline)
CASES = [
    ("tightening", late_mean("avg_rate"), "average rate 2025-2030", -1),
    ("tightening", late_mean("share_new_online_platform"), "platform share of new lending", -1),
    ("entry_reform", column_sum("entries"), "entrants 2024-2030", 1),
    ("co_lending_rules", platform_lending, "platform new lending 2025-2030", -1),
    ("rural_revitalisation", column_sum("lending_agriculture"), "agricultural lending", 1),
    ("rural_revitalisation", late_mean("share_new_policy_lender"), "policy-lender share", 1),
    ("credit_data_sharing", late_mean("served_share"), "served share of demand", 1),
    (
        "differentiated_supervision",
        late_mean("share_new_credit_cooperative"),
        "cooperative share of new lending",
        1,
    ),
    (
        "differentiated_supervision",
        late_mean("share_new_online_platform"),
        "platform share of new lending",
        -1,
    ),
    ("consolidation", column_sum("acquisitions"), "acquisitions", 1),
    ("consolidation", last_value("hhi"), "HHI in 2030", 1),
    ("consolidation_blocked", column_sum("acquisitions"), "acquisitions", -1),
    ("consolidation_blocked", last_value("hhi"), "HHI in 2030", -1),
]


@pytest.mark.parametrize(
    ("scenario", "fn", "what", "sign"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_scenario_moves_its_metric(scenario, fn, what, sign):
    """The scenario moves its documented metric in the documented direction against the
    baseline, summed over the same seeds (common random numbers).
    """
    base = total("baseline", fn)
    pushed = total(scenario, fn)
    assert (pushed - base) * sign > 0, (what, base, pushed)


def test_consolidation_blocked_has_no_acquisitions():
    """With acquisitions forbidden no lender is ever acquired."""
    assert total("consolidation_blocked", column_sum("acquisitions")) == 0


def test_history_covers_2019_to_2024():
    """The history scenario runs 2019-01 to 2024-12: 72 months, one row per year."""
    t = tables("history_2019_2024", SEEDS[0])
    assert t["market_monthly"]["month"].iloc[0] == "2019-01"
    assert len(t["market_monthly"]) == 72
    assert t["market_yearly"]["year"].tolist() == list(range(2019, 2025))


def test_history_rate_cap_cuts_rates_after_2020_08():
    """The 2020-08 judicial cap (15.4 % instead of 36 %) lowers the average rate in
    2021-2024 against the same years without any of the 2020-2024 rule changes.
    """

    def rate(t: dict[str, pd.DataFrame]) -> float:
        y = t["market_yearly"]
        return float(y.loc[y["year"].between(2021, 2024), "avg_rate"].mean())

    actual = total("history_2019_2024", rate)
    no_reform = total("history_2019_2024", rate, "regulation.timeline=[]")
    assert actual < no_reform


def test_history_paths_cover_every_year_of_the_run():
    """Each yearly policy path of the history scenario has a value for 2019 to 2024
    (a path falls back to its earliest year, which would silently be 2024's).
    """
    cfg = compose_config("scenario=history_2019_2024")
    first = month_year(parse_month(cfg.market.start))
    last = month_year(parse_month(cfg.market.end))
    for name in ("financing_support", "tech_subsidy", "credit_data_coverage"):
        path = getattr(cfg.regulation, name)
        assert all(year in path for year in range(first, last + 1)), name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_file_is_documented_and_listed(scenario):
    """Each scenario file is global, opens with a paragraph, names itself, and is in the
    README's scenario list.
    """
    text = (SCENARIO_DIR / f"{scenario}.yaml").read_text(encoding="utf-8").splitlines()
    assert text[0] == "# @package _global_"
    paragraph = [line for line in text[1:] if line.startswith("#")]
    assert len(paragraph) >= 3, "opening paragraph missing"
    assert f"scenario_name: {scenario}" in text
    assert f"`{scenario}`" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "baseline"])
def test_scenario_starts_from_the_calibrated_baseline(scenario):
    """Every scenario includes the baseline, so it runs with the calibrated behaviour."""
    cfg = compose_config(f"scenario={scenario}")
    base = compose_config("scenario=baseline")
    assert cfg.scenario_name == scenario
    assert cfg.behaviour.digital_trend == base.behaviour.digital_trend
    assert cfg.lenders["bank"].markup == base.lenders["bank"].markup


def technology_2030_by_lender(t: dict[str, pd.DataFrame]) -> pd.Series:
    """Technology in 2030 of each lender of 2024 still active then, by lender id."""
    lenders = t["lenders_yearly"]
    opening = lenders.loc[lenders["year"] == 2024, "lender_id"]
    last = lenders[(lenders["year"] == 2030) & (lenders["active"] == 1)]
    return last[last["lender_id"].isin(opening)].set_index("lender_id")["technology"]


def test_fintech_push_raises_the_technology_of_the_same_lenders():
    """The subsidy path raises the 2030 technology of the same lenders: those of 2024 active
    in 2030 in both runs (the opening lenders are identical on a common seed), mean paired
    difference summed over the seeds. Pairing by lender keeps survivorship out: a mean over
    each run's survivors mixes types whose technology differs by a factor of two.
    """
    gain = 0.0
    for seed in SEEDS:
        base = technology_2030_by_lender(tables("baseline", seed))
        pushed = technology_2030_by_lender(tables("fintech_push", seed))
        both = base.index.intersection(pushed.index)
        assert both.size > 0
        gain += float((pushed[both] - base[both]).mean())
    assert gain > 0
