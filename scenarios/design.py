"""Experimental designs over config keys, written as Hydra options and run as one multirun.

A design is a matrix, one row per run setting and one column per varied key
(a :class:`~scenarios.parameters.Parameter`: a dotted config key and its
range). Rows are sampled with SALib: a Latin hypercube (:func:`latin`), a
Saltelli extension of the Sobol sequence (:func:`saltelli`) or Morris
trajectories (``scenarios.sensitivity``). Each row becomes an option of a
generated config group ``design`` (``conf/design/row_NNNN.yaml`` in the
output directory, :func:`write_design`), and :func:`run_design` runs every row
on the same seeds as one multirun ``python -m sim +design=row_0000,...
seed=SEEDS`` through any launcher. Hydra's sweep directory is reused, so a
rerun into the same directory only runs the jobs not complete.

Keys whose last parts are digits (``market.default_cycle.2030``) address a
yearly path by year. :func:`check_parameters` refuses, before any work, a key
the config does not have and a range the validation rules do not accept.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from scenarios.parameters import Parameter, nest
from sim.output.atomic import atomic_write_text

log = logging.getLogger(__name__)

LAUNCHERS = {
    "basic": None,
    "joblib": "joblib",
    "ray": "ray",
    "submitit_local": "submitit_local",
    "submitit_slurm": "submitit_slurm",
}
"""Launchers by name and the ``hydra/launcher`` option each selects (basic: none)."""


def parse_parameter(text: str, option: str = "--param") -> Parameter:
    """``KEY:LOW:HIGH`` as a :class:`Parameter` (argparse type; LOW < HIGH).

    Raises:
        argparse.ArgumentTypeError: Not three parts, not numbers, or LOW >= HIGH
            (the message names ``option`` and the text).
    """
    try:
        key, low, high = text.rsplit(":", 2)
        parameter = Parameter(key, float(low), float(high))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{option} {text!r}: expected KEY:LOW:HIGH, e.g. regulation.rate_cap_apr:0.1:0.36"
        ) from exc
    if not key:
        raise argparse.ArgumentTypeError(f"{option} {text!r}: the key is empty")
    if not parameter.low < parameter.high:
        raise argparse.ArgumentTypeError(f"{option} {text!r}: LOW must be below HIGH")
    return parameter


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """A command line's own arguments and the Hydra overrides after ``--``."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` as distinct integers (argparse type).

    Raises:
        argparse.ArgumentTypeError: Not integers, or a seed repeated (naming ``--seeds``).
    """
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: expected integers, e.g. 0,1") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: a seed is repeated")
    return seeds


def _part(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _lookup(cfg: Any, key: str) -> Any:
    """Value of a dotted key in a config (digit parts index by year); KeyError if absent."""
    node = cfg
    for part in key.split("."):
        if isinstance(node, dict):
            node = node[_part(part)]
        elif hasattr(node, "__dataclass_fields__") and part in node.__dataclass_fields__:
            node = getattr(node, part)
        else:
            raise KeyError(key)
    return node


def check_parameters(parameters: Sequence[Parameter], overrides: Sequence[str] = ()) -> None:
    """Refuse unknown keys, non-numeric keys and ranges the config rules reject, before any run.

    The defaults with ``overrides`` (Hydra's own settings left out) are composed
    once, every key looked up in them, then the lows and the highs are each
    composed together so the validation rules check them.

    Raises:
        ValueError: Naming the key, or the rule a bound breaks.
    """
    from sim.validation import compose

    keys = [p.key for p in parameters]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"varied twice: {', '.join(repeated)}")
    model = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    cfg = compose(*model)
    for p in parameters:
        try:
            value = _lookup(cfg, p.key)
        except (KeyError, TypeError):
            raise ValueError(f"unknown config key {p.key!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{p.key!r} is not a number (it is {value!r}); only numbers vary")
    plain = [p for p in parameters if not any(part.isdigit() for part in p.key.split("."))]
    for side in ("low", "high"):
        try:
            compose(*model, *(f"{p.key}={getattr(p, side)!r}" for p in plain))
        except Exception as exc:  # a ConfigError or Hydra's own composition error
            raise ValueError(f"the {side} end of the ranges is refused: {exc}") from None


def problem(parameters: Sequence[Parameter]) -> dict:
    """SALib's problem description for ``parameters``."""
    return {
        "num_vars": len(parameters),
        "names": [p.key for p in parameters],
        "bounds": [[p.low, p.high] for p in parameters],
    }


def latin(parameters: Sequence[Parameter], n: int, seed: int) -> np.ndarray:
    """A Latin hypercube of ``n`` rows (SALib): each range cut in ``n`` strata, one row in each."""
    from SALib.sample import latin as latin_sample

    return latin_sample.sample(problem(parameters), n, seed=seed)


def saltelli(parameters: Sequence[Parameter], n: int, seed: int) -> np.ndarray:
    """Saltelli's design on a scrambled Sobol sequence (SALib): ``n * (D + 2)`` rows.

    First-order and total indices only (no second-order rows); ``n`` should
    be a power of two.
    """
    from SALib.sample import sobol as sobol_sample

    return sobol_sample.sample(problem(parameters), n, calc_second_order=False, seed=seed)


def row_name(i: int) -> str:
    """Config option name of design row ``i``."""
    return f"row_{i:04d}"


def row_config(parameters: Sequence[Parameter], row: Sequence[float]) -> dict[str, Any]:
    """The nested config one design row sets (digit key parts become integer keys)."""
    content = nest((p.key, float(value)) for p, value in zip(parameters, row, strict=True))

    def ints(node: Any) -> Any:
        if isinstance(node, dict):
            return {_part(str(k)): ints(v) for k, v in node.items()}
        return node

    return ints(content)


def write_design(
    parameters: Sequence[Parameter], x: np.ndarray, conf_dir: Path, title: str = "Design"
) -> list[str]:
    """One ``# @package _global_`` option per design row in ``conf_dir/design``; return names."""
    group = Path(conf_dir) / "design"
    group.mkdir(parents=True, exist_ok=True)
    names = []
    for i, row in enumerate(np.asarray(x, dtype=float)):
        text = f"# @package _global_\n# {title} row {i}\n" + yaml.safe_dump(
            row_config(parameters, row)
        )
        atomic_write_text(group / f"{row_name(i)}.yaml", text)
        names.append(row_name(i))
    return names


def design_table(parameters: Sequence[Parameter], x: np.ndarray, names: Sequence[str]):
    """The design as a table: ``design`` (row name) and one column per key."""
    table = pd.DataFrame(np.asarray(x, dtype=float), columns=[p.key for p in parameters])
    table.insert(0, "design", list(names))
    return table


def run_design(
    names: Sequence[str],
    conf_dir: Path,
    runs_dir: Path,
    seeds: Sequence[int],
    launcher: str,
    overrides: Sequence[str],
) -> None:
    """Run the design rows as one Hydra multirun of ``python -m sim`` (raises if it fails)."""
    command = [
        sys.executable,
        "-m",
        "sim",
        "hydra.mode=MULTIRUN",
        f"hydra.searchpath=[file://{Path(conf_dir).resolve()}]",
        f"hydra.sweep.dir={Path(runs_dir).resolve()}",
        "hydra.callbacks.sweep_aggregate.compare=false",
        "plots=false",
        f"+design={','.join(names)}",
        f"seed={','.join(str(s) for s in seeds)}",
    ]
    if LAUNCHERS[launcher]:
        command.append(f"hydra/launcher={LAUNCHERS[launcher]}")
    command += list(overrides)
    log.info("Running %d design rows x %d seeds: %s", len(names), len(seeds), " ".join(command))
    subprocess.run(command, check=True)
