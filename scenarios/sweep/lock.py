"""One sweep per directory: a lock on the sweep directory, held while the sweep runs.

The lock is an OS file lock (:mod:`filelock`, ``flock`` on POSIX) on
``SWEEP_DIR/.sweep.lock``; the operating system releases it when its process
ends, however it ends, so a lock left by a killed sweep is never in force and
the next sweep simply takes it over. Beside it, ``.sweep.owner.json`` names the
owner (pid, host, start time) so a refused sweep can say who holds the
directory. filelock is used rather than a hand-written lock file because it
handles the platforms' locking calls (``flock``, ``msvcrt``) and their corner
cases, and is already installed with Ray and virtualenv.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sim.output.atomic import write_json
from sim.output.result import process_alive

log = logging.getLogger(__name__)

LOCK_FILE = ".sweep.lock"
OWNER_FILE = ".sweep.owner.json"


class SweepDirectoryBusyError(RuntimeError):
    """Another sweep holds the directory; the message names it."""


def _owner(sweep_dir: Path) -> dict[str, Any]:
    try:
        owner = json.loads((sweep_dir / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


class SweepLock:
    """The lock of one sweep directory (acquire once; released on :meth:`release` or exit)."""

    def __init__(self, sweep_dir: Path) -> None:
        self.sweep_dir = Path(sweep_dir)
        self._lock = FileLock(str(self.sweep_dir / LOCK_FILE), timeout=0)

    def acquire(self) -> None:
        """Take the directory, or raise :class:`SweepDirectoryBusyError` naming the owner."""
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            owner = _owner(self.sweep_dir)
            raise SweepDirectoryBusyError(
                f"{self.sweep_dir}: another sweep is running in this directory (pid "
                f"{owner.get('pid', '?')} on {owner.get('host', '?')}, started "
                f"{owner.get('started_at', '?')}); wait for it or choose another hydra.sweep.dir"
            ) from None
        previous = _owner(self.sweep_dir)
        if previous and process_alive(previous.get("pid"), previous.get("host")) is False:
            log.warning(
                "took over %s from a sweep that no longer runs (pid %s, started %s)",
                self.sweep_dir, previous.get("pid"), previous.get("started_at"),
            )
        write_json(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            },
            self.sweep_dir / OWNER_FILE,
        )

    def release(self) -> None:
        """Give the directory back (the owner file stays, naming the last owner)."""
        if self._lock.is_locked:
            self._lock.release()
