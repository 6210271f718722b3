"""Shared helpers: compose configs the way the command line does, at small scale."""

from __future__ import annotations

import pytest

from sim.config import CONF_DIR as CONF_PATH
from sim.config import SimConfig
from sim.run import simulate
from sim.validation import compose

CONF_DIR = str(CONF_PATH)
SMALL = ("market.n_borrowers=6000", "plots=false", "progress=false")


def compose_config(*overrides: str, small: bool = True) -> SimConfig:
    """The validated config that ``python -m sim OVERRIDES`` would run."""
    return compose(*(SMALL if small else ()), *overrides)


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
