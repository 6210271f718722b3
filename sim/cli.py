"""The command line, ``lendsim`` (or ``python -m sim``): a Hydra app, single runs and sweeps.

``lendsim [scenario=NAME] [seed=N] [key=value ...]`` validates the composed
config and runs it into its run directory; ``lendsim -m ...`` (or
``sweep=NAME``) runs a multirun, each job through :func:`run_sweep_job`.

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

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.checks import group_override_problems
from sim.config import CONF_DIR
from sim.output.result import config_hash, hhi_last, stored_result, write_failure
from sim.run import run_simulation
from sim.validation import ConfigError, load_config

log = logging.getLogger("sim")


def _report(exc: ConfigError) -> str:
    """Print a refused config's problems, one line each; return them as one line."""
    for line in exc.problems:
        print(f"config error: {line}", file=sys.stderr)
    return "ConfigError: " + "; ".join(exc.problems)


def run_sweep_job(cfg: DictConfig, out_dir: Path) -> float | None:
    """Run one sweep job into ``out_dir``; return its final HHI, or None if it failed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        error = _report(exc)
        log.error("Job in %s refused: %s", out_dir, error)
        write_failure(out_dir, cfg, error)
        return None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.error("Job in %s could not load its config: %s", out_dir, error)
        write_failure(out_dir, cfg, error)
        return None
    wanted = config_hash(config)
    stored = stored_result(out_dir, wanted)
    if stored is not None:
        log.info("skipping %s: complete result with config %s already there", out_dir, wanted)
        return hhi_last(stored)
    try:
        result = run_simulation(config, out_dir, progress=False)
    except Exception as exc:  # run_simulation has written result.json (failed) already
        log.error("Job in %s failed: %s: %s", out_dir, type(exc).__name__, exc)
        return None
    return hhi_last(result)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    """Validate the composed config, run it, write the run directory; return the final HHI."""
    hydra_cfg = HydraConfig.get()
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    if hydra_cfg.mode == RunMode.MULTIRUN:  # a sweep job: never raises, skips finished work
        return run_sweep_job(cfg, Path(hydra_cfg.runtime.output_dir))
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        _report(exc)
        if hydra_cfg.mode == RunMode.RUN:
            sys.exit(2)
        raise
    result = run_simulation(config, Path(hydra_cfg.runtime.output_dir))
    return result["headline"]["hhi_last"]


def main() -> None:
    """Entry point: refuse a config group given a number or flag, then hand over to Hydra."""
    problems = group_override_problems(sys.argv[1:], CONF_DIR)
    if problems:  # Hydra would print a traceback that does not name the group
        for line in problems:
            print(f"config error: {line}", file=sys.stderr)
        sys.exit(2)
    hydra_main()
