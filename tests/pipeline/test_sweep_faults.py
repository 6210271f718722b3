"""Faults that hit a sweep: resume verifies, aggregation fails loudly, one sweep per directory,
and a signal to a parallel sweep stops its workers.

One sweep (rate cap 0.2 and 0.3, seeds 0 and 1: four jobs of 500,000 borrowers over
2024-2026, about half a second each) runs once uninterrupted with the basic launcher. Every
fault below is applied to a copy of it (or to a fresh parallel run of it), the sweep is
resumed, and its tables must equal the uninterrupted sweep's byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from omegaconf import OmegaConf

from sim.output.files import mismatched

ROOT = Path(__file__).resolve().parents[2]
SWEEP = (
    "sweep=rate_cap",
    "market.n_borrowers=500000",
    "market.end=2026-12",
    "regulation.rate_cap_apr=0.2,0.3",
    "seed=0,1",
    "hydra.callbacks.sweep_aggregate.compare=false",
)
AGGREGATES = ("sweep_yearly.csv", "sweep_yearly.parquet", "sweep_lenders.parquet",
              "sweep_jobs.csv", "failed.csv")
JOB_TABLES = ("market_monthly.csv", "market_yearly.csv", "lenders_yearly.csv", "types_yearly.csv")
ENV = {**os.environ, "CI": "1", "PYTHONPATH": str(ROOT)}


def command(sweep_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sim", *SWEEP, f"hydra.sweep.dir={sweep_dir}", *extra]


def run_sweep(sweep_dir: Path, *extra: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(command(sweep_dir, *extra), cwd=ROOT, capture_output=True, text=True,
                          env=ENV, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sweep, run once without any fault."""
    sweep_dir = tmp_path_factory.mktemp("reference") / "sweep"
    run_sweep(sweep_dir)
    return sweep_dir


def assert_same_tables(resumed: Path, reference: Path) -> None:
    """Every aggregate and every job's table is byte-identical to the reference's."""
    for name in AGGREGATES:
        assert (resumed / name).read_bytes() == (reference / name).read_bytes(), name
    for job in range(4):
        for name in JOB_TABLES:
            assert (resumed / str(job) / name).read_bytes() == (
                reference / str(job) / name
            ).read_bytes(), (job, name)


def assert_no_job_looks_complete_wrongly(sweep_dir: Path) -> list[str]:
    """Each job directory holds tables only if its record is complete with matching checksums;
    returns the statuses.
    """
    statuses = []
    for job in sorted(p for p in sweep_dir.iterdir() if p.name.isdigit()):
        tables = [p.name for p in job.glob("*.csv")]
        if not (job / "result.json").exists():  # created by the launcher, never started
            assert tables == [], job
            statuses.append("missing")
            continue
        result = json.loads((job / "result.json").read_text())
        statuses.append(result["status"])
        if result["status"] == "complete":
            assert mismatched(job, result["checksums"]) == [], job
        else:
            assert tables == [], (job, result["status"], tables)
        assert not list(job.glob(".staging-*")) and not list(job.glob(".*.tmp")), job
    return statuses


def ran_and_skipped(proc: subprocess.CompletedProcess) -> tuple[list[int], list[int]]:
    log = proc.stdout + proc.stderr
    ran = sorted(int(line.rsplit("/", 1)[-1]) for line in log.splitlines()
                 if "Running scenario" in line)
    skipped = sorted(int(line.split("skipping ", 1)[1].split(":")[0].rsplit("/", 1)[-1])
                     for line in log.splitlines() if "skipping " in line)
    return ran, skipped


def test_resume_reruns_damaged_and_changed_jobs(reference, tmp_path):
    """A truncated table (job 0), a 0-byte table (job 1) and a result made by other code (job 2)
    are rerun; the intact job 3 is skipped; a stale lock left by a killed sweep is taken over;
    the resumed tables equal the uninterrupted sweep's byte for byte.
    """
    copy = tmp_path / "sweep"
    shutil.copytree(reference, copy)
    yearly = copy / "0" / "market_yearly.csv"
    yearly.write_text("".join(yearly.read_text().splitlines(keepends=True)[:-1]))
    (copy / "1" / "lenders_yearly.csv").write_bytes(b"")
    record = json.loads((copy / "2" / "result.json").read_text())
    record["code"] = "0.0.9+0123456789abcdef"
    (copy / "2" / "result.json").write_text(json.dumps(record))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (copy / ".sweep.owner.json").write_text(json.dumps(
        {"pid": int(dead.stdout), "host": os.uname().nodename, "started_at": "earlier"}))
    proc = run_sweep(copy)
    assert ran_and_skipped(proc) == ([0, 1, 2], [3])
    assert "took over" in proc.stdout + proc.stderr
    assert_same_tables(copy, reference)


