"""Run one simulation: in memory (:func:`simulate`) or into a run directory.

``run_simulation`` first clears what an earlier run left in the directory (its
tables, figures and ``result.json``) and refuses a directory or a link standing
where a file will be written; it writes ``result.json`` (status ``running``),
simulates, writes the tables and plots into a staging directory, moves them
into place once all are written and only then rewrites ``result.json`` as
``complete`` with each file's SHA-256. A run stopped by a signal or an error
takes back any file it had moved and is recorded as ``interrupted`` or
``failed`` with the cause (see :mod:`sim.output.result`). The tables are
written as CSV and Parquet, the figures as PNG and SVG, and the complete record
lists the dated lever changes applied; each is logged as the run reaches its
month (``2027-01: rate_cap_apr 0.24 -> 0.1``).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.budget import estimate
from sim.calendar import parse_month
from sim.config import SimConfig
from sim.in_force import LeverChange, dated_changes, regulation_monthly
from sim.model import MarketModel
from sim.output.atomic import figure_files, write_json
from sim.output.files import (
    FIGURES,
    OutputPathError,
    checksums,
    clear_outputs,
    paths_in_the_way,
    publish,
    staging,
    withdraw,
)
from sim.output.progress import ProgressFn, terminal_progress
from sim.output.result import (
    complete,
    read_result,
    sigterm_interrupts,
    started_record,
    stopped,
)
from sim.output.tables import TABLES, build_tables, write_tables

log = logging.getLogger(__name__)
RESULT = "result.json"


def lever_changes(cfg: SimConfig) -> list[LeverChange]:
    """The dated lever changes of ``cfg`` that fall within its run, in the order they apply."""
    return dated_changes(cfg.regulation, parse_month(cfg.market.start), parse_month(cfg.market.end))


def _monthly_callback(
    cfg: SimConfig, progress: bool, on_month: ProgressFn | None = None
) -> ProgressFn:
    """Called after each month: logs the month's dated changes, draws the bar, calls ``on_month``.

    ``on_month(done, total, month)`` may raise to stop the run between two months.
    """
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
        if on_month is not None:
            on_month(done, total, month)

    return after_month


def simulate(
    cfg: SimConfig, progress: bool = False, on_month: ProgressFn | None = None
) -> dict[str, pd.DataFrame]:
    """Run the model; return its tables, the levers in force by month among them (no files).

    ``on_month(done, total, month)`` is called after every simulated month.
    """
    model = MarketModel(cfg)
    recorder = model.run(_monthly_callback(cfg, progress, on_month))
    tables = build_tables(recorder, model.book.type_code.copy())
    tables["regulation_monthly"] = regulation_monthly(cfg.regulation, model.months)
    return tables


def clear_run_dir(out_dir: Path) -> None:
    """Remove what an earlier run left in ``out_dir``: result.json, tables, figures, leftovers."""
    previous = read_result(out_dir) or {}
    listed = previous.get("files")
    earlier = [str(n) for n in listed if "/" not in str(n)] if isinstance(listed, list) else []
    clear_outputs(out_dir, [RESULT, *TABLES, *FIGURES, *earlier])


def _prepare(out_dir: Path) -> None:
    """Create ``out_dir``, remove an earlier run's outputs, refuse paths in the way."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not out_dir.is_dir():
        raise OutputPathError(f"{out_dir}: not a directory")
    clear_run_dir(out_dir)
    problems = paths_in_the_way(out_dir, [RESULT, *TABLES, *FIGURES])
    if problems:
        raise OutputPathError(problems[0])


def _write_outputs(
    cfg: SimConfig, tables: dict[str, pd.DataFrame], staged: Path, config_hash: str
) -> list[str]:
    """Write the tables (and plots, with their caption) into ``staged``; return the file names."""
    names = [path.name for path in write_tables(tables, staged)]
    if cfg.plots:
        from sim.output.plots import plot_run, run_caption
        from sim.output.report import report_trajectory

        caption = run_caption(cfg.scenario_name, cfg.seed, config_hash)
        pngs = plot_run(
            tables["market_yearly"], staged, targets=report_trajectory(), caption=caption
        )
        names += [path.name for png in pngs for path in figure_files(png)]
    return names


def run_simulation(
    cfg: SimConfig,
    out_dir: Path,
    progress: bool | None = None,
    on_month: ProgressFn | None = None,
) -> dict[str, Any]:
    """Simulate ``cfg`` and write everything into ``out_dir``; return the result record.

    ``on_month(done, total, month)`` is called after every simulated month; if it
    raises, the run stops there and is recorded as failed (or interrupted).
    """
    out_dir = Path(out_dir)
    started = time.perf_counter()
    result = started_record(cfg)
    moved: list[str] = []
    done = False
    with sigterm_interrupts() as received:
        try:
            _prepare(out_dir)
            write_json(result, out_dir / RESULT)
            log.info(
                "Running scenario %s, seed %d, config %s (%s), into %s",
                cfg.scenario_name,
                cfg.seed,
                result["config_hash"],
                estimate(cfg).describe(),
                out_dir,
            )
            shown = cfg.progress if progress is None else progress
            tables = simulate(cfg, progress=shown, on_month=on_month)
            with staging(out_dir) as staged:
                names = _write_outputs(cfg, tables, staged, result["config_hash"])
                sums = checksums(staged, names)
                in_the_way = paths_in_the_way(out_dir, names)
                if in_the_way:
                    raise OutputPathError(in_the_way[0])
                publish(staged, out_dir, names, moved)
            if received:  # a signal some library turned into a return
                raise KeyboardInterrupt
            complete(result, tables["market_yearly"], sums, time.perf_counter() - started)
            result["lever_changes"] = [change.as_record() for change in lever_changes(cfg)]
            write_json(result, out_dir / RESULT)
            done = True
        except BaseException as exc:
            if done:  # the record says complete and every file matches it
                raise
            withdraw(out_dir, moved)
            signal_name = stopped(result, exc, time.perf_counter() - started, received)
            if signal_name:
                log.warning("Run interrupted by %s; %s is incomplete", signal_name, out_dir)
            try:
                write_json(result, out_dir / RESULT)
            except OSError as write_error:
                log.error(
                    "could not record the %s run in %s: %s", result["status"], out_dir, write_error
                )
            raise
    log.info("Wrote %s to %s (%.1f s)", ", ".join(result["files"]), out_dir, result["wall_time_s"])
    return result
