"""Type shares, prices and channels do not depend on the population size from 50,000
borrowers, nor the levers' paired effects from 20,000.
"""

from __future__ import annotations

import pytest

from scenarios.mechanism_checks import (
    SCALE_METRICS,
    checks,
    effect_per_seed,
    effect_scale_row,
    run_points,
    scale_row,
    with_seed,
)
from sim.diagnostics import EFFECTS_HOLD_FROM, PRICES_HOLD_FROM, SCALE_FREE_FROM

SEEDS = range(1, 7)
HOLDING = (
    "bank share 2030",
    "cooperative share 2030",
    "platform share 2030",
    "online share 2030",
    "average rate 2030",
    "served share 2030",
)
"""The metrics stated to hold from ``PRICES_HOLD_FROM``; the level of HHI is still higher
there (``sim.diagnostics.SCALE_FREE_FROM``)."""


@pytest.fixture(scope="module")
def runs() -> dict:
    """The baseline at the default scale and at ``PRICES_HOLD_FROM``, seeds 1-6."""
    points = [with_seed((), s, n) for s in SEEDS for n in (SCALE_FREE_FROM, PRICES_HOLD_FROM)]
    return run_points(points, jobs=2)


@pytest.mark.parametrize("name", HOLDING)
def test_2030_prices_and_channels_agree_across_scales(runs: dict, name: str) -> None:
    """The 2030 mean at 50,000 borrowers is within 2 SE of the mean at 100,000.

    Unpaired over seeds 1-6 (the populations differ, so seeds do not pair).
    """
    metric = SCALE_METRICS[name]
    big = [metric(runs[with_seed((), s, SCALE_FREE_FROM)]) for s in SEEDS]
    small = [metric(runs[with_seed((), s, PRICES_HOLD_FROM)]) for s in SEEDS]
    row = scale_row(name, big, small)
    assert row["holds"], row


TESTED_EFFECTS = (
    "platform new lending 2026, cap 0.24 -> 0.154 (at most -25 %)",
    "served share 2030, credit_data_sharing",
)
"""Two of ``SCALE_EFFECTS``: the rate cap (the main lever) and credit-data sharing."""


@pytest.fixture(scope="module")
def effect_runs() -> dict:
    """Each tested effect's policy and reference at 100,000 and 20,000, seeds 1-6."""
    tested = [c for c in checks() if c.name in TESTED_EFFECTS]
    points = [
        with_seed(p, s, n)
        for c in tested
        for p in (c.policy, c.reference)
        for s in SEEDS
        for n in (SCALE_FREE_FROM, EFFECTS_HOLD_FROM)
    ]
    return {"checks": tested, "runs": run_points(points, jobs=2)}


@pytest.mark.parametrize("name", TESTED_EFFECTS)
def test_lever_effects_agree_from_20000_borrowers(effect_runs: dict, name: str) -> None:
    """A lever's paired effect (policy - reference on common seeds) at 20,000 borrowers is
    within 2 SE of the same effect at 100,000, over seeds 1-6, though levels differ there.
    """
    (check,) = [c for c in effect_runs["checks"] if c.name == name]
    runs = effect_runs["runs"]
    big = effect_per_seed(check, runs, SEEDS, SCALE_FREE_FROM)
    small = effect_per_seed(check, runs, SEEDS, EFFECTS_HOLD_FROM)
    row = effect_scale_row(check, big, small, (SCALE_FREE_FROM, EFFECTS_HOLD_FROM))
    assert row["holds"], row
