"""Model parameters named by dotted config key: their ranges, and reading or setting them.

A :class:`Parameter` is one input the scenario tools vary within bounds: the
calibration fits it (``scenarios.calibrate``), the sensitivity analysis
screens it (``scenarios.sensitivity``). Keys are dotted paths into the config
(``lenders.bank.markup``); :func:`get_value` and :func:`set_value` follow them
through config dataclasses and dicts, :func:`nest` turns them into the nested
mapping a config file holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parameter:
    """A dotted config key and the range it is varied in.

    Attributes:
        key: Dotted config key, e.g. ``regulation.rate_cap_apr``.
        low: Lower bound.
        high: Upper bound.
        why: Why it is varied and what it moves (empty when it goes without saying).
    """

    key: str
    low: float
    high: float
    why: str = ""


def get_value(cfg: Any, key: str) -> Any:
    """Value of a dotted key in a config dataclass (dict levels by key)."""
    node = cfg
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def set_value(cfg: Any, key: str, value: Any) -> None:
    """Set a dotted key in a config dataclass in place."""
    *path, last = key.split(".")
    node = get_value(cfg, ".".join(path)) if path else cfg
    if isinstance(node, dict):
        node[last] = value
    else:
        setattr(node, last, value)


def nest(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``(dotted key, value)`` pairs as nested dicts: ``[("a.b", 1)]`` gives ``{"a": {"b": 1}}``.

    Keys are kept in order of first appearance; a later key replaces a value
    (or a whole branch) an earlier one set at the same place.
    """
    out: dict[str, Any] = {}
    for key, value in items:
        *parts, last = key.split(".")
        node = out
        for part in parts:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = value
    return out
