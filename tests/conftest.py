"""Shared helpers: compose configs the way the command line does, at small scale."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from sim.config import SimConfig
from sim.run import simulate
from sim.validation import load_config

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
SMALL = ("market.n_borrowers=6000", "plots=false", "progress=false")


def compose_config(*overrides: str, small: bool = True) -> SimConfig:
    """The validated config that ``python -m sim OVERRIDES`` would run."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[*(SMALL if small else ()), *overrides])
    return load_config(cfg)


_CACHE: dict[tuple[str, ...], dict] = {}


def run_tables(*overrides: str) -> dict:
    """Tables of a small run (cached per override set: runs are deterministic)."""
    key = tuple(overrides)
    if key not in _CACHE:
        _CACHE[key] = simulate(compose_config(*overrides))
    return _CACHE[key]


@pytest.fixture
def small_config() -> SimConfig:
    """The default scenario at test scale."""
    return compose_config()
