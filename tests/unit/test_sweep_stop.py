"""Stopping a sweep marks the jobs of dead workers and clears what they left half-written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from scenarios.sweep.stop import mark_dead_jobs


def _job(sweep: Path, name: str, pid: int, status: str) -> Path:
    job = sweep / name
    job.mkdir(parents=True)
    record = {"status": status, "pid": pid, "host": socket.gethostname()}
    (job / "result.json").write_text(json.dumps(record))
    (job / ".result.json.0123456789ab.tmp").write_text("{half")
    (job / ".staging-1-abcd").mkdir()
    return job


def test_dead_workers_jobs_are_marked_and_lose_their_leftovers(tmp_path: Path) -> None:
    """A job recorded running by a process that has exited becomes 'interrupted' and loses
    its temporary file and staging directory; one that had already recorded itself
    interrupted loses them too but is not rewritten; a job whose process (this test)
    still runs keeps everything.
    """
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    running = _job(tmp_path, "0", dead_pid, "running")
    stopped = _job(tmp_path, "1", dead_pid, "interrupted")
    alive = _job(tmp_path, "2", os.getpid(), "running")
    assert mark_dead_jobs(tmp_path, "SIGTERM") == [running]
    assert json.loads((running / "result.json").read_text())["status"] == "interrupted"
    for job in (running, stopped):
        assert [p.name for p in job.iterdir()] == ["result.json"]
    assert json.loads((alive / "result.json").read_text())["status"] == "running"
    assert sorted(p.name for p in alive.iterdir()) == [
        ".result.json.0123456789ab.tmp",
        ".staging-1-abcd",
        "result.json",
    ]
