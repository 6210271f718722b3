"""The explorer in a real browser: headless Chromium on the page ``lendsim-explore`` serves.

Skipped, with the reason, only where Playwright or a Chromium cannot be found
(``.ci/run`` installs Debian's ``chromium``; Playwright is in the ``dev`` extra).
Screenshots go to each test's tmp directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from explore import form, runner
from scenarios.sweep.compare import compare
from sim import api

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SCALE = "20000"
WAIT_MS = 120_000

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
BROWSER = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason=f"no Chromium found (looked for {', '.join(BROWSERS)})"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m explore`` on a free port, writing into a tmp directory."""
    base = tmp_path_factory.mktemp("explorer")
    out, sweeps = base / "out", base / "sweeps"
    port = free_port()
    log = (base / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "explore", "--port", str(port), "--out", str(out),
         "--sweeps", str(sweeps)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.fail(f"the server stopped: {(base / 'server.log').read_text()}")
        time.sleep(0.2)
    yield {"url": f"http://localhost:{port}", "out": out, "sweeps": sweeps}
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page (its own session) recording every request it makes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.requests = []
    p.on("request", lambda r: p.requests.append(r.url))
    p.goto(server["url"] + "/")
    p.locator(".run-button").wait_for(timeout=WAIT_MS)
    yield p
    context.close()


def local_only(urls: list[str]) -> list[str]:
    """Requests that left the machine."""
    return [u for u in urls if not u.startswith(("http://localhost", "blob:", "data:"))]


def run_dirs(out: Path, cap: str, scale: str = SCALE, baseline: bool = False) -> list[Path]:
    """The run directories the page writes for ``cap`` on seeds 0 and 1 (policy, or baseline)."""
    f = form.Form(values={"regulation.rate_cap_apr": cap}, n_borrowers=scale)
    texts = form.baseline_overrides(f) if baseline else form.overrides(f)
    dirs = []
    for seed in (0, 1):
        cfg, _ = form.check((*texts, f"seed={seed}"))
        dirs.append(runner.RunSpec("policy", seed, (), cfg).directory(out))
    return dirs


def test_a_negative_cap_shows_the_validators_message_and_runs_nothing(page, server, tmp_path):
    """A negative cap gets the message naming regulation.rate_cap_apr beside its control,
    and no run starts (no progress bar, no run directory).
    """
    page.locator(".lever-regulation-rate_cap_apr input").fill("-1")
    page.locator(".run-button").click()
    message = page.locator(".problem-regulation-rate_cap_apr")
    message.wait_for(timeout=WAIT_MS)
    assert "regulation.rate_cap_apr = -1.0: out of range" in message.inner_text()
    page.screenshot(path=str(tmp_path / "refused.png"))
    assert page.locator(".run-progress").count() == 0
    runs = server["out"] / "runs"
    assert not runs.exists() or not list(runs.glob("*_seed*"))
    assert local_only(page.requests) == []


def test_a_cap_runs_two_seeds_with_the_baseline_and_the_charts_follow_it(page, server, tmp_path):
    """The rate cap set on the page runs on two seeds at 20,000 borrowers with the baseline;
    the concentration chart and the comparison show, the table's figure is the seed mean of
    the tables the run wrote, and a second cap updates the chart and the comparison.
    """
    page.locator(".lever-market-n_borrowers input").fill(SCALE)
    cap = page.locator(".lever-regulation-rate_cap_apr input")
    cap.fill("0.18")
    page.locator(".run-button").click()
    table = page.locator(".results-table")
    table.filter(has_text="rate_cap_apr=0.18").wait_for(timeout=WAIT_MS)
    chart = page.locator(".chart-concentration img")
    chart.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "run_018.png"))
    assert "seeds 0, 1" in page.locator(".results-note").inner_text()
    header = table.locator("tr").first.inner_text()
    assert "baseline" in header and "difference" in header
    hhi = [
        pd.read_csv(d / "market_yearly.csv")["hhi"].iloc[-1]
        for d in run_dirs(server["out"], "0.18")
    ]
    shown = table.locator('tr[data-row="hhi"] td').nth(2).inner_text()
    assert shown.startswith(f"{sum(hhi) / len(hhi):,.0f}")
    first_src = chart.get_attribute("src")
    first_rows = table.inner_text()

    cap.fill("0.12")
    page.locator(".run-button").click()
    table.filter(has_text="rate_cap_apr=0.12").wait_for(timeout=WAIT_MS)
    page.locator(".chart-concentration img").wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "run_012.png"))
    assert page.locator(".chart-concentration img").get_attribute("src") != first_src
    assert table.inner_text() != first_rows
    assert all((d / "market_yearly.csv").is_file() for d in run_dirs(server["out"], "0.12"))
    assert local_only(page.requests) == []


