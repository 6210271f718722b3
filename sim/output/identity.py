"""The identity of the code that made a run: package version and a hash of its source.

A sweep reuses a finished job only when the code that would run it now is the
code that ran it; a changed line anywhere in the model (``sim/``, ``agents/``)
changes :func:`code_identity`, so every job is rerun rather than old and new
results being mixed.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from sim import __version__

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("sim", "agents")


def source_hash(root: Path = ROOT, packages: tuple[str, ...] = SOURCE_PACKAGES) -> str:
    """Short SHA-256 over every ``*.py`` file of ``packages`` under ``root`` (path and bytes)."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((Path(root) / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def code_identity() -> str:
    """``VERSION+SOURCEHASH`` of the running code (computed once per process)."""
    return f"{__version__}+{source_hash()}"
