"""``lendsim-levers``: every lever and parameter with its unit, default, allowed values and source.

    lendsim-levers                      # the regulation levers
    lendsim-levers --all                # and every market, lender and behaviour parameter
    lendsim-levers --format md --write docs/levers.md   # the reference part of docs/levers.md
    lendsim-levers --write-help conf/hydra/help/lendsim.yaml   # the text of ``lendsim --help``

Nothing is typed twice: the keys come from the schema (:mod:`sim.config`),
their meaning from its field comments, the defaults from the composed default
configuration, the allowed values from the validation rules themselves
(:func:`sim.validation.validate` is asked about a value no rule accepts, and
its answer says what is allowed), and the source from the comment on the key's
line in the conf/ file that sets it last (a calibrated value's comment in
``conf/calibration/`` wins over the group default's). A key whose own line has
no comment takes its mapping's comment (``min_capital_ratio:  # equity / loans
...``). The unit is the bracketed end of the schema comment (``[x equity]``),
else what the key's name or type says (``_cny``: CNY, ``_months``: months, a
flag, a yearly path), else a fraction when its allowed values lie in [0, 1].
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import io
import re
import sys
import tokenize
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import sim.config as schema
from sim.config import CONF_DIR, SimConfig
from sim.output.atomic import atomic_write_text
from sim.output.sections import replace_section
from sim.validation import compose, validate

SECTION = "lever-reference"
"""The part of ``docs/levers.md`` this tool writes (the effects table is another tool's)."""

SECTIONS = ("regulation",)
"""Top-level parts listed without ``--all``."""

MOST_USED = (
    "regulation.rate_cap_apr",
    "regulation.min_capital_ratio.online_platform",
    "regulation.max_leverage.online_platform",
    "regulation.co_lending_min_own_share",
    "regulation.co_lending_partner_cap",
    "regulation.online_entry_capital_cny",
    "regulation.acquisitions_allowed",
    "regulation.local_only_lending",
    "regulation.financing_support",
    "regulation.timeline",
)
"""The ten levers ``lendsim --help`` shows (those the scenarios and sweeps move most)."""

LAUNCHERS = (
    ("basic", "one job after another (the default)"),
    ("joblib", "one process per core"),
    ("ray", "a Ray cluster or local Ray (extra: ray)"),
    ("submitit_slurm", "Slurm (extra: slurm)"),
    ("submitit_local", "submitit's local processes"),
)
"""The launchers a sweep can run on (``hydra/launcher=NAME``)."""

_PROBE = "<probe>"
_BRACKET = re.compile(r"\s*\[([^\]]+)\]\s*$")


@dataclass(frozen=True)
class Lever:
    """One key of the configuration as ``lendsim-levers`` lists it."""

    key: str
    unit: str
    default: str
    allowed: str
    source: str
    meaning: str


# --------------------------------------------------------------------- reading the sources


def _strip_comment(line: str) -> tuple[str, str]:
    """A YAML line split into its content and its comment (``#`` outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def yaml_comments(path: Path, prefix: str = "") -> dict[str, str]:
    """Each key a YAML file sets (dotted, under ``prefix``) and the comment on its line.

    A key on a line of its own without a comment takes the comment of the mapping
    it is in (the nearest enclosing key that has one); list items are not entered.
    """
    out: dict[str, str] = {}
    stack: list[tuple[int, str, str]] = []  # (indent, dotted key, comment)
    for raw in path.read_text(encoding="utf-8").splitlines():
        content, comment = _strip_comment(raw)
        if not content.strip() or content.lstrip().startswith("-"):
            continue
        indent = len(content) - len(content.lstrip())
        key, sep, _ = content.strip().partition(":")
        if not sep:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else prefix
        dotted = f"{parent}.{key.strip()}" if parent else key.strip()
        inherited = next((c for _, _, c in reversed(stack) if c), "")
        out[dotted] = comment or inherited
        stack.append((indent, dotted, comment))
    return out


def _package(path: Path, group: str) -> str:
    """The package a config file's keys go to: ``_global_`` (empty) or its group."""
    head = path.read_text(encoding="utf-8").splitlines()[:1]
    return "" if head and "@package _global_" in head[0] else group.replace("/", ".")


def composed_files(conf_dir: Path = CONF_DIR) -> list[tuple[Path, str]]:
    """The conf/ files the default configuration composes, in order, each with its package.

    Follows ``defaults`` lists (``group: option``, ``/group: option``, a bare
    option of the same group, ``_self_``); Hydra's own group and the schema are
    left out, as is an option set to ``null``.
    """

    def visit(path: Path, group: str) -> list[tuple[Path, str]]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        files: list[tuple[Path, str]] = []
        entries = data.get("defaults", []) if isinstance(data, dict) else []
        if "_self_" not in entries:
            entries = [*entries, "_self_"]
        for entry in entries:
            if entry == "_self_":
                files.append((path, _package(path, group)))
                continue
            if isinstance(entry, str):
                sub_group, option = group, entry
            else:
                ((sub_group, option),) = entry.items()
                sub_group = sub_group.lstrip("/")
            target = conf_dir / sub_group / f"{option}.yaml"
            if option is None or sub_group.startswith("hydra") or not target.is_file():
                continue
            files += visit(target, sub_group)
        return files

    return visit(conf_dir / "config.yaml", "")


def sources(conf_dir: Path = CONF_DIR) -> dict[str, str]:
    """The source comment of every key: the last composed file that comments it wins."""
    out: dict[str, str] = {}
    for path, package in composed_files(conf_dir):
        for key, comment in yaml_comments(path, package).items():
            if comment or key not in out:
                out[key] = comment
    return out


def schema_comments(module: Any = schema) -> dict[str, dict[str, str]]:
    """The trailing comment of every dataclass field in ``module``'s source, by class."""
    text = Path(module.__file__).read_text(encoding="utf-8")
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT
    }
    out: dict[str, dict[str, str]] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                item.target.id: comments.get(item.lineno, "")
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return out


