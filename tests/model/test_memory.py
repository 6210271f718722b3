"""No memory leak across jobs: many runs in one process (as a sweep worker does them)."""

from __future__ import annotations

import dataclasses
import gc
import resource
from pathlib import Path

from sim.run import simulate
from tests.conftest import compose_config

RUNS = 20
WARM_UP = 5  # runs before the baseline: imports, caches and allocator pools settle
MAX_GROWTH_MB = 50.0


def _rss_mb() -> float:
    """Current resident set size (``/proc/self/status``), or the peak where there is no /proc."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_rss_flat_over_twenty_consecutive_runs():
    """Twenty consecutive small runs of ``sim.run.simulate`` in one process keep RSS flat.

    Each run builds a model (Mesa agents, borrower arrays, recorder) and its
    tables; if anything kept a reference to a finished run (a module-level
    cache, Mesa's agent registry, a logger), resident memory would climb by
    about the size of a run each time. Bound: RSS after run 20 at most 50 MB
    above RSS after run 5 (a run at this scale allocates several MB, so a leak
    of whole runs would add far more over 15 runs; the bound is generous to
    allocator noise).
    """
    cfg = compose_config("market.n_borrowers=3000")
    rss = []
    for seed in range(RUNS):
        tables = simulate(dataclasses.replace(cfg, seed=seed))
        assert len(tables["market_yearly"]) == 7
        del tables
        gc.collect()
        rss.append(_rss_mb())
    growth = rss[-1] - rss[WARM_UP - 1]
    assert growth < MAX_GROWTH_MB, f"RSS by run (MB): {[round(r) for r in rss]}"
