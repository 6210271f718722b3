"""Run one simulation: in memory (:func:`simulate`) or into a run directory.

``run_simulation`` writes ``result.json`` first (status ``running``), removes
tables a previous run left in the directory, writes the tables (CSV and
Parquet) and plots atomically, then rewrites ``result.json`` as ``complete``
with the dated lever changes applied; a run stopped by a signal or an error is
recorded as ``interrupted`` or ``failed`` (see :mod:`sim.output.result`).
Each dated change is logged as the run reaches its month
(``2027-01: rate_cap_apr 0.24 -> 0.1``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calendar import parse_month
from sim.config import SimConfig
from sim.in_force import LeverChange, dated_changes, regulation_monthly
from sim.model import MarketModel
from sim.output.atomic import figure_files, write_json
from sim.output.progress import terminal_progress
from sim.output.result import complete, sigterm_interrupts, started_record, stopped
from sim.output.tables import TABLES, build_tables, write_tables

log = logging.getLogger(__name__)


def lever_changes(cfg: SimConfig) -> list[LeverChange]:
    """The dated lever changes of ``cfg`` that fall within its run, in the order they apply."""
    return dated_changes(cfg.regulation, parse_month(cfg.market.start), parse_month(cfg.market.end))


def _monthly_callback(cfg: SimConfig, progress: bool) -> Callable[[int, int, int], None]:
    """Called after each month: logs the dated changes of that month, draws the progress bar."""
    bar = terminal_progress(progress)
    by_month: dict[int, list[LeverChange]] = {}
    for change in lever_changes(cfg):
        by_month.setdefault(parse_month(change.month), []).append(change)

    def after_month(done: int, total: int, month: int) -> None:
        if month in by_month and bar is not None:
            sys.stderr.write("\n")  # keep the log line off the bar's line
        for change in by_month.get(month, ()):
            log.info("%s", change.describe())
        if bar is not None:
            bar(done, total, month)

    return after_month


def simulate(cfg: SimConfig, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Run the model; return its tables, the levers in force by month among them (no files)."""
    model = MarketModel(cfg)
    recorder = model.run(_monthly_callback(cfg, progress))
    tables = build_tables(recorder, model.book.type_code.copy())
    tables["regulation_monthly"] = regulation_monthly(cfg.regulation, model.months)
    return tables


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
                from sim.output.plots import plot_run, run_caption
                from sim.output.report import report_trajectory

                caption = run_caption(cfg.scenario_name, cfg.seed, result["config_hash"])
                pngs = plot_run(
                    tables["market_yearly"], out_dir, targets=report_trajectory(), caption=caption
                )
                files += [path.name for png in pngs for path in figure_files(png)]
    except BaseException as exc:
        signal_name = stopped(result, exc, time.perf_counter() - started)
        if signal_name:
            log.warning("Run interrupted by %s; %s is incomplete", signal_name, out_dir)
        write_json(result, out_dir / "result.json")
        raise
    complete(result, tables["market_yearly"], files, time.perf_counter() - started)
    result["lever_changes"] = [change.as_record() for change in lever_changes(cfg)]
    write_json(result, out_dir / "result.json")
    log.info("Wrote %s to %s (%.1f s)", ", ".join(files), out_dir, result["wall_time_s"])
    return result