def test_aggregation_error_fails_the_sweep_and_leaves_no_stale_aggregate(reference, tmp_path):
    """A directory standing where an aggregate file goes makes aggregation fail: the sweep exits
    1 with one error line, every old aggregate is gone and no new one stands beside it; once the
    obstacle is removed, a resume writes the reference's tables.
    """
    copy = tmp_path / "sweep"
    shutil.copytree(reference, copy)
    (copy / "sweep_jobs.csv").unlink()
    (copy / "sweep_jobs.csv").mkdir()
    proc = run_sweep(copy, ok=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "aggregating" in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not [n for n in AGGREGATES if (copy / n).is_file()]
    assert not list(copy.glob(".staging-*"))
    (copy / "sweep_jobs.csv").rmdir()
    assert ran_and_skipped(run_sweep(copy)) == ([], [0, 1, 2, 3])
    assert_same_tables(copy, reference)


def test_aggregation_error_in_the_callback_exits_non_zero(reference, tmp_path, monkeypatch,
                                                          capsys):
    """An exception raised inside aggregation (here by the comparison) is not left to Hydra's
    warning: the callback exits 1 with one line and removes the aggregates it had replaced.
    """
    import scenarios.sweep.compare
    from scenarios.sweep.callback import SweepAggregator

    copy = tmp_path / "sweep"
    shutil.copytree(reference, copy)

    def broken(*args, **kwargs):
        raise RuntimeError("comparison broke")

    monkeypatch.setattr(scenarios.sweep.compare, "compare", broken)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(copy)}, "sweeper": {}}})
    with pytest.raises(SystemExit) as stop:
        SweepAggregator(compare=True).on_multirun_end(config)
    assert stop.value.code == 1
    assert "comparison broke" in capsys.readouterr().err
    assert not [n for n in AGGREGATES if (copy / n).exists()]


def test_second_sweep_into_a_running_sweeps_directory_is_refused(reference, tmp_path):
    """While a sweep runs in a directory, a second one started there exits 3 at once naming the
    first one's pid, and touches nothing; the first finishes with the reference's tables.
    """
    copy = tmp_path / "sweep"
    shutil.copytree(reference, copy)
    for job in ("0", "1"):
        (copy / job / "result.json").unlink()
    first = subprocess.Popen(command(copy), cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        owner = copy / ".sweep.owner.json"
        deadline = time.monotonic() + 60
        while not (owner.exists() and json.loads(owner.read_text() or "{}").get("pid")
                   == first.pid):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)  # hold the first sweep while the second tries
        try:
            multirun = (copy / "multirun.yaml").stat().st_mtime_ns
            started = time.monotonic()
            second = run_sweep(copy, ok=False)
            assert time.monotonic() - started < 20
            assert (copy / "multirun.yaml").stat().st_mtime_ns == multirun
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 3, second.stderr[-2000:]
        assert f"pid {first.pid}" in second.stderr and "another sweep" in second.stderr
        assert "Running scenario" not in second.stdout + second.stderr
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err[-3000:]
    assert_same_tables(copy, reference)



def _default_sigint() -> None:
    """In the child: SIGINT as in an interactive shell (a background shell ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_a_joblib_sweep_stops_its_workers(reference, tmp_path, signum):
    """SIGTERM (or Ctrl-C's SIGINT) to a joblib sweep while jobs run: it exits 143 (130) within
    seconds, no worker process survives, the running jobs say 'interrupted', no job shows
    tables it did not finish, no aggregate is written; resuming (after SIGTERM) gives the
    uninterrupted sweep's tables byte for byte.
    """
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.Popen(
        command(sweep_dir, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint,  # Ctrl-C reaches it even when the suite runs in the background
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            running = []
            for path in sweep_dir.glob("*/result.json"):
                try:
                    result = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue
                if result.get("status") == "running":
                    running.append(result["pid"])
            if running:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no job started"
            time.sleep(0.02)
        workers = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        assert set(running) <= workers
        stopped_at = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, err[-2000:]
    assert time.monotonic() - stopped_at < 30
    assert not [pid for pid in workers if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    statuses = assert_no_job_looks_complete_wrongly(sweep_dir)
    assert "interrupted" in statuses and "running" not in statuses, statuses
    assert not [n for n in AGGREGATES if (sweep_dir / n).exists()]
    if signum == signal.SIGTERM:  # resuming after either signal is the same; once is enough
        run_sweep(sweep_dir)
        assert_same_tables(sweep_dir, reference)
