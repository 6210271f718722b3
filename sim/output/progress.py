"""A progress line by simulated month, shown only on an interactive terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

from sim.calendar import format_month

ProgressFn = Callable[[int, int, int], None]


def terminal_progress(enabled: bool, stream: TextIO | None = None) -> ProgressFn | None:
    """A callback drawing ``[#####.....] 2026-05  29/84`` on a terminal, else None.

    Quiet when disabled, when the stream is not a terminal (logs, pipes) and in CI.
    """
    stream = stream or sys.stderr
    if not enabled or not stream.isatty() or os.environ.get("CI"):
        return None

    def show(done: int, total: int, month: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        end = "\n" if done >= total else ""
        stream.write(f"\r[{bar}] {format_month(month)}  {done}/{total}{end}")
        stream.flush()

    return show
