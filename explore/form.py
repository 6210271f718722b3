"""The Run page's form as command-line overrides, checked by the project's validator.

A form holds text as typed; :func:`overrides` turns it into the overrides
``lendsim`` would take (only what differs from the scenario), and
:func:`check` runs the command line's own checks (:func:`sim.preflight.preflight`,
then the typed composition) so the page refuses exactly what ``lendsim``
refuses, with the same message; :func:`problems_by_key` files each message
under the key it names, for the control showing that key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from explore.controls import TIMELINE, as_text, base_config, groups
from sim.config import SimConfig
from sim.preflight import preflight
from sim.validation import ConfigError, compose

FIXED = ("plots=false", "progress=false")
"""Every run from the page: the page draws its own figures; no terminal bar."""

GENERAL = ""
"""The key under which problems naming no control are filed."""

_CONFIG_ERROR = "config error: "


@dataclass(frozen=True)
class Change:
    """One dated change of the timeline editor: month, lever (as the timeline names it), value."""

    date: str
    lever: str
    value: str


@dataclass
class Form:
    """What the Run page's controls hold, as text.

    Attributes:
        scenario: A file of ``conf/scenario/``.
        values: Lever text by dotted key, for the levers the user edited.
        timeline: The dated changes (the scenario's own to start with).
        seeds: The seeds each point runs on.
        n_borrowers: The borrower count as typed.
        compare: Run the baseline on the same seeds too.
    """

    scenario: str = "baseline"
    values: dict[str, str] = field(default_factory=dict)
    timeline: list[Change] = field(default_factory=list)
    seeds: tuple[int, ...] = (0,)
    n_borrowers: str = ""
    compare: bool = True


def scenario_timeline(scenario: str) -> list[Change]:
    """The scenario's own dated changes, one row per lever."""
    return [
        Change(str(entry["date"]), lever, as_text(value))
        for entry in base_config(scenario).regulation.timeline
        for lever, value in entry.items()
        if lever != "date"
    ]


def timeline_entries(rows: Iterable[Change]) -> list[list[Change]]:
    """Rows grouped by month, in the order each month first appears (one entry per month)."""
    entries: dict[str, list[Change]] = {}
    for row in rows:
        entries.setdefault(row.date, []).append(row)
    return list(entries.values())


def timeline_override(rows: Sequence[Change]) -> str:
    """``regulation.timeline=[{date: "2027-01", rate_cap_apr: 0.1}, ...]``."""
    items = []
    for entry in timeline_entries(rows):
        levers = "".join(f", {row.lever}: {row.value.strip()}" for row in entry)
        items.append(f'{{date: "{entry[0].date.strip()}"{levers}}}')
    return f"{TIMELINE}=[{', '.join(items)}]"


def _lever_override(key: str, kind: str, text: str) -> str:
    return f"{key}={{{text.strip()}}}" if kind == "path" else f"{key}={text.strip()}"


def overrides(form: Form) -> list[str]:
    """The overrides of the form, seed aside: scenario, scale, edited levers, timeline."""
    out = [f"scenario={form.scenario}"]
    if form.n_borrowers.strip():
        out.append(f"market.n_borrowers={form.n_borrowers.strip()}")
    for group in groups(form.scenario):
        for control in group.controls:
            text = form.values.get(control.key)
            if text is not None and text.strip() != control.text:
                out.append(_lever_override(control.key, control.kind, text))
    if list(form.timeline) != scenario_timeline(form.scenario):
        out.append(timeline_override(form.timeline))
    return [*out, *FIXED]


def baseline_overrides(form: Form) -> list[str]:
    """The baseline on the form's scale: the baseline scenario, nothing else changed."""
    scale = [f"market.n_borrowers={form.n_borrowers.strip()}"] if form.n_borrowers.strip() else []
    return ["scenario=baseline", *scale, *FIXED]


def check(texts: Sequence[str]) -> tuple[SimConfig | None, list[str]]:
    """The validated config of ``texts``, or None and the validator's messages.

    The command line's checks run first (:func:`sim.preflight.preflight`: group
    names, strict types, every rule), then the typed composition; a problem
    Hydra finds while composing (a key not in the schema) comes back as its
    own message.
    """
    lines = [line for line in preflight(list(texts)) if line.startswith(_CONFIG_ERROR)]
    if lines:
        return None, [line.removeprefix(_CONFIG_ERROR) for line in lines]
    try:
        return compose(*texts), []
    except ConfigError as exc:
        return None, list(exc.problems)
    except Exception as exc:  # Hydra's composition errors name the key themselves
        return None, [" ".join(str(exc).split())]


def problem_key(line: str) -> str:
    """The key a validator message names (``regulation.rate_cap_apr = -1.0: ...``)."""
    head, sep, _ = line.partition(" = ")
    return head.strip() if sep and " " not in head.strip() else GENERAL


def problems_by_key(lines: Iterable[str], keys: Iterable[str]) -> dict[str, list[str]]:
    """Each message under the control key it names (a path's year or a timeline item too).

    A message names ``key`` when its key is ``key`` or lies below it
    (``regulation.financing_support.2024``, ``regulation.timeline[0].date``);
    the rest go under :data:`GENERAL`.
    """
    known = sorted(keys, key=len, reverse=True)
    out: dict[str, list[str]] = {}
    for line in lines:
        named = problem_key(line)
        owner = next(
            (k for k in known if named == k or named.startswith((f"{k}.", f"{k}["))), GENERAL
        )
        out.setdefault(owner, []).append(line)
    return out


def timeline_problems(lines: Iterable[str], rows: Sequence[Change]) -> dict[int, list[str]]:
    """Messages about ``regulation.timeline[i]...`` by row of the editor.

    A message about a month goes to that month's first row, one about a value to
    the lever's own row.
    """
    out: dict[int, list[str]] = {}
    entries = timeline_entries(rows)
    for line in lines:
        named = problem_key(line)
        if not named.startswith(f"{TIMELINE}["):
            continue
        index_text, _, rest = named.removeprefix(f"{TIMELINE}[").partition("]")
        if not index_text.isdigit() or int(index_text) >= len(entries):
            continue
        entry = entries[int(index_text)]
        lever = rest.removeprefix(".")
        row = next((r for r in entry if r.lever == lever), entry[0])
        out.setdefault(rows.index(row), []).append(line)
    return out
