"""Values a field can hold but no real run means are refused (or warned about) before any work.

Every case goes through :func:`sim.preflight.preflight`, exactly what
``python -m sim ARGS`` runs before Hydra starts: plausible ranges (a percent
for a fraction, CNY in the wrong unit, a monthly probability of one), strict
types (a boolean is true or false, an integer has no decimal point, a number
is not quoted text) on the command line, in dated changes, in default shocks
and in scenario files, bounded work (the calendar window, the memory budget),
group choices that are paths, and clashing dated changes. Each refusal must
name the key; a value that is implausible but kept as a stress test runs with
a WARNING naming the key.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from sim import budget, plausible
from sim.config import CONF_DIR
from sim.preflight import preflight
from sim.rawtypes import raw_config, raw_problems
from sim.validation import compose

TL = "regulation.timeline"
SHOCK = "market.default_shocks=[{start: 2025-01, months: 2, multiplier: 3"

# (command-line arguments, key the refusal must name, a word of what it says)
REFUSED = [
    # a percent typed for a fraction
    (("market.demand_growth=8",), "market.demand_growth", "write 0.08"),
    (("market.demand_growth=17",), "market.demand_growth", "write 0.17"),
    (("regulation.rate_cap_apr=24",), "regulation.rate_cap_apr", "write 0.24"),
    (("regulation.rate_cap_apr=36",), "regulation.rate_cap_apr", "write 0.36"),
    (("regulation.rate_cap_apr=1.5",), "regulation.rate_cap_apr", "(0, 1]"),
    (("lenders.bank.funding_spread=3",), "lenders.bank.funding_spread", "write 0.03"),
    (("lenders.online_platform.operating_cost=5",), "lenders.online_platform.operating_cost",
     "write 0.05"),
    (("regulation.co_lending_partner_cap=25",), "regulation.co_lending_partner_cap", "write 0.25"),
    (("regulation.co_lending_min_own_share=30",), "regulation.co_lending_min_own_share",
     "write 0.3"),
    (("regulation.min_capital_ratio.bank=10.5",), "regulation.min_capital_ratio.bank",
     "write 0.105"),
    (("market.segments.sme.pd_mean=4",), "market.segments.sme.pd_mean", "(0, 1)"),
    (("market.recovery_rate=35",), "market.recovery_rate", "write 0.35"),
    ((f"{TL}=[{{date: 2026-01, rate_cap_apr: 24}}]",), f"{TL}[0].rate_cap_apr", "write 0.24"),
    # money in the wrong unit
    (("market.segments.consumer.loan_mean_cny=2",), "market.segments.consumer.loan_mean_cny",
     "write 20000"),
    (("market.segments.sme.loan_mean_cny=15",), "market.segments.sme.loan_mean_cny",
     "write 150000"),
    (("market.segments.welfare.loan_mean_cny=1e9",), "market.segments.welfare.loan_mean_cny",
     "implausible"),
    (("regulation.online_consumer_loan_cap_cny=20",), "regulation.online_consumer_loan_cap_cny",
     "write 200000"),
    (("regulation.online_business_loan_cap_cny=100",), "regulation.online_business_loan_cap_cny",
     "write 1000000"),
    (("regulation.platform_individual_loan_cap_cny=30",),
     "regulation.platform_individual_loan_cap_cny", "write 300000"),
    ((f"{TL}=[{{date: 2026-01, online_consumer_loan_cap_cny: 20}}]",),
     f"{TL}[0].online_consumer_loan_cap_cny", "write 200000"),
    (("market.real_borrowers=400",), "market.real_borrowers", "write 400000000"),
    (("market.segments.consumer.loan_mean_cny=1e-300",),
     "market.segments.consumer.loan_mean_cny", "implausible"),
    # monthly probabilities that empty or flood the market
    (("market.prepayment_rate=1",), "market.prepayment_rate", "implausible"),
    (("market.prepayment_rate=0.9",), "market.prepayment_rate", "monthly probability"),
    (("market.segments.consumer.apply_rate=1",), "market.segments.consumer.apply_rate",
     "monthly probability"),
    (("market.segments.agriculture.apply_rate=0.8",), "market.segments.agriculture.apply_rate",
     "implausible"),
    # booleans: true or false only
    (("plots=2",), "plots", "true or false"),
    (("progress=2",), "progress", "true or false"),
    (("plots=1",), "plots", "true or false"),
    (("regulation.local_only_lending=2",), "regulation.local_only_lending", "true or false"),
    (("regulation.acquisitions_allowed=0",), "regulation.acquisitions_allowed", "true or false"),
    (("market.segments.sme.business=2",), "market.segments.sme.business", "true or false"),
    (("market.segments.consumer.business=-1",), "market.segments.consumer.business",
     "true or false"),
    ((f"{TL}=[{{date: 2026-01, local_only_lending: 2}}]",), f"{TL}[0].local_only_lending",
     "true or false"),
    ((f"{TL}=[{{date: 2026-01, acquisitions_allowed: yes}}]",), f"{TL}[0].acquisitions_allowed",
     "true or false"),
    # integers without a decimal point, numbers without quotes
    (("market.n_borrowers=2000.0",), "market.n_borrowers", "integer"),
    (("lenders.bank.count=3.0",), "lenders.bank.count", "integer"),
    (("behaviour.search_size=3.0",), "behaviour.search_size", "integer"),
    (("market.writeoff_months=3.0",), "market.writeoff_months", "integer"),
    (("market.segments.sme.term_months=12.0",), "market.segments.sme.term_months", "integer"),
    ((f"{SHOCK}.0, months: 2.0}}]",), "market.default_shocks[0].months", "integer"),
    (("regulation.online_consumer_loan_cap_cny='200000'",),
     "regulation.online_consumer_loan_cap_cny", "number"),
    (("regulation.rate_cap_apr='0.24'",), "regulation.rate_cap_apr", "number"),
    (("regulation.min_capital_ratio.bank='0.1'",), "regulation.min_capital_ratio.bank", "number"),
    (("regulation.financing_support={2024: '0.5'}",), "regulation.financing_support.2024",
     "number"),
    (("market.n_borrowers='2000'",), "market.n_borrowers", "integer"),
    ((f"{TL}=[{{date: 2026-01, rate_cap_apr: '0.2'}}]",), f"{TL}[0].rate_cap_apr", "number"),
    ((f"{SHOCK}, lender_type: null, start: 2025-01, multiplier: '3'}}]",),
     "market.default_shocks[0].multiplier", "number"),
    # a sweep's values are checked for their type at once
    (("-m", "seed=0,1", "plots=2"), "plots", "true or false"),
    (("-m", "market.n_borrowers=2000,3000.5"), "market.n_borrowers", "integer"),
    (("-m", "regulation.local_only_lending=true,2"), "regulation.local_only_lending",
     "true or false"),
    # bounded work: the calendar window and the memory budget
    (("market.start=0001-01",), "market.start", "calendar window"),
    (("market.end=9999-12",), "market.end", "calendar window"),
    (("market.start=1999-12",), "market.start", "2000-01"),
    (("market.end=2101-01",), "market.end", "2100-12"),
    (("memory_budget_gb=0.1",), "market.n_borrowers", "memory_budget_gb"),
    (("market.n_borrowers=100000000", "memory_budget_gb=4"), "market.n_borrowers", "GB"),
    (("memory_budget_gb=-1",), "memory_budget_gb", "(0, 1e+06]"),
    # config groups take names, not paths
    (("scenario=../calibration/baseline",), "scenario", "not a path"),
    (("scenario=./baseline",), "scenario", "not a path"),
    (("sweep=../sweep/rate_cap",), "sweep", "not a path"),
    (("lenders=default/../default",), "lenders", "not a path"),
    (("+sweep/tech_subsidy_path=../x0_50",), "sweep/tech_subsidy_path", "not a path"),
    (("-m", "scenario=baseline,../calibration/baseline"), "scenario", "not a path"),
    (("scenario=..",), "scenario", "allowed one of baseline"),
    # dated changes: one value per lever and month, inside the run
    ((f"{TL}=[{{date: 2026-01, rate_cap_apr: 0.2}}, {{date: 2026-01, rate_cap_apr: 0.1}}]",),
     f"{TL}[1].rate_cap_apr", f"{TL}[0]"),
    ((f"{TL}=[{{date: 2026-01, max_leverage.bank: 20}}, "
      "{date: 2026-01, rate_cap_apr: 0.2, max_leverage.bank: 10}]",),
     f"{TL}[1].max_leverage.bank", "which one wins"),
    ((f"{TL}=[{{date: 2026-01, tech_subsidy: 0.2}}, {{date: '2026-01', tech_subsidy: 0.3}}]",),
     f"{TL}[1].tech_subsidy", "one value per lever and month"),
    (("market.end=2025-12", f"{TL}=[{{date: 2026-01, rate_cap_apr: 0.2}}]"), f"{TL}[0].date",
     "outside the run"),
]

# (arguments, key the WARNING must name): implausible, but kept as stress tests
WARNED = [
    (("regulation.rate_cap_apr=0.6",), "regulation.rate_cap_apr"),
    (("market.demand_growth=-0.8",), "market.demand_growth"),
    (("market.prepayment_rate=0.3",), "market.prepayment_rate"),
    (("regulation.max_leverage.online_platform=200",), "regulation.max_leverage.online_platform"),
    (("regulation.min_capital_ratio.bank=1.0",), "regulation.min_capital_ratio.bank"),
    (("regulation.online_consumer_loan_cap_cny=5000",), "regulation.online_consumer_loan_cap_cny"),
    ((f"{TL}=[{{date: 2026-01, rate_cap_apr: 0.5}}]",), f"{TL}[0].rate_cap_apr"),
]


@pytest.mark.parametrize(
    ("args", "key", "said"), REFUSED, ids=[" ".join(r[0])[:70] for r in REFUSED]
)
def test_refused_naming_the_key(args, key, said):
    """Each bad command line is refused before Hydra starts, with a line naming the key and
    saying what is wrong or what to write.
    """
    lines = preflight(list(args))
    assert lines, f"{args} was accepted"
    named = [line for line in lines if f"{key} " in line or f"{key}:" in line]
    assert named, lines
    assert any(said in line for line in named), lines
    assert all(line.startswith("config error: ") for line in lines), lines


def test_enough_new_bad_inputs():
    """At least 60 distinct bad inputs are tried here (besides test_bad_inputs.py's)."""
    assert len({r[0] for r in REFUSED}) == len(REFUSED) >= 60


@pytest.mark.parametrize(("args", "key"), WARNED, ids=[" ".join(w[0])[:60] for w in WARNED])
def test_stress_values_run_with_a_warning(args, key, caplog):
    """An implausible value inside its stress range is accepted, with a WARNING naming the key."""
    assert preflight(list(args)) == []
    with caplog.at_level(logging.WARNING, logger="sim.validation"):
        compose(*args)
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith(f"{key} = ")
               for r in caplog.records), caplog.text


