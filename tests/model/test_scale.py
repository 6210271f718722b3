"""Results do not depend on the simulated population size from the stated smallest scale."""

from __future__ import annotations

import pytest

from scenarios.mechanism_checks import SCALE_METRICS, run_points, scale_row, with_seed
from sim.diagnostics import SCALE_FREE_FROM

SEEDS = range(1, 7)
DEFAULT_SCALE = 100_000


@pytest.fixture(scope="module")
def runs() -> dict:
    """The baseline at the default scale and at ``SCALE_FREE_FROM``, seeds 1-6."""
    points = [with_seed((), s, n) for s in SEEDS for n in (DEFAULT_SCALE, SCALE_FREE_FROM)]
    return run_points(points, jobs=2)


@pytest.mark.parametrize("name", list(SCALE_METRICS))
def test_2030_means_agree_across_scales(runs: dict, name: str) -> None:
    """The 2030 mean at ``SCALE_FREE_FROM`` borrowers is within 2 SE of the mean at 100,000.

    Unpaired over seeds 1-6 (the populations differ, so seeds do not pair):
    HHI, each type's share, online share, average rate and served share.
    """
    metric = SCALE_METRICS[name]
    big = [metric(runs[with_seed((), s, DEFAULT_SCALE)]) for s in SEEDS]
    small = [metric(runs[with_seed((), s, SCALE_FREE_FROM)]) for s in SEEDS]
    row = scale_row(name, big, small)
    assert row["holds"], row
