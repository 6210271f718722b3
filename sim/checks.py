"""Generic checks of configuration values, each returning problem lines (empty when fine).

Every line names the full key, the value and what is allowed, so a refused
config says at once what to change. The rules for this model's keys are in
:mod:`sim.validation`; these are the building blocks, plus the checks for keys
the schema does not know and for config groups given a plain value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from sim.calendar import parse_month

SHARE_TOLERANCE = 1e-6


def is_number(value: Any) -> bool:
    """A real number (int or float), not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: float) -> str:
    """A bound as written: an integer in full, a float in its shortest form."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{_bound(lo)}, {_bound(hi)}{')' if hi_open else ']'}"


def check_range(
    key: str,
    value: Any,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> list[str]:
    """Problems (zero or one line) with a number that must lie in an interval."""
    allowed = ("an integer in " if integer else "a number in ") + _interval(
        lo, hi, lo_open, hi_open
    )
    if not is_number(value) or (integer and not isinstance(value, int)):
        return [f"{key} = {value!r}: must be {allowed}"]
    if math.isnan(value):
        return [f"{key} = {value!r}: must be {allowed}"]
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if below or above:
        return [f"{key} = {value!r}: out of range; allowed {allowed}{_percent_hint(value, lo, hi)}"]
    return []


def _percent_hint(value: float, lo: float, hi: float) -> str:
    """``; 8 looks like a percent: write 0.08`` for a fraction given in percent, else empty."""
    if 0 < hi <= 10 and 1 < value <= 100 and hi < value and lo <= value / 100 <= min(hi, 1):
        return f"; {value:g} looks like a percent: write {value / 100:g}"
    return ""


def check_flag(key: str, value: Any) -> list[str]:
    """Problems (zero or one line) with a value that must be true or false."""
    return [] if isinstance(value, bool) else [f"{key} = {value!r}: must be true or false"]


def check_keys(key: str, mapping: Mapping[str, Any], expected: Iterable[str]) -> list[str]:
    """The mapping at ``key`` has exactly the ``expected`` keys."""
    expected = tuple(expected)
    problems = [
        f"{key}.{name}: unknown key; allowed keys are {', '.join(expected)}"
        for name in mapping
        if name not in expected
    ]
    problems += [
        f"{key}.{name}: missing; every one of {', '.join(expected)} is required"
        for name in expected
        if name not in mapping
    ]
    return problems


def check_sum(key: str, values: Iterable[float], target: float = 1.0) -> list[str]:
    """The numbers among ``values`` add up to ``target`` (shares to 1)."""
    total = sum(v for v in values if is_number(v))
    if abs(total - target) > SHARE_TOLERANCE:
        return [f"{key}: the shares sum to {total:.6g}; they must sum to {target:g}"]
    return []


def check_month(key: str, value: Any, first: int | None, last: int | None) -> list[str]:
    """A ``YYYY-MM`` month, within ``first..last`` when given."""
    try:
        month = parse_month(value)
    except ValueError:
        return [f"{key} = {value!r}: must be a month written YYYY-MM"]
    if first is not None and last is not None and not first <= month <= last:
        return [f"{key} = {value!r}: outside the run; allowed from market.start to market.end"]
    return []


def unknown_key_problems(obj: Any, key: str = "") -> list[str]:
    """Keys that are not in the schema, anywhere in a converted config.

    Hydra refuses an unknown key given as ``key=value``, but ``+key=value`` (or a
    YAML file) can add one to a structured config, and :func:`OmegaConf.to_object`
    keeps it as a stray attribute; a misspelt key must not be silently ignored.
    """
    out: list[str] = []
    if is_dataclass(obj) and not isinstance(obj, type):
        names = [f.name for f in fields(obj)]
        for extra in vars(obj):
            if extra not in names:
                full = f"{key}.{extra}" if key else extra
                where = f"in {key}" if key else "at the top level"
                out.append(f"{full}: unknown key; allowed {where}: {', '.join(names)}")
        for name in names:
            out += unknown_key_problems(getattr(obj, name), f"{key}.{name}" if key else name)
    elif isinstance(obj, Mapping):
        for name, value in obj.items():
            out += unknown_key_problems(value, f"{key}.{name}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += unknown_key_problems(value, f"{key}[{i}]")
    return out


def group_options(conf_dir: str | Path, group: str) -> list[str] | None:
    """The option names of a config group under ``conf_dir`` (None if it is not one there)."""
    directory = Path(conf_dir) / group
    if ".." in Path(group).parts or not directory.is_dir():
        return None
    return sorted(f.stem for f in directory.glob("*.yaml"))


def group_choice_problem(group: str, value: Any, options: list[str]) -> list[str]:
    """A group given a number, a flag, a path or a name it does not have."""
    allowed = f"allowed one of {', '.join(options)}"
    if isinstance(value, bool | int | float):
        return [f"{group} = {value!r}: a config group; {allowed}"]
    if value is None or not isinstance(value, str):
        return []
    if "/" in value or "\\" in value or ".." in value:
        return [f"{group} = {value!r}: a config group takes a name, not a path; {allowed}"]
    if value not in options:
        return [f"{group} = {value!r}: no such option in config group {group}; {allowed}"]
    return []


def group_override_problems(args: Iterable[str], conf_dir: str | Path) -> list[str]:
    """Command-line overrides that give a config group anything but one of its names.

    A number or a boolean (``lenders=5``) makes Hydra print a traceback that does
    not name the group; a path (``scenario=../calibration/baseline``) would make
    it compose a file from another group. Each choice of a sweep is checked.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    out = []
    for arg in args:
        if arg.startswith("-"):
            continue
        try:
            (override,) = parser.parse_overrides([arg])
        except Exception:  # not an override (e.g. the value of --cfg); Hydra decides
            continue
        group = override.key_or_group
        options = group_options(conf_dir, group)
        if options is None or override.is_delete():
            continue
        if override.is_sweep_override():
            try:
                values = list(override.sweep_iterator())
            except Exception:  # a range or interval sweep: not a list of names
                continue
        else:
            values = [override.value()]
        for value in values:
            out += group_choice_problem(group, value, options)
    return out
