"""Faults that hit a run: nothing looks complete unless it is, and each ends with its cause.

A run writes into a staging directory and publishes its files only when all
are written; here signals arrive while it writes or publishes, a library turns
a signal into another error, the final record cannot be written, an earlier
run's files wait in the directory, a directory or a link stands where a table
goes, the output directory disappears, is read-only, or its disk is full. After
each, the run directory holds no table or figure unless ``result.json`` is
``complete`` and every checksum matches.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import sim.run
from sim.output.files import FIGURES, OutputPathError, mismatched
from sim.output.result import RunInterrupted, process_alive
from sim.output.tables import TABLES
from sim.run import run_simulation
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ("market.n_borrowers=2000", "market.end=2024-06")


def tiny(*extra: str):
    return compose_config(*TINY, *extra)


def assert_nothing_looks_complete(out: Path) -> dict:
    """No table, figure, staging directory or temporary file unless the record is complete and
    every checksum matches; returns the record.
    """
    result = json.loads((out / "result.json").read_text())
    outputs = [
        p.name for p in out.iterdir() if p.suffix in (".csv", ".png", ".parquet") and p.is_file()
    ]
    if result["status"] == "complete":
        assert mismatched(out, result["checksums"]) == []
    else:
        assert outputs == [], outputs
    assert not list(out.glob(".staging-*")) and not list(out.glob(".*.tmp")), list(out.iterdir())
    return result


@pytest.fixture
def interactive_sigint():
    """SIGINT handled as in an interactive shell, even when the suite runs in the background
    (a background shell starts its children with SIGINT ignored, and a run keeps that).
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_writing_tables(tmp_path, monkeypatch, signum, interactive_sigint):
    """A real signal delivered after the first tables are written (the write phase) leaves
    result.json 'interrupted' by that signal and no table, figure or staging file; a rerun
    into the same directory writes the same bytes as a clean run.
    """
    real = sim.run.write_tables

    def write_then_signal(tables, out_dir):
        paths = real(tables, out_dir)
        os.kill(os.getpid(), signum)
        return paths

    monkeypatch.setattr(sim.run, "write_tables", write_then_signal)
    out = tmp_path / "run"
    with pytest.raises((RunInterrupted, KeyboardInterrupt)):
        run_simulation(tiny("plots=false"), out, progress=False)
    result = assert_nothing_looks_complete(out)
    assert result["status"] == "interrupted"
    assert result["error"] == f"interrupted by {signal.Signals(signum).name}"
    monkeypatch.undo()  # run again into the same directory: the same bytes as a clean run
    again = run_simulation(tiny("plots=false"), out, progress=False)
    clean = run_simulation(tiny("plots=false"), tmp_path / "clean", progress=False)
    assert again["checksums"] == clean["checksums"]


def test_signal_while_publishing(tmp_path, monkeypatch):
    """SIGTERM after two of the files have been moved into place takes them back out."""
    real = sim.run.publish

    def publish_two_then_signal(staged, directory, names, moved):
        real(staged, directory, names[:2], moved)
        assert (directory / names[0]).is_file()
        os.kill(os.getpid(), signal.SIGTERM)
        real(staged, directory, names[2:], moved)

    monkeypatch.setattr(sim.run, "publish", publish_two_then_signal)
    with pytest.raises(RunInterrupted):
        run_simulation(tiny("plots=false"), tmp_path, progress=False)
    assert assert_nothing_looks_complete(tmp_path)["status"] == "interrupted"


def test_signal_turned_into_another_error_is_still_an_interruption(tmp_path, monkeypatch):
    """A library that catches the SIGTERM and raises ValueError instead (as a plotting backend
    did) does not make the run 'failed' with an unrelated error: it is 'interrupted by SIGTERM'.
    """
    real = sim.run.write_tables

    def swallowing(tables, out_dir):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            real(tables, out_dir)
        except BaseException as exc:
            raise ValueError("I/O operation on closed file") from exc

    monkeypatch.setattr(sim.run, "write_tables", swallowing)
    with pytest.raises(ValueError):
        run_simulation(tiny("plots=false"), tmp_path, progress=False)
    result = assert_nothing_looks_complete(tmp_path)
    assert (result["status"], result["error"]) == ("interrupted", "interrupted by SIGTERM")


