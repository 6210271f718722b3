"""Sweep progress: jobs done out of N with an ETA, a bar on a terminal, log lines otherwise."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from scenarios.sweep import progress
from scenarios.sweep.progress import ProgressMonitor, bar, clock, progress_text

ROOT = Path(__file__).resolve().parents[2]
SWEEP = (
    "regulation.rate_cap_apr=0.12,0.24",
    "seed=0,1",
    "market.n_borrowers=2000",
    "market.end=2025-06",
    "plots=false",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=1",  # one job after another: several progress states to see
    "hydra.callbacks.sweep_aggregate.compare=false",
)


def test_progress_text_by_hand():
    """3 of 20 jobs in 30 s: 10 s a job, 17 left, ETA 170 s = 2:50; all 20 in 200 s: "in 3:20";
    none done yet: no ETA; 7,265 s is 2 h 1 min 5 s.
    """
    assert progress_text(3, 20, 30.0) == "3/20 jobs done, ETA 2:50"
    assert progress_text(20, 20, 200.0) == "20/20 jobs done in 3:20"
    assert progress_text(0, 20, 5.0) == "0/20 jobs done"
    assert progress_text(2, None, 5.0) == "2 jobs done"
    assert clock(7265) == "2:01:05"
    assert bar(5, 20, width=20) == "[" + "#" * 5 + "." * 15 + "]"


def test_monitor_logs_lines_from_the_markers(tmp_path):
    """Off a terminal, the first job done is logged at once with its ETA, the end with its count."""
    stream = io.StringIO()
    (tmp_path / "0.start").touch()
    (tmp_path / "0.done").touch()
    monitor = ProgressMonitor(tmp_path, 4, stream, terminal=False, interval=0.01, log_every=60)
    monitor.start()
    while "jobs done" not in stream.getvalue():
        monitor.join(0.01)
    for name in ("1.start", "1.done", "2.start", "2.done", "3.start", "3.done"):
        (tmp_path / name).touch()
    monitor.stop()
    lines = stream.getvalue().splitlines()
    assert "[sweep] 1/4 jobs done, ETA" in lines[0]
    assert "[sweep] 4/4 jobs done in" in lines[-1] and len(lines) == 2  # 60 s between lines


def test_quiet_in_ci(tmp_path, monkeypatch):
    """With CI set, no monitor thread is started (the markers directory is still made)."""
    monkeypatch.setenv("CI", "1")
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "sweeper": {}}})
    progress.SweepProgress().on_multirun_start(config)
    assert str(tmp_path) not in progress._MONITORS
    assert (tmp_path / progress.MARKERS).is_dir()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_joblib_sweep_on_a_terminal_draws_a_bar(tmp_path):
    """On a terminal (a pseudo-terminal here) a joblib sweep of 4 jobs draws the bar with jobs
    done and an ETA, ends at 4/4, and says when aggregation starts and ends.
    """
    master, slave = pty.openpty()
    args = [sys.executable, "-m", "sim", "-m", *SWEEP, f"hydra.sweep.dir={tmp_path / 's'}"]
    proc = subprocess.Popen(args, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    out = b"".join(chunks).decode(errors="replace")
    assert "Composing 4 jobs" in out
    assert "\r[" in out and "jobs done, ETA" in out
    assert "[" + "#" * 30 + "] 4/4 jobs done in" in out
    assert "Aggregating the jobs" in out and "Sweep done" in out
    assert not (tmp_path / "s" / progress.MARKERS).exists()


def test_joblib_sweep_without_a_terminal_logs_lines(tmp_path):
    """Through pipes the same sweep logs "[sweep] k/4 jobs done, ETA ..." lines and no bar."""
    args = [sys.executable, "-m", "sim", "-m", *SWEEP, f"hydra.sweep.dir={tmp_path / 's'}"]
    proc = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, env=_env(), timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "[sweep]" in line]
    assert lines and "jobs done, ETA" in lines[0]
    assert "4/4 jobs done in" in lines[-1]
    assert "\r" not in proc.stderr
