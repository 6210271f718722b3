"""A run stopped part-way is marked incomplete; it never leaves tables that look complete.

``result.json`` says ``running`` from the start and ``complete`` only after
every file is written; SIGINT (Ctrl-C) and SIGTERM turn it into
``interrupted`` and the process exits non-zero; an exception turns it into
``failed``. Tables a previous run left in the same directory are removed when
a run starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim.run
from sim.output.tables import TABLES
from sim.run import run_simulation
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]


def _status(out: Path) -> str | None:
    try:
        return json.loads((out / "result.json").read_text())["status"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_killed_cli_run_is_marked_interrupted(tmp_path, signum):
    """``python -m sim`` killed while simulating (a million borrowers: several seconds of work)
    exits non-zero and leaves result.json with status 'interrupted' naming the signal, no table
    and no plot, and the stale table planted before the run is gone.
    """
    out = tmp_path / "run"
    out.mkdir()
    (out / "market_yearly.csv").write_text("year,hhi\n2030,1234\n")  # a previous run's table
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "market.n_borrowers=1000000", f"hydra.run.dir={out}"],
        cwd=ROOT,
        env={**os.environ, "CI": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell that starts a job in the background ignores SIGINT in it, and the
        # child would inherit that: give the run the default handling a terminal gives
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        while _status(out) != "running":
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the simulation
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "interrupted", result
    assert result["error"] == f"interrupted by {signal.Signals(signum).name}"
    assert not list(out.glob("*.csv")) and not list(out.glob("*.png")), list(out.iterdir())
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"


def test_exception_marks_run_failed(tmp_path, monkeypatch):
    """An exception inside the simulation leaves status 'failed' with the error, and no table."""

    def broken(cfg, progress=False, on_month=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(sim.run, "simulate", broken)
    cfg = compose_config("market.n_borrowers=1500", "market.end=2024-06")
    with pytest.raises(RuntimeError):
        run_simulation(cfg, tmp_path, progress=False)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "failed" and result["error"] == "RuntimeError: boom"
    assert not any((tmp_path / name).exists() for name in TABLES)


def test_keyboard_interrupt_in_process_marks_interrupted(tmp_path, monkeypatch):
    """Ctrl-C in run_simulation (KeyboardInterrupt) leaves status 'interrupted' and re-raises."""

    def interrupted(cfg, progress=False, on_month=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.run, "simulate", interrupted)
    cfg = compose_config("market.n_borrowers=1500", "market.end=2024-06")
    with pytest.raises(KeyboardInterrupt):
        run_simulation(cfg, tmp_path, progress=False)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "interrupted" and result["error"] == "interrupted by SIGINT"


def test_sigterm_handler_is_restored(tmp_path):
    """A finished run puts back the SIGTERM handler it found (here Python's default)."""
    before = signal.getsignal(signal.SIGTERM)
    cfg = compose_config("market.n_borrowers=1500", "market.end=2024-06", "plots=false")
    assert run_simulation(cfg, tmp_path, progress=False)["status"] == "complete"
    assert signal.getsignal(signal.SIGTERM) is before
