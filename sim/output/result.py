"""The ``result.json`` record of a run: its states, its identity and its headline figures.

``result.json`` is written first with status ``running`` (with the pid and
host of the process, so a ``running`` left by a killed process is recognisably
dead) and rewritten with ``complete`` only after every table and plot is in
place, with the SHA-256 of each. A run stopped part-way is marked
``interrupted`` after SIGINT (Ctrl-C) or SIGTERM, ``failed`` when it raised,
and stays ``running`` only after SIGKILL or a power cut. A sweep reuses a
stored result only when it is ``complete``, for the same configuration and the
same code, and every file still has its checksum (:func:`reuse_problem`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim import __version__
from sim.config import SimConfig
from sim.output.atomic import write_json
from sim.output.files import mismatched
from sim.output.identity import code_identity

REQUIRED_TABLES = ("market_yearly.csv", "lenders_yearly.csv")


class RunInterrupted(SystemExit):
    """A run stopped by a signal (SIGTERM); exits the process with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(128 + signum)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[list[int]]:
    """Turn SIGTERM into :class:`RunInterrupted` while the block runs (main thread only).

    SIGINT already raises ``KeyboardInterrupt``; with this, a run killed either
    way unwinds through its ``except`` clause, so ``result.json`` says
    ``interrupted`` instead of staying ``running``. The block gets a list into
    which every signal received is put, so a signal that some library turned
    into another exception is still recorded as the interruption it was.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_term(signum: int, frame: object) -> None:
        received.append(signum)
        raise RunInterrupted(signum)

    def on_int(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_int)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


def config_hash(cfg: SimConfig) -> str:
    """Short SHA-256 of the resolved configuration (stable across runs and machines)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def headline(yearly: pd.DataFrame) -> dict[str, Any]:
    """First- and last-year figures a reader looks for first."""
    first, last = yearly.iloc[0], yearly.iloc[-1]
    out: dict[str, Any] = {"first_year": int(first["year"]), "last_year": int(last["year"])}
    for name in ("hhi", "cr5", "online_share", "avg_rate", "npl_ratio", "served_share"):
        out[f"{name}_first"] = float(first[name])
        out[f"{name}_last"] = float(last[name])
    out["lending_growth"] = float(last["lending"] / first["lending"]) if first["lending"] else None
    out["n_active_last"] = int(last["n_active"])
    out["exits_total"] = int(yearly["exits"].sum())
    out["acquisitions_total"] = int(yearly["acquisitions"].sum())
    out["entries_total"] = int(yearly["entries"].sum())
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def started_record(cfg: SimConfig) -> dict[str, Any]:
    """The record of a run that has begun (status ``running``)."""
    return {
        "status": "running",
        "scenario": cfg.scenario_name,
        "seed": cfg.seed,
        "config_hash": config_hash(cfg),
        "version": __version__,
        "n_borrowers": cfg.market.n_borrowers,
        "borrower_weight": cfg.market.real_borrowers / cfg.market.n_borrowers,
        "start": cfg.market.start,
        "end": cfg.market.end,
        **process_identity(),
    }


def process_identity() -> dict[str, Any]:
    """Who writes the record: pid, host, start time (UTC) and the code's identity."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "code": code_identity(),
    }


def process_alive(pid: Any, host: Any) -> bool | None:
    """Whether the process that wrote a record still runs: None if it ran on another host."""
    if host != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped) counts as dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def complete(
    result: dict[str, Any], yearly: pd.DataFrame, sums: dict[str, str], wall: float
) -> None:
    """Mark ``result`` complete, with its headline figures, files and their SHA-256."""
    result.update(
        status="complete",
        wall_time_s=round(wall, 3),
        headline={k: _clean(v) for k, v in headline(yearly).items()},
        files=list(sums),
        checksums=dict(sums),
    )


def stopped(
    result: dict[str, Any], exc: BaseException, wall: float, received: list[int] | None = None
) -> str | None:
    """Mark ``result`` interrupted (a signal) or failed (an error); the signal's name or None.

    A signal in ``received`` makes the run ``interrupted`` whatever exception
    it surfaced as.
    """
    name = None
    if received or isinstance(exc, KeyboardInterrupt | RunInterrupted):
        if received:
            signum = received[0]
        else:
            signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
        name = signal.Signals(signum).name
        result.update(status="interrupted", error=f"interrupted by {name}")
    else:
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    result["wall_time_s"] = round(wall, 3)
    return name


def read_result(directory: Path) -> dict[str, Any] | None:
    """``directory/result.json`` as a dict, or None if absent or unreadable."""
    try:
        result = json.loads((Path(directory) / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def reuse_problem(out_dir: Path, expected_hash: str) -> str | None:
    """Why the result in ``out_dir`` cannot stand for a run of ``expected_hash``; None if it can.

    It can only if ``result.json`` is ``complete``, for this configuration and
    this code (:func:`~sim.output.identity.code_identity`), and every file it
    lists is there with its checksum.
    """
    result = read_result(out_dir)
    if result is None:
        return "no readable result.json"
    if result.get("status") != "complete":
        return f"status {result.get('status')!r}"
    if result.get("config_hash") != expected_hash:
        return f"config {result.get('config_hash')} is not {expected_hash}"
    if result.get("code") != code_identity():
        return f"made by code {result.get('code')}, not {code_identity()}"
    sums = result.get("checksums")
    if not isinstance(sums, dict) or not set(REQUIRED_TABLES) <= set(sums):
        return "no checksum for its tables"
    bad = mismatched(Path(out_dir), sums)
    if bad:
        return f"{', '.join(bad)} missing or changed since the run"
    return None


def stored_result(out_dir: Path, expected_hash: str) -> dict[str, Any] | None:
    """The reusable result record in ``out_dir`` for ``expected_hash`` (see reuse_problem)."""
    if reuse_problem(out_dir, expected_hash) is not None:
        return None
    return read_result(out_dir)


def hhi_last(result: dict[str, Any]) -> float | None:
    """The final HHI a result record gives, or None."""
    headline = result.get("headline") or {}
    value = headline.get("hhi_last")
    return None if value is None else float(value)


def write_failure(out_dir: Path, cfg: DictConfig, error: str) -> None:
    """Record a job that failed before its run began (its config was refused)."""
    seed = cfg.get("seed") if isinstance(cfg, DictConfig) else None
    write_json(
        {
            "status": "failed",
            "error": error,
            "seed": seed if isinstance(seed, int) else None,
            "scenario": cfg.get("scenario_name"),
            "config_hash": None,
            "version": __version__,
            **process_identity(),
        },
        out_dir / "result.json",
    )


