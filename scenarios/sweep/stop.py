"""Stopping a sweep: SIGTERM or Ctrl-C to the sweep stops its workers and marks their jobs.

A parallel launcher (joblib's loky workers, Ray's worker processes, submitit's
local jobs) runs the jobs in child processes; if the sweep process alone dies,
they run on, holding the sweep's output pipe. :func:`stop_on_signals` installs
handlers in the sweep process that, on SIGTERM or SIGINT, send SIGTERM to every
descendant process (each job then records itself ``interrupted``), and to each
one the pool starts meanwhile, kill those still alive after a grace period,
mark every job still recorded ``running`` by
a process that is gone as ``interrupted``, and then raise, so the sweep exits
non-zero (143 after SIGTERM) and no aggregate is written.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from sim.output.atomic import write_json
from sim.output.files import remove_leftovers
from sim.output.result import RunInterrupted, process_alive, read_result

log = logging.getLogger(__name__)

GRACE_SECONDS = 2.0  # a job records itself interrupted within milliseconds of SIGTERM
DEADLINE_SECONDS = 20.0
_POLL_SECONDS = 0.1


def _descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def stop_descendants(grace: float = GRACE_SECONDS) -> int:
    """SIGTERM every descendant until none is left, SIGKILL each ``grace`` s after; count them.

    The process tree is read again every tenth of a second, because a
    launcher's pool (loky) starts a new worker for each one that dies; a
    process that ignores SIGTERM (loky's resource tracker) is killed once its
    grace is over.
    """
    deadline = time.monotonic() + DEADLINE_SECONDS
    signalled: dict[int, float] = {}
    while (children := _descendants()) and time.monotonic() < deadline:
        now = time.monotonic()
        for child in children:
            with contextlib.suppress(psutil.Error):
                if child.pid not in signalled:
                    signalled[child.pid] = now
                    child.terminate()
                elif now - signalled[child.pid] > grace:
                    child.kill()
        psutil.wait_procs(children, timeout=_POLL_SECONDS)
    return len(signalled)


def mark_dead_jobs(sweep_dir: Path, signal_name: str) -> list[Path]:
    """Rewrite as ``interrupted`` each job recorded ``running`` whose process is gone.

    Every job directory whose process is gone also loses the temporary files
    and staging directories a worker killed mid-write left behind.
    """
    marked = []
    for path in sorted(Path(sweep_dir).glob("*/result.json")):
        result = read_result(path.parent)
        if not result or process_alive(result.get("pid"), result.get("host")) is not False:
            continue
        remove_leftovers(path.parent)
        if result.get("status") != "running":
            continue
        result.update(status="interrupted", error=f"interrupted by {signal_name} (sweep stopped)")
        with contextlib.suppress(OSError):
            write_json(result, path)
            marked.append(path.parent)
    return marked


def _handler(sweep_dir: Path) -> Callable[[int, object], None]:
    def handle(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # no second round while stopping
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        n = stop_descendants()
        marked = mark_dead_jobs(sweep_dir, name)
        log.warning(
            "sweep stopped by %s: %d worker processes ended, %d jobs marked interrupted",
            name, n, len(marked),
        )
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise RunInterrupted(signum)

    return handle


def stop_on_signals(sweep_dir: Path, launcher: str = "") -> None:
    """Install the stopping handlers for SIGTERM and SIGINT (main thread only).

    ``launcher`` is the launcher's ``_target_``: under Ray, ``ray.init`` (called
    by the launcher after this) installs Ray's own handlers, so ours are put
    back when it returns.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    handle = _handler(Path(sweep_dir))
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    if "ray" in launcher.lower():
        _keep_under_ray(handle)


def _keep_under_ray(handle: Callable[[int, object], None]) -> None:
    """Put ``handle`` back for SIGTERM and SIGINT each time ``ray.init`` returns.

    ``ray.init`` installs Ray's own handlers in the sweep process (a Python one
    that only exits and its core's fatal-signal handler, which aborts).
    """
    try:
        import ray
    except Exception:  # no Ray: nothing to keep
        return
    original = ray.init
    if getattr(original, "_keeps_sweep_handler", False):
        return

    def init(*args: object, **kwargs: object) -> object:
        context = original(*args, **kwargs)
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        return context

    init._keeps_sweep_handler = True  # type: ignore[attr-defined]
    ray.init = init
