"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

Each writer streams into a temporary file in the target's directory (named
``.<target name>.<random>.tmp``), flushes and fsyncs it, then renames it over
the target with :func:`os.replace`, which is atomic on POSIX and Windows when
both paths are on the same file system. If anything fails, the temporary file
is removed, the exception propagates (an ``OSError`` naming the target when it
named no file) and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_TEMP_ATTEMPTS = 100
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _open_temp(target: Path) -> tuple[int, Path]:
    """Create a new, empty hidden temporary file beside ``target``; return its fd and path."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            # Mode 0o666 is narrowed by the umask, as for an ordinary new file.
            fd = os.open(temp, _TEMP_FLAGS, 0o666)
        except FileExistsError:
            continue
        return fd, temp
    raise FileExistsError(f"could not create a temporary file beside {target}")


def fsync_directory(directory: Path) -> None:
    """Persist a rename in ``directory``; a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[Any]], object], *, text: bool
) -> Path:
    """Call ``write`` on a temporary file, then move the file onto ``path``.

    Args:
        path: The target file; its directory must exist.
        write: Writes the whole content to the open file it is given.
        text: Open the file as UTF-8 text (no newline translation) instead of bytes.

    Returns:
        The target path.
    """
    target = Path(path)
    fd, temp = _open_temp(target)
    try:
        try:
            handle: IO[Any] = (
                os.fdopen(fd, "w", encoding="utf-8", newline="") if text else os.fdopen(fd, "wb")
            )
        except BaseException:
            os.close(fd)
            raise
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # e.g. ENOSPC from deep inside a writer: say which file could not be written
            raise OSError(exc.errno, os.strerror(exc.errno), str(target)) from exc
        raise
    fsync_directory(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically, newlines unchanged; return the path."""
    return _atomic_write(path, lambda handle: handle.write(text), text=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    return _atomic_write(path, lambda handle: handle.write(data), text=False)


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as CSV atomically, without its index and with Unix (LF) line ends.

    Floats use Python's shortest round-trip repr, so the same frame always
    gives the same bytes.
    """
    return _atomic_write(
        path,
        lambda handle: df.to_csv(handle, index=False, float_format=None, lineterminator="\n"),
        text=True,
    )


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as Parquet atomically, without its index; return the path."""
    return _atomic_write(path, lambda handle: df.to_parquet(handle, index=False), text=False)


def _json_key(key: Any) -> Any:
    """A dict key as a Python scalar (numpy scalars are not valid JSON keys)."""
    return key.item() if hasattr(key, "item") and callable(key.item) else key


def _json_safe(obj: Any) -> Any:
    """Copy of ``obj`` with nan and infinities as None and numpy scalars/arrays as Python."""
    if isinstance(obj, dict):
        return {_json_key(key): _json_safe(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(value) for value in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalar or array
        return _json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as JSON atomically: sorted keys, indent 2, a final newline.

    JSON has no nan or infinity, so every non-finite float, however deeply
    nested, is written as ``null``; numpy scalars and arrays become numbers
    and lists.
    """
    text = json.dumps(_json_safe(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


PRINT_DPI = 300
"""Resolution of every PNG figure: print quality."""

_SVG_SALT = "microlending-abm"  # fixed ids inside SVG files: the same figure gives the same bytes


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    dpi: int = PRINT_DPI,
    caption: str | None = None,
    svg: bool = True,
) -> Path:
    """Render ``fig`` as PNG (and SVG beside it) atomically, then close it; return the PNG's path.

    Args:
        fig: The figure; closed afterwards, even on failure.
        path: The PNG file; the SVG goes to the same path with suffix ``.svg``.
        dpi: PNG resolution.
        caption: A line of small grey text under the figure (what produced it).
        svg: Also write the SVG.
    """
    try:
        if caption:
            fig.text(0.5, 0.0, caption, ha="center", va="top", fontsize=6.5, color="0.35")
        outputs = [("png", Path(path))] + ([("svg", Path(path).with_suffix(".svg"))] if svg else [])
        rendered = []
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT}):
            for kind, target in outputs:
                buffer = io.BytesIO()
                metadata = {"Date": None} if kind == "svg" else None
                fig.savefig(
                    buffer, format=kind, dpi=dpi, bbox_inches="tight", pad_inches=0.08,
                    metadata=metadata,
                )
                rendered.append((target, buffer.getvalue()))
        for target, data in rendered:
            atomic_write_bytes(target, data)
        return Path(path)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:  # a figure not made by pyplot needs no closing
            pyplot.close(fig)


def figure_files(png: Path) -> list[Path]:
    """The files :func:`save_figure` wrote for ``png``: the PNG and its SVG."""
    return [png, png.with_suffix(".svg")]
