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

A job whose directory already holds a ``complete`` ``result.json`` for the
same config and the same code, every file with its recorded checksum, is not
run again: rerunning a sweep into the same ``hydra.sweep.dir`` completes only
what is missing, failed, damaged or changed.

Before Hydra starts, :func:`sim.preflight.preflight` checks the command line
(group names, strict types, every rule of a single run, the output directory),
so a refused run creates nothing. A file-system fault during a run (a full
disk, a directory in the way) ends with one line naming the path and the
cause, exit code 1.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.config import CONF_DIR
from sim.output.result import config_hash, hhi_last, read_result, reuse_problem, write_failure
from sim.preflight import preflight
from sim.rawtypes import override_problems
from sim.run import RESULT, clear_run_dir, run_simulation
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
        strict = _job_type_problems()
        if strict:
            raise ConfigError(strict)
        config = load_config(cfg)
    except ConfigError as exc:
        error = _report(exc)
        log.error("Job in %s refused: %s", out_dir, error)
        clear_run_dir(out_dir)  # an earlier config's tables must not stand beside this record
        write_failure(out_dir, cfg, error)
        return None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.error("Job in %s could not load its config: %s", out_dir, error)
        clear_run_dir(out_dir)
        write_failure(out_dir, cfg, error)
        return None
    wanted = config_hash(config)
    why = reuse_problem(out_dir, wanted)
    if why is None:
        log.info("skipping %s: complete result with config %s already there", out_dir, wanted)
        return hhi_last(read_result(out_dir) or {})
    if (out_dir / RESULT).exists():
        log.info("rerunning %s: %s", out_dir, why)
    try:
        result = run_simulation(config, out_dir, progress=False)
    except Exception as exc:  # run_simulation has written result.json (failed) already
        log.error("Job in %s failed: %s: %s", out_dir, type(exc).__name__, exc)
        return None
    return hhi_last(result)


def _job_type_problems() -> list[str]:
    """Strict-type problems of this job's own overrides (a sweep's values are raw text)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        task = list(HydraConfig.get().overrides.task)
        parsed = OverridesParser.create().parse_overrides(task)
    except Exception:
        return []
    return [p for o in parsed for p in override_problems(o.key_or_group, [o.value()])]


def _run_single(config, out_dir: Path) -> dict:
    """Run into ``out_dir``; a file-system fault ends the process with one line (exit 1)."""
    try:
        return run_simulation(config, out_dir)
    except OSError as exc:
        print(f"error: {_os_error_line(exc, out_dir)}", file=sys.stderr)
        raise SystemExit(1) from None


def _os_error_line(exc: OSError, out_dir: Path) -> str:
    """``PATH: cause`` of a file-system fault (the path it names, else the run directory)."""
    path = exc.filename or out_dir
    cause = exc.strerror or str(exc)
    if exc.filename is None and exc.strerror is None:
        return str(exc)
    return f"{path}: {cause.lower() if cause[:1].isupper() else cause}"


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> float | None:
    """Validate the composed config, run it, write the run directory; return the final HHI."""
    hydra_cfg = HydraConfig.get()
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    if hydra_cfg.mode == RunMode.MULTIRUN:  # a sweep job: never raises, skips finished work
        return run_sweep_job(cfg, Path(hydra_cfg.runtime.output_dir))
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        _report(exc)
        # the directory may hold an earlier run's results beside this run's config
        clear_run_dir(out_dir)
        if hydra_cfg.mode == RunMode.RUN:
            sys.exit(2)
        raise
    logging.raiseExceptions = False  # a log line that cannot be written is not a traceback
    result = _run_single(config, out_dir)
    return result["headline"]["hhi_last"]


def main() -> None:
    """Entry point: check the command line (:mod:`sim.preflight`), then hand over to Hydra."""
    problems = preflight(sys.argv[1:], CONF_DIR)
    if problems:  # refused before Hydra creates the run directory
        for line in problems:
            print(line, file=sys.stderr)
        sys.exit(2 if problems[0].startswith("config error") else 1)
    try:
        hydra_main()
    except KeyboardInterrupt:  # result.json already says 'interrupted'
        print("interrupted by SIGINT", file=sys.stderr)
        sys.exit(130)
