"""Run one simulation: in memory (:func:`simulate`) or into a run directory.

``run_simulation`` writes ``result.json`` first (status ``running``), removes
tables a previous run left in the directory, writes the tables and plots
atomically, then rewrites ``result.json`` as ``complete``; a run stopped by a
signal or an error is recorded as ``interrupted`` or ``failed`` (see
:mod:`sim.output.result`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import SimConfig
from sim.model import MarketModel
from sim.output.atomic import write_json
from sim.output.progress import terminal_progress
from sim.output.result import complete, sigterm_interrupts, started_record, stopped
from sim.output.tables import TABLES, build_tables, write_tables

log = logging.getLogger(__name__)


def simulate(cfg: SimConfig, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Run the model; return its tables (no files written)."""
    model = MarketModel(cfg)
    recorder = model.run(terminal_progress(progress))
    return build_tables(recorder, model.book.type_code.copy())


def run_simulation(cfg: SimConfig, out_dir: Path, progress: bool | None = None) -> dict[str, Any]:
    """Simulate ``cfg`` and write everything into ``out_dir``; return the result record."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = started_record(cfg)
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
            files = [path.name for path in write_tables(tables, out_dir)]
            if cfg.plots:
                from sim.output.plots import plot_run

                files += [p.name for p in plot_run(tables["market_yearly"], out_dir)]
    except BaseException as exc:
        signal_name = stopped(result, exc, time.perf_counter() - started)
        if signal_name:
            log.warning("Run interrupted by %s; %s is incomplete", signal_name, out_dir)
        write_json(result, out_dir / "result.json")
        raise
    complete(result, tables["market_yearly"], files, time.perf_counter() - started)
    write_json(result, out_dir / "result.json")
    log.info("Wrote %s to %s (%.1f s)", ", ".join(files), out_dir, result["wall_time_s"])
    return result