def test_failing_final_write_leaves_no_table(tmp_path, monkeypatch):
    """If the 'complete' record cannot be written (disk full at the very end), the published
    tables are taken back and result.json says 'failed' with the cause.
    """
    real = sim.run.write_json

    def full_at_the_end(obj, path):
        if obj.get("status") == "complete":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(obj, path)

    monkeypatch.setattr(sim.run, "write_json", full_at_the_end)
    with pytest.raises(OSError, match="No space left"):
        run_simulation(tiny("plots=false"), tmp_path, progress=False)
    result = assert_nothing_looks_complete(tmp_path)
    assert result["status"] == "failed" and "No space left on device" in result["error"]


def test_an_earlier_runs_files_never_pass_for_this_runs(tmp_path, monkeypatch):
    """A complete earlier run (tables, figures, result.json) in the same directory is cleared
    when a new run starts; the new run's failure leaves only its own 'failed' record.
    """
    first = run_simulation(tiny("plots=true"), tmp_path, progress=False)
    assert first["status"] == "complete" and set(FIGURES) <= set(first["files"])

    def broken(cfg, progress=False, on_month=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(sim.run, "simulate", broken)
    with pytest.raises(RuntimeError):
        run_simulation(tiny("seed=1"), tmp_path, progress=False)
    result = assert_nothing_looks_complete(tmp_path)
    assert result["status"] == "failed" and result["seed"] == 1


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_path_in_the_way_is_refused_before_any_work(tmp_path, monkeypatch, kind):
    """A directory or a link where a table will be written is named, before the simulation
    runs, and the run is recorded 'failed' with that line.
    """
    target = tmp_path / "lenders_yearly.csv"
    if kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "elsewhere.csv")
    monkeypatch.setattr(sim.run, "simulate", lambda *a, **k: pytest.fail("simulated"))
    what = "a directory" if kind == "directory" else "a symbolic link"
    with pytest.raises(OutputPathError, match=f"{target}: {what}"):
        run_simulation(tiny(), tmp_path, progress=False)
    result = assert_nothing_looks_complete(tmp_path)
    assert result["status"] == "failed" and str(target) in result["error"]


def test_disappearing_output_directory_ends_with_one_line(tmp_path, monkeypatch, capsys):
    """The run directory removed while the model runs: the command line's runner ends with one
    line naming a path under it and 'no such file or directory', exit code 1.
    """
    from sim import cli

    out = tmp_path / "run"
    real = sim.run.simulate

    def vanish(cfg, progress=False, on_month=None):
        tables = real(cfg, progress)
        shutil.rmtree(out)
        return tables

    monkeypatch.setattr(sim.run, "simulate", vanish)
    with pytest.raises(SystemExit) as stop:
        cli._run_single(tiny("plots=false"), out)
    assert stop.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}"), lines
    assert "no such file or directory" in lines[0]
    assert not out.exists()


def test_result_names_its_process(tmp_path):
    """result.json records the pid and host of the run, and a finished process counts as dead
    (so a stale 'running' is recognisable).
    """
    result = run_simulation(tiny("plots=false"), tmp_path, progress=False)
    assert (result["pid"], result["host"]) == (os.getpid(), socket.gethostname())
    assert process_alive(os.getpid(), socket.gethostname()) is True
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert process_alive(int(done.stdout), socket.gethostname()) is False
    assert process_alive(os.getpid(), "another-host") is None


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *TINY, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "CI": "1", "PYTHONPATH": str(ROOT)},
    )


def assert_one_error_line(proc: subprocess.CompletedProcess, path: Path, cause: str) -> None:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}") and cause in lines[0].lower(), lines


