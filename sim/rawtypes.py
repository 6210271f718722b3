"""Strict types: each value as written, before OmegaConf converts it, checked against the schema.

OmegaConf takes ``2`` (any integer) as true for a boolean field and the text
``"200000"`` as a number for a float one. This module looks at the values as
the user wrote them (on the command line, in a scenario file, in a dated
change) and refuses those: a boolean is ``true`` or ``false`` (or one of the
spellings OmegaConf documents: yes/no, on/off, y/n, any case), an integer is
an integer (not ``2000.0``), a number is a number (not quoted text).

:func:`raw_config` composes the config exactly as Hydra does but with the
schema left out, so every value keeps the type its source gave it.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from sim.config import SimConfig, register_configs

BOOL_SPELLINGS = ("true", "false", "yes", "no", "on", "off", "y", "n")
_BOOL_ALLOWED = "true or false (or yes/no, on/off)"


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None``, else ``(tp, False)``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _scalar_problem(key: str, value: Any, tp: Any) -> list[str]:
    if tp is bool:
        if isinstance(value, bool):
            return []
        if isinstance(value, str) and value.lower() in BOOL_SPELLINGS:
            return []
        return [f"{key} = {value!r}: must be {_BOOL_ALLOWED}"]
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return []
        return [f"{key} = {value!r}: must be an integer (no decimal point, no quotes)"]
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return []
        return [f"{key} = {value!r}: must be a number (without quotes)"]
    return []


def value_problems(key: str, value: Any, tp: Any) -> list[str]:
    """Problems with a raw ``value`` at ``key`` whose schema type is ``tp``."""
    if isinstance(value, str) and (value == "???" or value.startswith("${")):
        return []  # missing (reported by the validator) or an interpolation
    tp, _ = _strip_optional(tp)
    if value is None:
        return []  # null: OmegaConf refuses it for a field that is not optional
    if tp is Any:
        return []
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            return []  # a structure error OmegaConf reports with the key
        hints = _hints(tp)
        out: list[str] = []
        for name, sub in value.items():
            if name in hints:
                out += value_problems(f"{key}.{name}" if key else str(name), sub, hints[name])
        return out
    origin = typing.get_origin(tp)
    if origin is dict and isinstance(value, Mapping):
        _, item = typing.get_args(tp)
        return [p for k, v in value.items() for p in value_problems(f"{key}.{k}", v, item)]
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(tp)
        return [p for i, v in enumerate(value) for p in value_problems(f"{key}[{i}]", v, item)]
    return _scalar_problem(key, value, tp)


def type_at(key: str) -> Any:
    """The schema type at a dotted key (``market.segments.sme.business``), or None if unknown."""
    tp: Any = SimConfig
    for part in key.split("."):
        tp, _ = _strip_optional(tp)
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            if part not in hints:
                return None
            tp = hints[part]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return tp


def override_problems(key: str, values: Iterable[Any]) -> list[str]:
    """Problems with the values one override (or each choice of a sweep) gives ``key``."""
    tp = type_at(key)
    if tp is None:
        return []
    return [p for value in values for p in value_problems(key, value, tp)]


def raw_config(overrides: Iterable[str], conf_dir: str) -> dict[str, Any]:
    """The task config ``overrides`` compose to, with every value as its source wrote it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    ConfigStore.instance().store(name="schema", node={})
    try:
        with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
            cfg = compose("config", list(overrides))
        return OmegaConf.to_container(cfg, resolve=False)
    finally:
        register_configs()


def raw_problems(raw: Mapping[str, Any]) -> list[str]:
    """Problems with every value of a raw composed config (see :func:`raw_config`)."""
    return value_problems("", raw, SimConfig)
