"""The ``result.json`` record of a run: its states, its identity and its headline figures.

``result.json`` is written first with status ``running`` and rewritten with
``complete`` only after every table and plot is in place, so a run killed
part-way is marked incomplete: ``interrupted`` after SIGINT (Ctrl-C) or
SIGTERM, ``failed`` when it raised, and still ``running`` after SIGKILL or a
power cut. A sweep trusts a stored result only when it is ``complete``, for
the same configuration, with its tables present.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import signal
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

REQUIRED_TABLES = ("market_yearly.csv", "lenders_yearly.csv")


class RunInterrupted(SystemExit):
    """A run stopped by a signal (SIGTERM); exits the process with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(128 + signum)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into :class:`RunInterrupted` while the block runs (main thread only).

    SIGINT already raises ``KeyboardInterrupt``; with this, a run killed either
    way unwinds through its ``except`` clause, so ``result.json`` says
    ``interrupted`` instead of staying ``running``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise RunInterrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


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
    }


def complete(result: dict[str, Any], yearly: pd.DataFrame, files: list[str], wall: float) -> None:
    """Mark ``result`` complete, with its headline figures and files."""
    result.update(
        status="complete",
        wall_time_s=round(wall, 3),
        headline={k: _clean(v) for k, v in headline(yearly).items()},
        files=files,
    )


def stopped(result: dict[str, Any], exc: BaseException, wall: float) -> str | None:
    """Mark ``result`` interrupted (a signal) or failed (an error); the signal's name or None."""
    name = None
    if isinstance(exc, KeyboardInterrupt | RunInterrupted):
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


def stored_result(out_dir: Path, expected_hash: str) -> dict[str, Any] | None:
    """The complete result record in ``out_dir`` for ``expected_hash`` (tables present), or None."""
    result = read_result(out_dir)
    if result is None or result.get("status") != "complete":
        return None
    if result.get("config_hash") != expected_hash:
        return None
    if not all((Path(out_dir) / name).is_file() for name in REQUIRED_TABLES):
        return None
    return result


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
        },
        out_dir / "result.json",
    )