def _mount_tmpfs(where: Path, *options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    opts = ",".join(options)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def test_full_disk_ends_with_one_line(tmp_path):
    """A run into a full tmpfs (room for Hydra's files, not for the tables) exits 1 with one line
    naming the path and 'no space left', no traceback, and no file that looks complete.
    """
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "size=96k"):
        pytest.skip("mounting a tmpfs needs root (mount -t tmpfs)")
    try:
        out = mnt / "run"
        proc = run_cli("market.end=2030-12", "plots=false", f"hydra.run.dir={out}")
        assert_one_error_line(proc, mnt, "no space left on device")
        if (out / "result.json").exists():
            assert assert_nothing_looks_complete(out)["status"] == "failed"
        assert not [p for p in out.iterdir() if p.suffix in (".csv", ".png")]
        assert not list(out.glob(".*.tmp")) and not list(out.glob(".staging-*"))
    finally:
        _umount(mnt)


def test_read_only_output_directory_ends_with_one_line(tmp_path):
    """A read-only output directory is named before Hydra starts, exit 1, nothing written."""
    ro = tmp_path / "ro"
    mounted = _mount_tmpfs(ro, "ro", "size=64k")
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root ignores permissions and tmpfs cannot be mounted here")
        ro.mkdir(exist_ok=True)
        ro.chmod(0o555)
    try:
        proc = run_cli(f"hydra.run.dir={ro / 'run'}")
        assert_one_error_line(proc, ro, "read-only")
        assert not (ro / "run").exists()
    finally:
        if mounted:
            _umount(ro)
        else:
            ro.chmod(0o755)


def test_directory_in_the_way_ends_with_one_line(tmp_path):
    """A directory standing where a table goes: exit 1, one line naming it, result.json failed."""
    out = tmp_path / "run"
    (out / "market_yearly.csv").mkdir(parents=True)
    proc = run_cli("plots=false", f"hydra.run.dir={out}")
    assert_one_error_line(proc, out / "market_yearly.csv", "a directory stands")
    assert assert_nothing_looks_complete(out)["status"] == "failed"


def test_file_where_the_run_directory_goes(tmp_path):
    """A file standing where the run directory goes is named before Hydra starts, exit 1."""
    out = tmp_path / "run"
    out.write_text("not a directory")
    proc = run_cli(f"hydra.run.dir={out}")
    assert_one_error_line(proc, out, "not a directory")


def test_tables_and_figures_written_are_the_known_names(tmp_path):
    """Every file a run writes is one the next run knows to clear (tables and figures)."""
    result = run_simulation(tiny("plots=true"), tmp_path, progress=False)
    assert set(result["files"]) == set(TABLES) | set(FIGURES)


def test_refused_sweep_job_clears_an_earlier_configs_tables(tmp_path):
    """A sweep job refused in a directory holding another config's complete run removes that
    run's tables with its record, so its own 'failed' record stands alone.
    """
    from sim.cli import run_sweep_job
    from sim.validation import compose_dictconfig

    assert run_simulation(tiny(), tmp_path, progress=False)["status"] == "complete"
    bad = compose_dictconfig(*TINY, "plots=false", "regulation.rate_cap_apr=-1")
    assert run_sweep_job(bad, tmp_path) is None
    result = assert_nothing_looks_complete(tmp_path)
    assert result["status"] == "failed" and "regulation.rate_cap_apr" in result["error"]


def test_code_identity_changes_with_any_source_line(tmp_path):
    """The code identity hashes every source file of sim/ and agents/: one changed byte in any
    of them (here a copy of the package) gives another identity, the same bytes the same one.
    """
    from sim.output.identity import ROOT as SOURCE_ROOT
    from sim.output.identity import source_hash

    for package in ("sim", "agents"):
        shutil.copytree(SOURCE_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    assert source_hash(tmp_path) == source_hash(SOURCE_ROOT)
    target = tmp_path / "agents" / "lenders.py"
    target.write_text(target.read_text() + "\n# one more line\n")
    assert source_hash(tmp_path) != source_hash(SOURCE_ROOT)