def test_documented_bool_spellings_are_accepted():
    """true/false and OmegaConf's spellings (yes/no, on/off, any case) pass the strict check."""
    for value in ("true", "false", "True", "yes", "no", "on", "off", "Y", "n"):
        assert raw_problems({"plots": value, "progress": value}) == [], value


def test_bool_in_a_scenario_file_is_checked(tmp_path):
    """A scenario file writing 2 for a boolean, 3.0 for an integer or quoted text for a number
    is refused with each key named (the file is composed as Hydra would, schema left out).
    """
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "scenario" / "careless.yaml").write_text(
        "# @package _global_\ndefaults: [baseline]\nscenario_name: careless\n"
        "market:\n  n_regions: 31.0\n  segments:\n    sme:\n      business: 2\n"
        "regulation:\n  rate_cap_apr: '0.24'\n"
    )
    lines = raw_problems(raw_config(["scenario=careless"], str(conf)))
    assert sorted(line.split(" = ")[0] for line in lines) == [
        "market.n_regions",
        "market.segments.sme.business",
        "regulation.rate_cap_apr",
    ], lines


def test_every_conf_file_passes_the_strict_check():
    """Every scenario shipped in conf/ is written with strict types (no false alarm)."""
    for path in sorted((CONF_DIR / "scenario").glob("*.yaml")):
        assert raw_problems(raw_config([f"scenario={path.stem}"], str(CONF_DIR))) == [], path


