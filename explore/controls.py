"""What the Run page offers: scenarios, lever controls grouped as the README groups them.

Nothing is typed twice: the levers, their units, defaults, allowed values and
sources come from :func:`scenarios.levers.catalogue` (the schema, the validation
rules and the conf/ comments); their grouping and the group's meaning from the
README's "Regulation levers" table; a scenario's description from the opening
comment of its file; the calibrated scale from the calibration record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from scenarios.calibration_io import read_record
from scenarios.levers import Lever, allowed_values, catalogue
from sim.config import CONF_DIR, SimConfig
from sim.diagnostics import PRICES_HOLD_FROM
from sim.validation import compose

ROOT = CONF_DIR.parent
README = ROOT / "README.md"
CALIBRATION = CONF_DIR / "calibration" / "baseline.yaml"
TIMELINE = "regulation.timeline"
N_BORROWERS = "market.n_borrowers"
_TABLE_HEADING = "### Regulation levers"
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Scenario:
    """A file of ``conf/scenario/``: its name and opening paragraph."""

    name: str
    description: str


@dataclass(frozen=True)
class Control:
    """One lever as a control: its catalogue entry, kind and the scenario's value as text.

    ``kind`` is ``bool``, ``path`` (a yearly path, written ``2024: 0.45, ...``)
    or ``number``.
    """

    lever: Lever
    kind: str
    text: str

    @property
    def key(self) -> str:
        """The dotted key (``regulation.rate_cap_apr``)."""
        return self.lever.key


@dataclass(frozen=True)
class Group:
    """Levers the README describes together, and what they change in the model."""

    title: str
    meaning: str
    controls: tuple[Control, ...]


def opening_paragraph(path: Path) -> str:
    """The first comment paragraph of a config file (``@package`` line left out)."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "@package" in line:
            continue
        if not line.startswith("#") or (lines and not line.strip("# ")):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(part for part in lines if part)


def scenarios(conf_dir: Path = CONF_DIR) -> list[Scenario]:
    """Every scenario file, ``baseline`` first, then by name."""
    paths = sorted((conf_dir / "scenario").glob("*.yaml"), key=lambda p: (p.stem != "baseline", p))
    return [Scenario(p.stem, opening_paragraph(p)) for p in paths]


def readme_groups(readme: Path = README) -> list[tuple[list[str], str]]:
    """The README's lever table: each row's key patterns (``TYPE`` a wildcard) and meaning."""
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8")
    start = text.find(_TABLE_HEADING)
    if start < 0:
        return []
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not _CODE.search(cells[0]):
            continue
        rows.append((_CODE.findall(cells[0]), cells[-1]))
    return rows


def _matches(pattern: str, name: str) -> bool:
    regex = re.escape(pattern).replace("TYPE", "[a-z_]+")
    return re.fullmatch(regex, name) is not None


def value_at(cfg: SimConfig, key: str) -> Any:
    """The value at a dotted key of ``cfg`` (dataclass fields and mapping entries)."""
    node: Any = cfg
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def as_text(value: Any) -> str:
    """A value as an override writes it: ``true``, ``0.24``, ``2024: 0.45, 2025: 0.52``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ", ".join(f"{year}: {as_text(v)}" for year, v in value.items())
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "path" if isinstance(value, dict) else "number"


@cache
def base_config(scenario: str) -> SimConfig:
    """The validated configuration of ``scenario`` with nothing overridden."""
    return compose(f"scenario={scenario}", "progress=false")


@cache
def groups(scenario: str = "baseline") -> tuple[Group, ...]:
    """The regulation levers as controls holding ``scenario``'s values, in README groups.

    A lever no README row names goes to a last group, "Other levers"; the
    timeline has its own editor and is left out.
    """
    cfg = base_config(scenario)
    levers = [lv for lv in catalogue(cfg=cfg) if lv.key != TIMELINE]
    rows = readme_groups()
    placed: dict[int, list[Control]] = {}
    for lever in levers:
        name = lever.key.removeprefix("regulation.")
        value = value_at(cfg, lever.key)
        control = Control(lever, _kind(value), as_text(value))
        row = next(
            (i for i, (pats, _) in enumerate(rows) if any(_matches(p, name) for p in pats)),
            len(rows),
        )
        placed.setdefault(row, []).append(control)
    out = []
    for row in sorted(placed):
        title, meaning = (
            (", ".join(rows[row][0]), rows[row][1]) if row < len(rows) else ("Other levers", "")
        )
        out.append(Group(title, meaning, tuple(placed[row])))
    return tuple(out)


def timeline_levers(scenario: str = "baseline") -> list[str]:
    """Levers a dated change may name, as the timeline writes them (``rate_cap_apr``)."""
    return [c.key.removeprefix("regulation.") for g in groups(scenario) for c in g.controls]


@dataclass(frozen=True)
class Scale:
    """The borrower count: the default, what the rules allow, the calibrated scale."""

    default: int
    allowed: str
    calibrated: int | None

    def note(self) -> str:
        """The limit shown beside the control."""
        text = f"allowed {self.allowed}"
        if self.calibrated:
            text += (
                f"; calibrated at {self.calibrated:,} borrowers (prices and channels hold from "
                f"{PRICES_HOLD_FROM:,}): below that, small lenders' books are lumpy and results "
                "depend on the number of borrowers (docs/ODD.md, Known limitations)"
            )
        return text


@cache
def scale() -> Scale:
    """The borrower count's default, allowed values and calibration scale."""
    cfg = base_config("baseline")
    try:
        calibrated = int(read_record(CALIBRATION)["n_borrowers"])
    except (OSError, ValueError, KeyError):
        calibrated = None
    return Scale(cfg.market.n_borrowers, allowed_values(cfg, N_BORROWERS), calibrated)
