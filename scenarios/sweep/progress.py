"""Progress of a sweep, whatever the launcher: jobs done out of N, with an ETA.

:class:`SweepProgress` is a Hydra callback (registered in
``conf/hydra/default.yaml`` as ``hydra.callbacks.sweep_progress``). When the
multirun starts it logs "Composing N jobs" (Hydra composes and checks every
job's config before the first one runs). Each job, in whatever process or
machine its launcher gives it (basic, joblib, Ray, submitit), leaves an empty
marker file in ``SWEEP_DIR/.progress/`` when it starts and when it ends; a
thread of the launching process counts them and shows ``12/20 jobs done, ETA
0:08`` as a bar on a terminal, or as a log line on stderr otherwise (on the
first job done, then at most every ``log_every`` seconds, and at the end). In
CI (``CI`` set) it stays quiet. The ETA is the jobs left over the rate since
the first job started. When the multirun ends the thread stops and the markers
are removed, before the sweep is aggregated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from scenarios.sweep.io import BASIC_SWEEPER, expected_jobs
from sim.output.atomic import atomic_write_text

log = logging.getLogger(__name__)

MARKERS = ".progress"
"""Directory of the job markers inside the sweep directory (removed when the sweep ends)."""

_MONITORS: dict[str, ProgressMonitor] = {}  # by sweep directory; threads do not pickle


def clock(seconds: float) -> str:
    """``0:08``, ``12:30`` or ``2:05:00``: a duration as minutes and seconds (hours if any)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_seconds(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the rate so far (``elapsed / done`` a job), None before a job is done."""
    if done <= 0 or total <= done or elapsed <= 0:
        return None
    return elapsed / done * (total - done)


def progress_text(done: int, total: int | None, elapsed: float | None) -> str:
    """``3/20 jobs done, ETA 0:51`` (or ``in 1:05`` when all are done; no ETA yet at 0)."""
    if total is None:
        return f"{done} jobs done"
    text = f"{done}/{total} jobs done"
    if elapsed is None:
        return text
    if done >= total:
        return f"{text} in {clock(elapsed)}"
    eta = eta_seconds(done, total, elapsed)
    return text if eta is None else f"{text}, ETA {clock(eta)}"


def bar(done: int, total: int | None, width: int = 30) -> str:
    """``[#########.....................]``: the share of jobs done."""
    filled = 0 if not total else width * min(done, total) // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _count(directory: Path, suffix: str) -> tuple[int, float | None]:
    """Markers ending in ``suffix`` and the time of the oldest one."""
    try:
        found = [e for e in os.scandir(directory) if e.name.endswith(suffix)]
    except OSError:
        return 0, None
    times = []
    for entry in found:
        with contextlib.suppress(OSError):
            times.append(entry.stat().st_mtime)
    return len(found), (min(times) if times else None)


class ProgressMonitor(threading.Thread):
    """Counts a sweep's job markers and shows its progress until stopped."""

    def __init__(
        self,
        markers: Path,
        total: int | None,
        stream: TextIO,
        terminal: bool,
        interval: float = 0.1,
        log_every: float = 5.0,
    ) -> None:
        super().__init__(name="sweep-progress", daemon=True)
        self.markers, self.total, self.stream = markers, total, stream
        self.terminal, self.interval, self.log_every = terminal, interval, log_every
        self._stop_event = threading.Event()
        self._shown = -1
        self._last_line = 0.0

    def _state(self) -> tuple[int, float | None]:
        done, _ = _count(self.markers, ".done")
        _, first_start = _count(self.markers, ".start")
        elapsed = None if first_start is None else max(0.0, time.time() - first_start)
        return done, elapsed

    def _show(self, final: bool = False) -> None:
        done, elapsed = self._state()
        text = progress_text(done, self.total, elapsed)
        now = time.monotonic()
        if self.terminal:
            self.stream.write(f"\r{bar(done, self.total)} {text}\033[K" + ("\n" if final else ""))
            self.stream.flush()
            return
        first = done > 0 and self._shown <= 0  # the first job done is shown at once
        due = done != self._shown and now - self._last_line >= self.log_every
        if final or first or (done > 0 and due):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.stream.write(f"[{stamp}][sweep] {text}\n")
            self.stream.flush()
            self._last_line, self._shown = now, done

    def run(self) -> None:
        """Redraw (terminal) or log (otherwise) until :meth:`stop`."""
        while not self._stop_event.wait(self.interval):
            self._show()

    def stop(self) -> None:
        """Stop the thread and show the final count."""
        self._stop_event.set()
        self.join(timeout=5)
        self._show(final=True)


def _job_count(config: DictConfig) -> int | None:
    """How many jobs the basic sweeper will launch, or None for another sweeper."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = sweeper.get("params")
    params = {} if params is None else OmegaConf.to_container(params, resolve=False)
    task = list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))
    return len(expected_jobs(params, task))


class SweepProgress(Callback):
    """Hydra callback: job markers in every job, a progress bar or log lines in the launcher."""

    def __init__(self, interval: float = 0.1, log_every: float = 5.0) -> None:
        self.interval = interval
        self.log_every = log_every

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Log how many jobs are composed; clear old markers; start the monitor (not in CI)."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        total = _job_count(config)
        log.info(
            "Composing %s jobs (Hydra checks every job's config before the first one starts)",
            "the" if total is None else total,
        )
        markers = sweep_dir / MARKERS
        shutil.rmtree(markers, ignore_errors=True)
        markers.mkdir(parents=True, exist_ok=True)
        if os.environ.get("CI"):
            return
        stream = sys.stderr
        monitor = ProgressMonitor(
            markers, total, stream, stream.isatty(), self.interval, self.log_every
        )
        _MONITORS[str(sweep_dir)] = monitor
        monitor.start()

    def _mark(self, config: DictConfig, suffix: str) -> None:
        if config.hydra.get("mode") != RunMode.MULTIRUN:
            return
        markers = Path(str(config.hydra.sweep.dir)) / MARKERS
        with contextlib.suppress(OSError):  # progress is never worth failing a job for
            markers.mkdir(parents=True, exist_ok=True)
            atomic_write_text(markers / f"{config.hydra.job.num}{suffix}", "")

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Mark the job started (in the job's own process)."""
        self._mark(config, ".start")

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        """Mark the job done (in the job's own process)."""
        self._mark(config, ".done")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Stop the monitor with the final count and remove the markers."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        monitor = _MONITORS.pop(str(sweep_dir), None)
        if monitor is not None:
            monitor.stop()
        shutil.rmtree(sweep_dir / MARKERS, ignore_errors=True)
