"""The lever table covers every lever, measures paired effects correctly, and is in sync."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from scenarios import lever_effects
from scenarios.lever_effects import LEVER_TESTS, LeverTest, effects_table
from sim.config import RegulationConfig
from sim.output.sections import section
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]
PER_TYPE = ("min_capital_ratio", "max_leverage")


def test_every_lever_has_a_row():
    """Each field of the regulation schema (but the timeline) is tested: scalars by name,
    per-type levers for at least one type.
    """
    names = {t.lever.partition(".")[0] for t in LEVER_TESTS}
    expected = {f.name for f in dataclasses.fields(RegulationConfig)} - {"timeline"}
    assert names == expected
    assert all(any(t.lever.startswith(f"{p}.") for t in LEVER_TESTS) for p in PER_TYPE)


@pytest.mark.parametrize("test", LEVER_TESTS, ids=[t.lever for t in LEVER_TESTS])
def test_each_test_value_is_valid_and_differs_from_the_baseline(test: LeverTest):
    """The override composes into a valid config whose lever differs from the baseline's."""

    def lever_value(cfg):
        name, _, sub = test.lever.partition(".")
        value = getattr(cfg.regulation, name)
        return value[sub] if sub else value

    assert lever_value(compose_config(test.override)) != lever_value(compose_config())


def test_paired_effects_by_hand():
    """Baseline 1, 2 and test 2, 4 on seeds 1, 2: differences 1 and 2, mean 1.5, sd 0.7071;
    t(0.975, 1) = 12.706, half-width 12.706 x 0.7071 / sqrt(2) = 6.353: not significant.
    """
    test = LEVER_TESTS[0]
    results = {}
    for seed, base, moved in ((1, 1.0, 2.0), (2, 2.0, 4.0)):
        results[(None, seed)] = dict.fromkeys(lever_effects.METRICS, base)
        results[(test.lever, seed)] = dict.fromkeys(lever_effects.METRICS, moved)
    row = effects_table(results, [1, 2], [test]).iloc[0]
    assert row["effect"] == pytest.approx(1.5)
    assert row["ci_low"] == pytest.approx(1.5 - 6.353, abs=1e-3)
    assert row["ci_high"] == pytest.approx(1.5 + 6.353, abs=1e-3)
    assert not row["significant"] and row["baseline"] == pytest.approx(1.5)


def test_tiny_run_writes_a_table(tmp_path):
    """Two seeds of a small market for one lever: a Markdown row with an interval per metric."""
    out = tmp_path / "levers.md"
    argv = ["--seeds", "2", "--n-borrowers", "2000", "--lever", "rate_cap_apr", "--jobs", "1"]
    assert lever_effects.main([*argv, "--write", str(out)]) == 0
    row = next(line for line in out.read_text().splitlines() if line.startswith("| `rate_cap"))
    assert len(re.findall(r"\[[-+][\d.]+, [-+][\d.]+\]", row)) == len(lever_effects.METRICS)


def test_committed_table_lists_every_lever():
    """docs/levers.md has one row per lever, in the tool's order (regenerate it when not)."""
    text = section((ROOT / "docs" / "levers.md").read_text(), lever_effects.SECTION)
    rows = re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)
    assert rows == [t.lever for t in LEVER_TESTS]
