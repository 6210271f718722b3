"""Run one simulation and write its tables, plots and ``result.json``, atomically.

``result.json`` is written first with status ``running`` and rewritten with
``complete`` only after every table and plot is in place, so a run killed
part-way is marked incomplete: ``interrupted`` after SIGINT (Ctrl-C) or
SIGTERM, ``failed`` when it raised, and still ``running`` after SIGKILL or a
power cut. Tables a previous run left in the same directory are removed first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.config import LENDER_TYPES, SimConfig
from sim.model import MarketModel
from sim.output.atomic import write_csv, write_json
from sim.output.progress import terminal_progress
from sim.output.tables import lenders_yearly, market_monthly, market_yearly

log = logging.getLogger(__name__)

TABLES = ("market_monthly.csv", "market_yearly.csv", "lenders_yearly.csv", "types_yearly.csv")


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


def simulate(cfg: SimConfig, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Run the model; return its tables (no files written)."""
    model = MarketModel(cfg)
    recorder = model.run(terminal_progress(progress))
    types = model.book.view("type_code").copy()
    yearly = market_yearly(recorder, types)
    lenders = lenders_yearly(recorder, types)
    return {
        "market_monthly": market_monthly(recorder, types),
        "market_yearly": yearly,
        "lenders_yearly": lenders,
        "types_yearly": types_yearly(lenders, yearly["year"].tolist()),
    }


def types_yearly(lenders: pd.DataFrame, years: list[int] | None = None) -> pd.DataFrame:
    """One row per lender type and year: balances, lending, shares and active lenders.

    ``years`` (default: those in ``lenders``) lists every year of the run, so a
    year in which no lender held anything still has its rows, all zero.
    """
    grouped = lenders.groupby(["year", "lender_type"], sort=True)
    out = grouped.agg(
        outstanding=("outstanding", "sum"),
        new_lending=("new_lending", "sum"),
        funded=("funded", "sum"),
        share=("share", "sum"),
        share_new=("share_new", "sum"),
        share_funded=("share_funded", "sum"),
        n_active=("active", "sum"),
    ).reset_index()
    full = pd.MultiIndex.from_product(
        [sorted(lenders["year"].unique()) if years is None else sorted(years), list(LENDER_TYPES)],
        names=["year", "lender_type"],
    )
    return out.set_index(["year", "lender_type"]).reindex(full, fill_value=0).reset_index()


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


def run_simulation(cfg: SimConfig, out_dir: Path, progress: bool | None = None) -> dict[str, Any]:
    """Simulate ``cfg`` and write everything into ``out_dir``; return the result record."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result: dict[str, Any] = {
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
    write_json(result, out_dir / "result.json")
    for stale in TABLES:  # a previous run's tables must not pass for this run's
        (out_dir / stale).unlink(missing_ok=True)
    log.info(
        "Running scenario %s, seed %d, config %s, into %s",
        cfg.scenario_name,
        cfg.seed,
        result["config_hash"],
        out_dir,
    )
    try:
        with sigterm_interrupts():
            tables = simulate(cfg, progress=cfg.progress if progress is None else progress)
            for name, table in tables.items():
                write_csv(table, out_dir / f"{name}.csv")
            files = [f"{name}.csv" for name in tables]
            if cfg.plots:
                from sim.output.plots import plot_run

                files += [p.name for p in plot_run(tables["market_yearly"], out_dir)]
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | RunInterrupted):
            signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
            name = signal.Signals(signum).name
            result.update(status="interrupted", error=f"interrupted by {name}")
            log.warning("Run interrupted by %s; %s is incomplete", name, out_dir)
        else:
            result.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        result["wall_time_s"] = round(time.perf_counter() - started, 3)
        write_json(result, out_dir / "result.json")
        raise
    result.update(
        status="complete",
        wall_time_s=round(time.perf_counter() - started, 3),
        headline={k: _clean(v) for k, v in headline(tables["market_yearly"]).items()},
        files=files,
    )
    write_json(result, out_dir / "result.json")
    log.info("Wrote %s to %s (%.1f s)", ", ".join(files), out_dir, result["wall_time_s"])
    return result
