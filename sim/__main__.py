"""Command line: ``python -m sim [scenario=NAME] [seed=N] [key=value ...]`` (Hydra)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim.run import run_simulation
from sim.validation import ConfigError, group_override_problems, load_config

log = logging.getLogger("sim")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Validate the composed config, run it, write the run directory; return the final HHI."""
    hydra_cfg = HydraConfig.get()
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    if hydra_cfg.mode == RunMode.MULTIRUN:  # a sweep job: never raises, skips finished work
        from sim.sweep_job import run_sweep_job

        return run_sweep_job(cfg, Path(hydra_cfg.runtime.output_dir))
    try:
        config = load_config(cfg)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        if hydra_cfg.mode == RunMode.RUN:
            sys.exit(2)
        raise
    result = run_simulation(config, Path(hydra_cfg.runtime.output_dir))
    return result["headline"]["hhi_last"]


if __name__ == "__main__":
    _group_problems = group_override_problems(sys.argv[1:], Path(__file__).parents[1] / "conf")
    if _group_problems:  # Hydra would print a traceback that does not name the group
        for line in _group_problems:
            print(f"config error: {line}", file=sys.stderr)
        sys.exit(2)
    main()
