"""One job of a Hydra multirun: never raises for a bad point, skips work already done.

In a sweep, a job that raises would stop Hydra's basic launcher at the end of
the batch (it re-raises the first failure) and the end-of-sweep aggregation
would never run. So :func:`run_sweep_job` turns every ``Exception`` of one job
(a refused config included) into ``result.json`` with status ``failed`` and the
error, logs it and returns ``None``. ``KeyboardInterrupt`` and SIGTERM still
stop the sweep (``run_simulation`` marks the job ``interrupted`` first).

A job whose directory already holds a ``complete`` ``result.json`` with the
same config hash (and its tables) is not run again: rerunning a sweep into the
same ``hydra.sweep.dir`` completes only what is missing, failed or changed.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sim import __version__
from sim.output.atomic import write_json
from sim.run import config_hash, run_simulation
from sim.validation import ConfigError, load_config

log = logging.getLogger("sim")

REQUIRED_TABLES = ("market_yearly.csv", "lenders_yearly.csv")


def stored_result(out_dir: Path, expected_hash: str) -> dict[str, Any] | None:
    """The complete result record in ``out_dir`` for ``expected_hash`` (tables present), or None."""
    try:
        result = json.loads((Path(out_dir) / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or result.get("status") != "complete":
        return None
    if result.get("config_hash") != expected_hash:
        return None
    if not all((Path(out_dir) / name).is_file() for name in REQUIRED_TABLES):
        return None
    return result


def _hhi_last(result: dict[str, Any]) -> float | None:
    headline = result.get("headline") or {}
    value = headline.get("hhi_last")
    return None if value is None else float(value)


def _write_failure(out_dir: Path, cfg: DictConfig, error: str) -> None:
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


def run_sweep_job(cfg: DictConfig, out_dir: Path) -> float | None:
    """Run one sweep job into ``out_dir``; return its final HHI, or None if it failed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        error = "ConfigError: " + "; ".join(exc.problems)
        log.error("Job in %s refused: %s", out_dir, error)
        _write_failure(out_dir, cfg, error)
        return None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.error("Job in %s could not load its config: %s", out_dir, error)
        _write_failure(out_dir, cfg, error)
        return None
    wanted = config_hash(config)
    stored = stored_result(out_dir, wanted)
    if stored is not None:
        log.info("skipping %s: complete result with config %s already there", out_dir, wanted)
        return _hhi_last(stored)
    try:
        result = run_simulation(config, out_dir, progress=False)
    except Exception as exc:  # run_simulation has written result.json (failed) already
        log.error("Job in %s failed: %s: %s", out_dir, type(exc).__name__, exc)
        return None
    return _hhi_last(result)
