"""The Hydra callback that guards a sweep while it runs and aggregates it when it ends.

Registered in ``conf/hydra/default.yaml`` as ``hydra.callbacks.sweep_aggregate``;
its options ``compare`` (default true) and ``baseline`` (overrides naming the
baseline point) can be set per sweep or on the command line.

When the multirun starts, the callback takes the sweep directory's lock
(:mod:`scenarios.sweep.lock`; a second sweep into the same directory is
refused at once, exit code 3) and installs the stopping handlers of
:mod:`scenarios.sweep.stop`. When it ends, it writes the aggregate tables and
the comparison as one set (:func:`scenarios.sweep.aggregate.publish_aggregates`);
an error there ends the sweep with one line and exit code 1, where Hydra
would only have warned. A sweep none of whose jobs completed writes its job
tables (``failed.csv`` says why each failed), skips the comparison and exits 1.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from scenarios.sweep.aggregate import aggregate, publish_aggregates
from scenarios.sweep.io import BASIC_SWEEPER, expected_jobs
from scenarios.sweep.lock import SweepDirectoryBusyError, SweepLock
from scenarios.sweep.stop import stop_on_signals

log = logging.getLogger(__name__)
BUSY_EXIT = 3
_LOCKS: dict[Path, SweepLock] = {}  # held by the sweep process (a lock does not pickle)


class SweepAggregator(Callback):
    """Hydra callback: lock the sweep directory, then aggregate (and compare) the sweep."""

    def __init__(self, compare: bool = True, baseline: str | None = None) -> None:
        self.compare = compare
        self.baseline = baseline

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Take the sweep directory (or exit at once if another sweep holds it)."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        lock = SweepLock(sweep_dir)
        try:
            lock.acquire()
        except SweepDirectoryBusyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(BUSY_EXIT) from None
        except OSError as exc:
            print(f"error: {exc.filename or sweep_dir}: {exc.strerror or exc}", file=sys.stderr)
            raise SystemExit(1) from None
        _LOCKS[sweep_dir] = lock
        stop_on_signals(sweep_dir, str(config.hydra.launcher.get("_target_", "")))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write the sweep's tables, then its comparison, into ``hydra.sweep.dir``, as a set."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        expected = None
        sweeper = config.hydra.sweeper
        if sweeper.get("_target_") == BASIC_SWEEPER:
            params = sweeper.get("params")
            params = {} if params is None else OmegaConf.to_container(params, resolve=False)
            task = list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))
            expected = expected_jobs(params, task)
        complete: list[bool] = []
        started = time.perf_counter()
        log.info("Aggregating the jobs of %s", sweep_dir)
        try:
            publish_aggregates(
                sweep_dir, lambda staged: self._write(sweep_dir, staged, expected, complete)
            )
        except Exception as exc:
            line = (
                f"error: aggregating {sweep_dir} failed ({type(exc).__name__}: {exc}); "
                "no aggregate file was written; rerun the sweep or "
                "python -m scenarios.sweep.aggregate on it"
            )
            log.error(line)
            print(line, file=sys.stderr)
            raise SystemExit(1) from None
        finally:
            lock = _LOCKS.pop(sweep_dir, None)
            if lock is not None:
                lock.release()
        if not any(complete):
            line = f"error: no job of the sweep in {sweep_dir} completed; see its failed.csv"
            log.error(line)
            print(line, file=sys.stderr)
            raise SystemExit(1)
        log.info("Sweep done: %s (aggregation %.1f s)", sweep_dir, time.perf_counter() - started)

    def _write(
        self, sweep_dir: Path, staged: Path, expected: list | None, complete: list[bool]
    ) -> list[Path]:
        """Aggregate and compare ``sweep_dir`` into ``staged``; return the files written."""
        tables = aggregate(sweep_dir, expected, out_dir=staged)
        complete.append(len(tables["jobs"]) > len(tables["failed"]))
        if self.compare and complete[-1]:
            # imported here: every run instantiates the callback, only multiruns need matplotlib
            from scenarios.sweep.compare import compare

            log.info("Comparing the points and drawing the figures")
            figures = time.perf_counter()
            compare([sweep_dir], baseline=self.baseline, out_dir=staged, baseline_fallback=True)
            log.info(
                "Wrote comparison.csv, the figures and summary.md (%.1f s)",
                time.perf_counter() - figures,
            )
        return sorted(staged.iterdir())
