"""The Hydra callback that aggregates, then compares, a sweep when its multirun ends.

Registered in ``conf/hydra/default.yaml`` as ``hydra.callbacks.sweep_aggregate``;
its options ``compare`` (default true) and ``baseline`` (overrides naming the
baseline point) can be set per sweep or on the command line.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from scenarios.sweep.aggregate import aggregate
from scenarios.sweep.io import BASIC_SWEEPER, expected_jobs

log = logging.getLogger(__name__)


class SweepAggregator(Callback):
    """Hydra callback: aggregate (and compare) a sweep when its multirun ends."""

    def __init__(self, compare: bool = True, baseline: str | None = None) -> None:
        self.compare = compare
        self.baseline = baseline

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write the sweep's tables, then its comparison, into ``hydra.sweep.dir``."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        expected = None
        sweeper = config.hydra.sweeper
        if sweeper.get("_target_") == BASIC_SWEEPER:
            params = sweeper.get("params")
            params = {} if params is None else OmegaConf.to_container(params, resolve=False)
            task = list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))
            expected = expected_jobs(params, task)
        started = time.perf_counter()
        log.info("Aggregating the jobs of %s", sweep_dir)
        aggregate(sweep_dir, expected)
        if self.compare:
            log.info("Comparing the points and drawing the figures")
            figures = time.perf_counter()
            # imported here: every run instantiates the callback, only multiruns need matplotlib
            from scenarios.sweep.compare import compare

            compare([sweep_dir], baseline=self.baseline, out_dir=sweep_dir, baseline_fallback=True)
            log.info(
                "Wrote comparison.csv, the figures and summary.md (%.1f s)",
                time.perf_counter() - figures,
            )
        log.info("Sweep done: %s (aggregation %.1f s)", sweep_dir, time.perf_counter() - started)