def test_the_sweeps_page_shows_a_sweeps_summary_table_and_figures(page, server, tmp_path):
    """A comparison directory under the sweeps root is listed; opening it shows its
    summary.md, its comparison table and its figures.
    """
    points = [("plots=false",), ("plots=false", "regulation.rate_cap_apr=0.18")]
    runs = [
        api.run(*texts, seed=seed, n_borrowers=2000, out_dir=tmp_path / f"{i}_{seed}").out_dir
        for i, texts in enumerate(points)
        for seed in (0, 1)
    ]
    target = server["sweeps"] / "cap"
    compare(runs, out_dir=target)
    page.locator(".nav-sweeps").click()
    page.locator(".sweep-path input").fill(str(target))
    page.locator(".sweep-path input").press("Enter")
    page.locator(".sweep-summary").wait_for(timeout=WAIT_MS)
    assert "Policy comparison" in page.locator(".sweep-summary").inner_text()
    page.locator(".sweep-comparison").wait_for(timeout=WAIT_MS)
    page.locator(".chart-concentration img").wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "sweeps.png"))
    assert local_only(page.requests) == []


def test_cancel_stops_a_running_batch_and_the_page_stays_usable(page, server, tmp_path):
    """While a batch runs the page shows its progress and answers; Cancel stops it between
    months, says so, and Run is offered again; the stopped run left no complete record.
    """
    page.locator(".lever-market-n_borrowers input").fill("400000")
    page.locator(".lever-regulation-rate_cap_apr input").fill("0.2")
    page.locator(".run-button").click()
    page.locator(".run-progress").wait_for(timeout=WAIT_MS)
    borrowers = page.locator(".lever-market-n_borrowers input")
    borrowers.fill("400001")  # the page still answers while the batch runs
    assert borrowers.input_value() == "400001"
    page.locator(".cancel-button").click()
    status = page.locator(".run-status").filter(has_text="Cancelled")
    status.wait_for(timeout=WAIT_MS)
    page.screenshot(path=str(tmp_path / "cancelled.png"))
    assert page.locator(".run-button").is_enabled()
    last = run_dirs(server["out"], "0.2", "400000", baseline=True)[-1] / "result.json"
    assert not last.exists() or '"status": "complete"' not in last.read_text()


def test_a_bad_dated_change_is_refused_beside_its_row(page, server):
    """A dated change added in the timeline editor with a month that does not exist gets the
    validator's message beside that row, and nothing runs.
    """
    page.locator(".timeline-add").click()
    row = page.locator(".timeline-row-0")
    row.wait_for(timeout=WAIT_MS)
    row.locator(".timeline-month input").fill("2027-13")
    row.locator(".timeline-value input").fill("0.1")
    page.locator(".run-button").click()
    message = page.locator(".problem-regulation-timeline")
    message.wait_for(timeout=WAIT_MS)
    assert "regulation.timeline[0].date = '2027-13'" in message.inner_text()
    assert page.locator(".run-progress").count() == 0
