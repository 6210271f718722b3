"""The levers in force by month and the dated changes, from the configuration alone."""

from __future__ import annotations

import dataclasses

from sim.calendar import parse_month
from sim.config import RegulationConfig
from sim.in_force import LeverChange, dated_changes, format_value, regulation_monthly
from tests.conftest import compose_config

CHANGE = 'regulation.timeline=[{date: "2027-01", rate_cap_apr: 0.10}]'


def _months(first: str, last: str) -> list[int]:
    return list(range(parse_month(first), parse_month(last) + 1))


def test_a_dated_change_shows_in_its_month():
    """With the cap set to 0.10 from 2027-01, 2026-12 has the base cap and 2027-01 on 0.10."""
    cfg = compose_config(CHANGE)
    table = regulation_monthly(cfg.regulation, _months("2026-11", "2027-02")).set_index("month")
    assert table["rate_cap_apr"].to_dict() == {
        "2026-11": cfg.regulation.rate_cap_apr,
        "2026-12": cfg.regulation.rate_cap_apr,
        "2027-01": 0.10,
        "2027-02": 0.10,
    }


def test_every_lever_has_a_column():
    """One column per scalar lever, one per lender type for per-type levers, one per path;
    the timeline itself is not a column.
    """
    cfg = compose_config()
    reg = cfg.regulation
    columns = set(regulation_monthly(reg, _months("2024-01", "2024-01")).columns)
    expected = {"month", "year"}
    for field in dataclasses.fields(RegulationConfig):
        value = getattr(reg, field.name)
        if field.name == "timeline":
            continue
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            expected |= {f"{field.name}.{k}" for k in value}
        else:
            expected.add(field.name)
    assert columns == expected


def test_paths_follow_the_year_and_a_dated_number_holds():
    """A path shows its value for the month's year; a number dated 2026-07 replaces it from then."""
    cfg = compose_config('regulation.timeline=[{date: "2026-07", financing_support: 0.0}]')
    path = cfg.regulation.financing_support
    table = regulation_monthly(cfg.regulation, _months("2025-12", "2027-01")).set_index("month")
    column = table["financing_support"]
    assert column["2025-12"] == path[2025]
    assert column["2026-06"] == path[2026]
    assert column["2026-07"] == 0.0 and column["2027-01"] == 0.0


def test_dated_changes_of_the_tightening_scenario():
    """Each lever of the 2025-01 change, from its base value to the scenario's value."""
    cfg = compose_config("scenario=tightening")
    reg = cfg.regulation
    changes = dated_changes(reg, parse_month(cfg.market.start), parse_month(cfg.market.end))
    (entry,) = reg.timeline
    assert [c.lever for c in changes] == [k for k in entry if k != "date"]
    first = changes[0]
    assert first == LeverChange("2025-01", "rate_cap_apr", reg.rate_cap_apr, entry["rate_cap_apr"])
    platform = next(c for c in changes if c.lever == "max_leverage.online_platform")
    assert platform.before == reg.max_leverage["online_platform"]


def test_change_described_as_logged():
    """The log line reads month, lever, old value, arrow, new value."""
    change = LeverChange("2027-01", "rate_cap_apr", 0.24, 0.10)
    assert change.describe() == "2027-01: rate_cap_apr 0.24 -> 0.1"
    assert change.as_record() == {"month": "2027-01", "lever": "rate_cap_apr", "from": 0.24,
                                  "to": 0.10}
    assert format_value(1.0e9) == "1,000,000,000" and format_value(True) == "true"
