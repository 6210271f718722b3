"""Type shares, prices and channels do not depend on the population size from 50,000 borrowers."""

from __future__ import annotations

import pytest

from scenarios.mechanism_checks import SCALE_METRICS, run_points, scale_row, with_seed
from sim.diagnostics import PRICES_HOLD_FROM, SCALE_FREE_FROM

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
