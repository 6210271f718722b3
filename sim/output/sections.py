"""Generated sections of a text file, each between its own markers, rewritten in place.

A file such as ``docs/levers.md`` can hold the output of several generators:
each owns the lines between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``
and rewrites only those, so the others' parts and any text outside the markers
stay as they are. A section not yet in the file is appended at its end.
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.output.atomic import atomic_write_text


def markers(name: str) -> tuple[str, str]:
    """The begin and end marker lines of section ``name`` (HTML comments: invisible in Markdown)."""
    return f"<!-- begin {name} (generated) -->", f"<!-- end {name} -->"


def section(text: str, name: str) -> str | None:
    """The body of section ``name`` in ``text``, or None if it has none."""
    begin, end = markers(name)
    if begin not in text or end not in text:
        return None
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def with_section(text: str, name: str, body: str) -> str:
    """``text`` with section ``name`` holding ``body`` (appended if it was not there).

    Raises:
        ValueError: The file has one marker of the section without the other.
    """
    begin, end = markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if (begin in text) != (end in text):
        raise ValueError(f"section {name!r} has only one of its markers {begin!r}, {end!r}")
    if begin in text:
        before, rest = text.split(begin, 1)
        return before + block + rest.split(end, 1)[1]
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"


def replace_section(path: str | os.PathLike[str], name: str, body: str) -> Path:
    """Rewrite section ``name`` of the file at ``path`` (created if absent) atomically."""
    target = Path(path)
    text = target.read_text(encoding="utf-8") if target.is_file() else ""
    return atomic_write_text(target, with_section(text, name, body))
