"""Atomic writes: complete content on success, nothing changed and no debris on failure."""

import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sim.output.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    save_figure,
    write_csv,
    write_json,
    write_parquet,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ExplodingFrame:
    """A DataFrame stand-in whose writers emit a partial file and then fail."""

    def to_csv(self, handle: Any, **kwargs: Any) -> None:
        """Write half a row, then raise."""
        handle.write("year,hhi\n2024,")
        raise RuntimeError("disk on fire")

    def to_parquet(self, handle: Any, **kwargs: Any) -> None:
        """Write a few bytes, then raise."""
        handle.write(b"PAR1")
        raise RuntimeError("disk on fire")


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_text_round_trip_leaves_only_target(tmp_path: Path) -> None:
    """Text is written byte for byte as UTF-8 (newlines untranslated), with no temp file left."""
    target = atomic_write_text(tmp_path / "note.txt", "a\nb\r\n贷款 ¥")
    assert target == tmp_path / "note.txt"
    assert target.read_bytes() == b"a\nb\r\n\xe8\xb4\xb7\xe6\xac\xbe \xc2\xa5"
    assert _names(tmp_path) == ["note.txt"]


def test_accepts_str_paths_and_overwrites(tmp_path: Path) -> None:
    """A str path works, and a second write replaces the first."""
    path = str(tmp_path / "data.bin")
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"\x00new")
    assert Path(path).read_bytes() == b"\x00new"
    assert _names(tmp_path) == ["data.bin"]


def test_temp_file_is_hidden_beside_target_and_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temp file is '.<name>...tmp' in the target's directory and fsynced before the rename."""
    events: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def spy_replace(src: Any, dst: Any) -> None:
        events.append(f"replace {Path(src).parent == tmp_path} {Path(src).name}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    atomic_write_text(tmp_path / "out.csv", "x")
    assert events[0] == "fsync"
    _, same_dir, name = events[1].split(" ")
    assert same_dir == "True"
    assert name.startswith(".out.csv.")
    assert name.endswith(".tmp")


def test_new_file_mode_follows_umask(tmp_path: Path) -> None:
    """With umask 022 a new file is 0644, like an ordinary file, not 0600 or 0755."""
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "mode.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_failing_csv_leaves_no_target_and_no_temp(tmp_path: Path) -> None:
    """If to_csv fails halfway, neither the target nor a temp file exists afterwards."""
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_csv(ExplodingFrame(), tmp_path / "yearly.csv")  # type: ignore[arg-type]
    assert _names(tmp_path) == []


def test_failing_parquet_leaves_existing_target_untouched(tmp_path: Path) -> None:
    """If to_parquet fails halfway, an existing target keeps its old bytes."""
    target = tmp_path / "yearly.parquet"
    target.write_bytes(b"previous run")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_parquet(ExplodingFrame(), target)  # type: ignore[arg-type]
    assert target.read_bytes() == b"previous run"
    assert _names(tmp_path) == ["yearly.parquet"]


def test_failing_rename_leaves_target_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If os.replace fails, the old target survives and the temp file is removed."""
    target = tmp_path / "summary.json"
    target.write_text("{}")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("rename refused")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename refused"):
        write_json({"a": 1}, target)
    assert target.read_text() == "{}"
    assert _names(tmp_path) == ["summary.json"]


def test_interrupt_also_cleans_up(tmp_path: Path) -> None:
    """A KeyboardInterrupt mid-write (a BaseException) still removes the temp file."""

    class Interrupted:
        def to_csv(self, handle: Any, **kwargs: Any) -> None:
            handle.write("partial")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_csv(Interrupted(), tmp_path / "x.csv")  # type: ignore[arg-type]
    assert _names(tmp_path) == []


def test_missing_directory_raises_without_debris(tmp_path: Path) -> None:
    """Writing into a directory that does not exist fails and creates nothing."""
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "absent" / "x.txt", "x")
    assert _names(tmp_path) == []


def test_csv_exact_bytes(tmp_path: Path) -> None:
    """CSV has no index, LF line ends, shortest float reprs and nan as an empty field."""
    frame = pd.DataFrame(
        {"year": [2024, 2025], "hhi": [3800.0, np.nan], "online_share": [0.1, 0.25]},
        index=[7, 9],
    )
    path = write_csv(frame, tmp_path / "yearly.csv")
    assert path.read_bytes() == b"year,hhi,online_share\n2024,3800.0,0.1\n2025,,0.25\n"


def test_csv_is_deterministic(tmp_path: Path) -> None:
    """Writing the same frame twice gives identical bytes."""
    frame = pd.DataFrame({"x": np.linspace(0, 1, 7), "label": list("abcdefg")})
    first = write_csv(frame, tmp_path / "a.csv").read_bytes()
    second = write_csv(frame, tmp_path / "b.csv").read_bytes()
    assert first == second


def test_parquet_round_trip(tmp_path: Path) -> None:
    """A frame read back from Parquet equals the frame written, index reset."""
    frame = pd.DataFrame(
        {"year": [2024, 2025], "hhi": [3800.0, np.nan], "kind": ["bank", "online"]},
        index=[3, 4],
    )
    path = write_parquet(frame, tmp_path / "yearly.parquet")
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True), check_dtype=False)


def test_json_exact_text(tmp_path: Path) -> None:
    """JSON has sorted keys, indent 2, a final newline, null for every nan/inf, numpy as Python."""
    obj = {
        "b": float("nan"),
        "a": [1.5, float("inf"), {"c": -float("inf"), "d": (np.float64(0.25), np.int64(3))}],
        "e": np.array([1.0, np.nan]),
    }
    path = write_json(obj, tmp_path / "summary.json")
    expected = (
        "{\n"
        '  "a": [\n'
        "    1.5,\n"
        "    null,\n"
        "    {\n"
        '      "c": null,\n'
        '      "d": [\n'
        "        0.25,\n"
        "        3\n"
        "      ]\n"
        "    }\n"
        "  ],\n"
        '  "b": null,\n'
        '  "e": [\n'
        "    1.0,\n"
        "    null\n"
        "  ]\n"
        "}\n"
    )
    assert path.read_text() == expected
    assert json.loads(expected)["b"] is None


def test_json_unserialisable_leaves_target_untouched(tmp_path: Path) -> None:
    """An object JSON cannot encode raises TypeError and leaves the old file alone."""
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_json({"x": object()}, target)
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["summary.json"]


def test_save_figure_writes_png_and_closes(tmp_path: Path) -> None:
    """save_figure writes a PNG (magic bytes), an SVG beside it, and closes the pyplot figure."""
    fig, ax = plt.subplots()
    ax.plot([2024, 2025], [1.0, 2.0])
    path = save_figure(fig, tmp_path / "fig.png", dpi=50)
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert b"<svg" in (tmp_path / "fig.svg").read_bytes()
    assert not plt.fignum_exists(fig.number)
    assert _names(tmp_path) == ["fig.png", "fig.svg"]


def test_save_figure_closes_on_failure(tmp_path: Path) -> None:
    """Even when the write fails, the figure is closed and nothing is left behind."""
    fig, _ = plt.subplots()
    with pytest.raises(FileNotFoundError):
        save_figure(fig, tmp_path / "absent" / "fig.png")
    assert not plt.fignum_exists(fig.number)
    assert _names(tmp_path) == []
