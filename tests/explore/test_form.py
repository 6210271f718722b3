"""The Run page's controls and form: one source for the levers, the validator's own messages."""

from __future__ import annotations

from explore import controls, form
from scenarios.levers import catalogue
from sim.config import CONF_DIR
from sim.validation import compose


def test_every_scenario_is_offered_with_its_opening_paragraph():
    """Every file of conf/scenario/ is in the picker, with a description from its own comment."""
    offered = {s.name: s.description for s in controls.scenarios()}
    assert set(offered) == {p.stem for p in (CONF_DIR / "scenario").glob("*.yaml")}
    assert all(text and "@package" not in text for text in offered.values())


def test_every_lever_has_one_control_with_the_catalogues_unit_default_and_source():
    """Each regulation lever of the catalogue (timeline aside) is one control in one group,
    carrying the catalogue's own entry (unit, default, allowed, source), not a retyped one.
    """
    levers = {lv.key: lv for lv in catalogue(cfg=compose("progress=false"))}
    shown = [c for g in controls.groups("baseline") for c in g.controls]
    assert sorted(c.key for c in shown) == sorted(k for k in levers if k != controls.TIMELINE)
    assert all(c.lever == levers[c.key] for c in shown)


def test_groups_follow_the_readmes_lever_table():
    """A README row naming several levers (``min_capital_ratio.TYPE, max_leverage.TYPE``)
    is one group holding each of them.
    """
    rows = controls.readme_groups()
    assert rows, "the README's lever table was not found"
    by_title = {g.title: g for g in controls.groups("baseline")}
    capital = next(g for t, g in by_title.items() if "min_capital_ratio" in t)
    keys = {c.key for c in capital.controls}
    assert "regulation.min_capital_ratio.online_platform" in keys
    assert "regulation.max_leverage.bank" in keys


def test_an_untouched_form_overrides_nothing_but_the_scenario():
    """The controls start at the scenario's values, so an untouched form adds no lever override,
    and its config is the scenario's own.
    """
    for scenario in ("baseline", "tightening"):
        f = form.Form(scenario=scenario, timeline=form.scenario_timeline(scenario))
        texts = form.overrides(f)
        assert texts == [f"scenario={scenario}", *form.FIXED]
        cfg, problems = form.check(texts)
        assert problems == []
        assert cfg == compose(f"scenario={scenario}", *form.FIXED)


def test_edited_levers_and_dated_changes_become_command_line_overrides():
    """An edited lever, a yearly path and a dated change compose to the config the same
    overrides give on the command line.
    """
    years = controls.base_config("baseline").regulation.tech_subsidy
    path_text = ", ".join(f"{y}: 0.5" for y in years)
    f = form.Form(
        values={"regulation.rate_cap_apr": "0.18", "regulation.tech_subsidy": path_text},
        timeline=[form.Change("2027-01", "rate_cap_apr", "0.12")],
    )
    cfg, problems = form.check(form.overrides(f))
    assert problems == []
    assert cfg.regulation.rate_cap_apr == 0.18
    assert set(cfg.regulation.tech_subsidy.values()) == {0.5}
    assert cfg.regulation.timeline == [{"date": "2027-01", "rate_cap_apr": 0.12}]


def test_a_negative_cap_is_refused_with_the_message_naming_its_key():
    """A negative rate cap gets the validator's message, filed under regulation.rate_cap_apr."""
    f = form.Form(values={"regulation.rate_cap_apr": "-1"})
    cfg, problems = form.check(form.overrides(f))
    assert cfg is None
    keys = [c.key for g in controls.groups("baseline") for c in g.controls]
    filed = form.problems_by_key(problems, keys)
    mine = filed["regulation.rate_cap_apr"]
    assert mine and all(line.startswith("regulation.rate_cap_apr = ") for line in mine)


def test_a_bad_dated_change_is_filed_beside_its_row():
    """A problem of the timeline's second month lands on that month's row of the editor."""
    rows = [
        form.Change("2026-01", "rate_cap_apr", "0.2"),
        form.Change("2027-13", "rate_cap_apr", "0.1"),
    ]
    cfg, problems = form.check(form.overrides(form.Form(timeline=rows)))
    assert cfg is None
    assert list(form.timeline_problems(problems, rows)) == [1]


def test_the_scale_note_reads_the_calibration_record():
    """The borrower control shows the allowed range and the scale the baseline was fitted at."""
    scale = controls.scale()
    assert scale.default == compose().market.n_borrowers
    assert scale.calibrated and f"{scale.calibrated:,}" in scale.note()