def test_rule_table_falls_back_to_the_representable_range():
    """A field without a plausible rule is only held to its representable range: a valid value
    far from the defaults draws neither a refusal nor a warning; rules match only their keys.
    """
    assert plausible.rule_for("behaviour.tech_scale_cost") is None
    assert plausible.rule_for("market.segments.sme.apply_rate") is not None
    assert plausible.rule_for("regulation.timeline[4].rate_cap_apr") is (
        plausible.RULES["regulation.rate_cap_apr"]
    )
    cfg = compose("behaviour.tech_scale_cost=9e11", "market.end=2024-06")
    assert plausible.plausibility(cfg) == ([], [])


def test_every_rule_has_its_source_and_a_sane_interval():
    """Each rule names its source, its plausible interval lies inside its stress interval, and
    each rule's key is a field of the schema (a misspelt rule would never fire).
    """
    from sim.rawtypes import type_at

    for key, rule in plausible.RULES.items():
        assert rule.source and rule.lo < rule.hi, key
        if rule.stress is not None:
            assert rule.stress[0] <= rule.lo and rule.hi <= rule.stress[1], key
        sample = key.replace("segments.*", "segments.sme").replace("*", "bank")
        assert type_at(sample) is float, key


def test_memory_estimate_is_the_documented_model():
    """The estimate is SAFETY x (base + bytes a borrower x borrowers + lender-months), computed
    by hand for the default calendar: 84 months, and every term from the module's constants.
    """
    cfg = compose("market.n_borrowers=10000", "lenders.online_platform.entry_rate=0",
                  "lenders.bank.entry_rate=0", "lenders.credit_cooperative.entry_rate=0",
                  "lenders.policy_lender.entry_rate=0")
    est = budget.estimate(cfg)
    lenders = sum(lt.count for lt in cfg.lenders.values()) + 1
    assert est.months == 84 and est.lenders == lenders
    expected = budget.SAFETY * (
        budget.BASE_BYTES + 105.0 * 10_000 + 2 * 11 * 8.0 * lenders * 84
    )
    assert est.memory_bytes == pytest.approx(expected)


def test_refusals_come_before_any_work_and_create_nothing(tmp_path):
    """The four careless commands exit 2 with one ``config error`` line naming the key (the
    validation's refusal, raised before a model is built) and create no run directory.

    How fast that is, is a benchmark's business, not a test's: machines here are shared.
    """
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for arg, key in (
        ("market.demand_growth=8", "market.demand_growth"),
        ("plots=2", "plots"),
        ("market.start=0001-01", "market.start"),
        ("scenario=../calibration/baseline", "scenario"),
    ):
        out = tmp_path / key
        proc = subprocess.run(
            [sys.executable, "-m", "sim", arg, f"hydra.run.dir={out}"],
            cwd=root, capture_output=True, text=True, timeout=60,
            env={**os.environ, "CI": "1", "PYTHONPATH": str(root)},
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"config error: {key} = "), proc.stderr
        assert not out.exists()
