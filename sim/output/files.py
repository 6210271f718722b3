"""A run directory's files: checksums, the staging directory, stale outputs, paths in the way.

A run writes every table and figure into a hidden staging directory inside its
run directory (``.staging-PID-RANDOM``, on the same file system, so a move is a
rename) and :func:`publish` moves them into place only once all are written.
Before any work, :func:`clear_outputs` removes what an earlier run left (its
tables, figures, ``result.json``, staging directories and temporary files), and
:func:`paths_in_the_way` names a directory or a link standing where a file will
be written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from sim.output.atomic import fsync_directory

STAGING_PREFIX = ".staging-"
FIGURES = tuple(
    f"{name}.{kind}"
    for name in ("concentration", "type_shares", "online_share_rate")
    for kind in ("png", "svg")
)
"""The figures :func:`sim.output.plots.plot_run` draws, PNG and SVG (named here: plots
imports matplotlib)."""
_CHUNK = 1 << 20


class OutputPathError(OSError):
    """A path of the run directory that cannot be used; the message names it and why."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files ``names`` in ``directory``."""
    return {name: sha256_file(Path(directory) / name) for name in names}


def mismatched(directory: Path, expected: dict[str, str]) -> list[str]:
    """The names whose file is missing, not a regular file, or has another checksum."""
    out = []
    for name, digest in expected.items():
        path = Path(directory) / name
        try:
            if path.is_symlink() or not path.is_file() or sha256_file(path) != digest:
                out.append(name)
        except OSError:
            out.append(name)
    return out


def paths_in_the_way(directory: Path, names: Iterable[str]) -> list[str]:
    """One line per target path where a directory or a symbolic link stands."""
    out = []
    for name in names:
        path = Path(directory) / name
        if path.is_symlink():
            out.append(f"{path}: a symbolic link stands where a file will be written; remove it")
        elif path.is_dir():
            out.append(f"{path}: a directory stands where a file will be written; remove it")
    return out


def clear_outputs(directory: Path, names: Iterable[str]) -> list[str]:
    """Remove the files ``names``, staging directories and temporary files an earlier run left.

    Returns:
        The names removed (files only; directories in the way are left to
        :func:`paths_in_the_way`).
    """
    directory = Path(directory)
    removed = []
    for name in names:
        path = directory / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(name)
    remove_leftovers(directory)
    return removed


def remove_leftovers(directory: Path) -> list[Path]:
    """Remove the staging directories and temporary files a stopped writer left; list them.

    Only for a directory no writer is still using (its run is over or its
    process is gone): a live writer's temporary file would go with them.
    """
    removed = []
    for leftover in Path(directory).glob(f"{STAGING_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    for temp in Path(directory).glob(".*.tmp"):
        if temp.is_file():
            temp.unlink(missing_ok=True)
            removed.append(temp)
    return removed


@contextlib.contextmanager
def staging(directory: Path) -> Iterator[Path]:
    """A fresh hidden staging directory inside ``directory``; removed when the block ends."""
    path = Path(directory) / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish(staged: Path, directory: Path, names: Iterable[str], moved: list[str]) -> None:
    """Move each staged file into ``directory`` (a rename), appending each name to ``moved``.

    ``moved`` lets the caller take the files back out if it is stopped part-way.
    """
    for name in names:
        os.replace(Path(staged) / name, Path(directory) / name)
        moved.append(name)
    fsync_directory(Path(directory))


def withdraw(directory: Path, names: Iterable[str]) -> None:
    """Remove published files again (best effort): an unfinished run shows no table."""
    for name in names:
        with contextlib.suppress(OSError):
            (Path(directory) / name).unlink()