# ------------------------------------------------------------------- walking the schema


def _leaves(obj: Any, key: str = "") -> Iterator[tuple[str, str, Any, type]]:
    """``(dotted key, field name, value, the dataclass declaring the field)`` of every key.

    A per-type or per-segment mapping gives one key per entry; a yearly path and a
    list are one key each.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        full = f"{key}.{f.name}" if key else f.name
        kind = typing.get_type_hints(type(obj))[f.name]
        args = typing.get_args(kind)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, full)
        elif isinstance(value, dict) and args and dataclasses.is_dataclass(args[-1]):
            for name, item in value.items():
                yield from _leaves(item, f"{full}.{name}")
        elif isinstance(value, dict) and args and args[0] is str:
            for name, item in value.items():
                yield f"{full}.{name}", f.name, item, type(obj)
        else:
            yield full, f.name, value, type(obj)


def _setter(cfg: SimConfig, key: str) -> tuple[Any, str]:
    """The container and the slot holding ``key`` in ``cfg`` (a dataclass or a mapping)."""
    node: Any = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node, parts[-1]


def allowed_values(cfg: SimConfig, key: str) -> str:
    """What the validation rules allow at ``key``: their answer to a value nothing accepts."""
    probe = copy.deepcopy(cfg)
    node, slot = _setter(probe, key)
    value = node[slot] if isinstance(node, dict) else getattr(node, slot)
    target = key
    if isinstance(value, dict) and value and all(isinstance(k, int) for k in value):
        year = min(value)
        value[year] = _PROBE
        target = f"{key}.{year}"
    elif isinstance(value, list):
        return "a list (see the comment)"
    elif isinstance(node, dict):
        node[slot] = _PROBE
    else:
        setattr(node, slot, _PROBE)
    try:
        problems = validate(probe)
    except Exception:  # a rule that cannot read the probe still allowed nothing to tell
        return "-"
    start = f"{target} = {_PROBE!r}: "
    for line in problems:
        if line.startswith(start):
            text = line[len(start) :]
            text = text.removeprefix("out of range; allowed ").removeprefix("must be ")
            return text.removeprefix("a number in ").replace("an integer in ", "integer ")
    return "any"


def unit_of(name: str, meaning: str, value: Any, allowed: str) -> str:
    """The unit: the schema comment's ``[unit]``, else the key's name or type, else a fraction."""
    bracket = _BRACKET.search(meaning)
    if bracket:
        unit = bracket.group(1)
        return f"{unit} by year" if _is_path(value) else unit
    rules = (
        (isinstance(value, bool), "true/false"),
        (name.endswith("_cny"), "CNY"),
        (name.endswith("_apr"), "APR"),
        (name.endswith("months") or name == "writeoff_months", "months"),
        (name in ("start", "end"), "YYYY-MM"),
        (isinstance(value, int) and (name.startswith("n_") or name == "count"), "count"),
        (_is_path(value), "share by year"),
        (isinstance(value, list), "list"),
        (isinstance(value, int), "integer"),
        (allowed.startswith("[0, 1]"), "fraction"),
    )
    return next((unit for matched, unit in rules if matched), "number")


def _is_path(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, int) for k in value)


def _show(value: Any) -> str:
    """A default as the listing writes it (a path as its first and last year)."""
    if _is_path(value):
        first, last = min(value), max(value)
        return f"{value[first]:g} ({first}) .. {value[last]:g} ({last})"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1e4 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1e4 else str(value)
    return "[]" if value == [] else str(value)


def catalogue(everything: bool = False, cfg: SimConfig | None = None) -> list[Lever]:
    """Every regulation lever (with ``everything``, then every other key), in schema order."""
    cfg = cfg if cfg is not None else compose("progress=false")
    comments = schema_comments()
    source = sources()
    out = []
    for key, name, value, owner in _leaves(cfg):
        if not everything and key.split(".")[0] not in SECTIONS:
            continue
        if key == "scenario_name":
            continue  # set by the scenario file, names the run
        meaning = comments.get(owner.__name__, {}).get(name, "")
        allowed = allowed_values(cfg, key)
        out.append(
            Lever(
                key=key,
                unit=unit_of(name, meaning, value, allowed),
                default=_show(value),
                allowed=allowed,
                source=source.get(key, ""),
                meaning=_BRACKET.sub("", meaning).strip(),
            )
        )
    return sorted(out, key=lambda lever: lever.key.split(".")[0] not in SECTIONS)  # levers first


# ---------------------------------------------------------------------------- rendering


def text_table(levers: Sequence[Lever]) -> str:
    """An aligned plain-text listing, one lever a line, its source last."""
    head = ("key", "unit", "default", "allowed", "source")
    rows = [head, *((lv.key, lv.unit, lv.default, lv.allowed, lv.source) for lv in levers)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(levers: Sequence[Lever]) -> str:
    """The reference part of ``docs/levers.md``: one table row per key."""
    lines = [
        "## Reference: every key, its unit, default, allowed values and source",
        "",
        "Generated by `lendsim-levers --all --format md --write docs/levers.md` from the schema "
        "(`sim/config.py`), the validation rules and the conf/ comments; do not edit by hand. "
        "Defaults are the baseline scenario's (calibrated values included). A per-type lever "
        "has one row per lender type; a yearly path shows its first and last year.",
        "",
        "| key | unit | default | allowed | meaning | source |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {lv.key} | {_md(lv.unit)} | {_md(lv.default)} | {_md(lv.allowed)} | "
        f"{_md(lv.meaning)} | {_md(lv.source)} |"
        for lv in levers
    ]
    return "\n".join(lines) + "\n"


def summary_line(path: Path, width: int = 72) -> str:
    """What a config file is about: its opening comment's first sentence, cut to ``width``.

    A leading ``Name:`` (a few words before a colon) is dropped; a cut sentence ends in "...".
    """
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or "@package" in line:
            if lines or not line.startswith("#"):
                break
            continue
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    head, sep, rest = text.partition(": ")
    if sep and len(head.split()) <= 4:
        text = rest
    text = text.split(". ")[0].rstrip(".")
    if len(text) <= width:
        return text
    return text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def help_template(conf_dir: Path = CONF_DIR) -> str:
    """The text of ``lendsim --help``: what it does, the groups to choose, the main levers."""
    levers = {lv.key: lv for lv in catalogue(everything=True)}
    scenarios = sorted((conf_dir / "scenario").glob("*.yaml"))
    sweeps = sorted((conf_dir / "sweep").glob("*.yaml"))
    width = max(len(p.stem) for p in [*scenarios, *sweeps])
    lines = [
        "lendsim: agent-based simulator of China's small-loan market, 2024-2030.",
        "Runs a scenario month by month and writes its tables (CSV and Parquet), plots and",
        "result.json into outputs/runs/DATE/TIME_SCENARIO_seedN/ (a sweep: outputs/sweeps/).",
        "",
        "Usage: lendsim [scenario=NAME] [seed=N] [key=value ...]",
        "       lendsim sweep=NAME [hydra/launcher=joblib] [key=value ...]",
        "",
        "== Scenario (scenario=NAME; default baseline) ==",
        *(f"  {p.stem.ljust(width)}  {summary_line(p)}" for p in scenarios),
        "",
        "== Sweep (sweep=NAME: a versioned multirun over seeds and levers) ==",
        *(f"  {p.stem.ljust(width)}  {summary_line(p)}" for p in sweeps),
        "",
        "== Launcher of a sweep (hydra/launcher=NAME) ==",
        *(f"  {name.ljust(width)}  {note}" for name, note in LAUNCHERS),
        "",
        "== The most used levers (key, unit, default) ==",
    ]
    key_width = max(len(k) for k in MOST_USED)
    for key in MOST_USED:
        lv = levers[key]
        lines.append(f"  {key.ljust(key_width)}  {lv.unit}, default {lv.default}")
    lines += [
        "",
        "  e.g. lendsim regulation.rate_cap_apr=0.18 seed=3 market.n_borrowers=20000",
        "       lendsim 'regulation.timeline=[{date: \"2027-01\", rate_cap_apr: 0.10}]'",
        "",
        "Every lever with its unit, default, allowed values and source: lendsim-levers",
        "(every parameter: lendsim-levers --all; reference: docs/levers.md).",
        "The resolved config: lendsim --cfg job [overrides]. Hydra's options: lendsim --hydra-help",
    ]
    return "\n".join(lines) + "\n"


def help_yaml(conf_dir: Path = CONF_DIR) -> str:
    """``conf/hydra/help/lendsim.yaml``: Hydra's help config holding :func:`help_template`."""
    header = (
        "# The text of `lendsim --help`. Generated by\n"
        "# `python -m scenarios.levers --write-help conf/hydra/help/lendsim.yaml`;"
        " do not edit by hand.\n"
    )
    lines = help_template(conf_dir).splitlines()
    template = "".join(f"  {line}\n" if line else "\n" for line in lines)
    return header + "app_name: lendsim\nheader: ''\nfooter: ''\ntemplate: |\n" + template


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="lendsim-levers", description=__doc__.splitlines()[0].split(": ", 1)[1]
    )
    parser.add_argument("--all", action="store_true", help="every parameter, not only levers")
    parser.add_argument("--format", choices=("text", "md"), default="text")
    parser.add_argument("--write", type=Path, help="write the listing into this file's section")
    parser.add_argument("--write-help", type=Path, help="write the lendsim --help config here")
    args = parser.parse_args(argv)
    if args.write_help:
        args.write_help.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.write_help, help_yaml())
        print(f"wrote {args.write_help}")
        return 0
    levers = catalogue(everything=args.all)
    text = markdown(levers) if args.format == "md" else text_table(levers)
    if args.write:
        replace_section(args.write, SECTION, text)
        print(f"wrote the {SECTION} section of {args.write}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
