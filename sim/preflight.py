"""Checks of a command line before Hydra starts: nothing is created for a refused run.

:func:`preflight` takes the arguments of ``lendsim`` and returns one line per
problem: config groups given anything but a name of theirs, values of the
wrong kind (:mod:`sim.rawtypes`), every rule of :mod:`sim.validation` for a
single run (ranges, plausibility, bounded work), and an output directory that
cannot be written. A sweep's jobs are validated one by one as they run; here
its swept values are checked for their type only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from omegaconf import open_dict

from sim.checks import group_override_problems
from sim.config import CONF_DIR
from sim.rawtypes import override_problems, raw_config, raw_problems
from sim.validation import ConfigError, compose_dictconfig, load_config

MULTIRUN_FLAGS = ("-m", "--multirun")


def output_dir_problems(directory: str | os.PathLike[str]) -> list[str]:
    """Why ``directory`` cannot hold a run's files (not a directory, not writable), if so."""
    path = Path(directory)
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link
            return [f"{existing}: a broken symbolic link stands in the output path"]
        existing = existing.parent
    if not existing.is_dir():
        what = "the output directory" if existing == path else f"a parent of {path}"
        return [f"{existing}: not a directory, so it cannot be {what}"]
    if not os.access(existing, os.W_OK | os.X_OK):
        action = "write into it" if existing == path else f"create {path} in it"
        return [f"{existing}: permission denied or read-only file system; cannot {action}"]
    return []


def _parsed(args: Sequence[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(list(args))


def preflight(args: Sequence[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """Problems with a ``lendsim`` command line, one line each; empty when it may start.

    Lines about the configuration start ``config error:``; lines about the
    output directory ``error:``.
    """
    return [f"config error: {line}" for line in _config_problems(args, conf_dir)] or [
        f"error: {line}" for line in _directory_problems(args)
    ]


def _config_problems(args: Sequence[str], conf_dir: Path) -> list[str]:
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    problems = group_override_problems(overrides, conf_dir)
    if problems or any(f not in MULTIRUN_FLAGS for f in flags):
        return problems  # --help, --cfg, ...: Hydra's own options, left to Hydra
    try:
        parsed = _parsed(overrides)
    except Exception:
        return []  # a malformed override: Hydra's message names it
    plain = []
    for text, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            try:
                values = list(override.sweep_iterator())
            except Exception:
                values = []
            problems += override_problems(override.key_or_group, values)
        else:
            plain.append(text)
    with contextlib.suppress(Exception):  # the typed composition (or Hydra) reports it
        problems += raw_problems(raw_config(plain, str(conf_dir)))
    if problems:
        return sorted(set(problems), key=problems.index)
    try:
        cfg = compose_dictconfig(*plain, with_hydra=True)
    except Exception:
        return []  # Hydra reports composition errors itself, naming the key
    multirun = (
        bool(set(flags) & set(MULTIRUN_FLAGS))
        or len(plain) < len(overrides)
        or str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    )
    if not multirun:
        with open_dict(cfg):
            del cfg["hydra"]
        try:
            load_config(cfg, warn=False)
        except ConfigError as exc:
            return list(exc.problems)
    return []


def _directory_problems(args: Sequence[str]) -> list[str]:
    """The run (or sweep) directory the command line would write, checked."""
    flags = [a for a in args if a.startswith("-")]
    if any(f not in MULTIRUN_FLAGS for f in flags):
        return []
    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = _parsed(overrides)
        plain = [t for t, o in zip(overrides, parsed, strict=True) if not o.is_sweep_override()]
        cfg = compose_dictconfig(*plain, with_hydra=True)
    except Exception:
        return []
    multirun = (
        bool(set(flags) & set(MULTIRUN_FLAGS))
        or len(plain) < len(overrides)
        or str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    )
    return output_dir_problems(str(cfg.hydra.sweep.dir if multirun else cfg.hydra.run.dir))
