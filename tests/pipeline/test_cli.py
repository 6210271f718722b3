"""The command line, end to end: files, determinism, and refusal of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.output.tables import TABLE_NAMES

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m sim ARGS`` as a user would."""
    env = {**os.environ, "CI": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_default_run_writes_tables_plots_and_result(tmp_path):
    """A whole default run at small scale leaves every table, plot and a complete result.json,
    with market_yearly rows 2024-2030 whose HHI matches the lenders' shares.
    """
    out = tmp_path / "run"
    proc = run_cli("market.n_borrowers=5000", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    for name in (
        "market_monthly.csv",
        "market_yearly.csv",
        "lenders_yearly.csv",
        "types_yearly.csv",
        "concentration.png",
        "type_shares.png",
        "online_share_rate.png",
        "result.json",
    ):
        assert (out / name).stat().st_size > 0, name
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "complete" and result["seed"] == 0
    yearly = pd.read_csv(out / "market_yearly.csv")
    assert yearly["year"].tolist() == list(range(2024, 2031))
    lenders = pd.read_csv(out / "lenders_yearly.csv")
    hhi = lenders.assign(sq=lenders["share"] ** 2).groupby("year")["sq"].sum() * 10_000
    assert np.allclose(yearly.set_index("year")["hhi"], hhi, rtol=1e-9)
    required = [
        "year",
        "hhi",
        "cr4",
        "cr5",
        "online_share",
        "avg_rate",
        "npl_ratio",
        "lending",
        "outstanding",
        "n_active",
        "entries",
        "exits",
        "share_bank",
        "share_credit_cooperative",
        "share_online_platform",
        "share_policy_lender",
    ]
    assert set(required) <= set(yearly.columns)
    lender_cols = [
        "year",
        "lender_id",
        "lender_type",
        "outstanding",
        "new_lending",
        "share",
        "rate",
        "npl_ratio",
        "capital_ratio",
        "active",
    ]
    assert set(lender_cols) <= set(lenders.columns)


def test_bad_rate_cap_is_refused_with_one_line(tmp_path):
    """regulation.rate_cap_apr=-1 exits non-zero, names the key and the allowed range on one
    line, and writes no table.
    """
    out = tmp_path / "bad"
    proc = run_cli("regulation.rate_cap_apr=-1", f"hydra.run.dir={out}")
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "regulation.rate_cap_apr" in line]
    assert len(lines) == 1 and "(0, 1]" in lines[0], proc.stderr
    assert not list(out.glob("*.csv")) and not (out / "result.json").exists()


def test_same_seed_gives_byte_identical_tables(tmp_path):
    """Two runs of the same config and seed write byte-identical tables (CSV and Parquet, the
    levers in force included); another seed differs.
    """
    outs = [tmp_path / name for name in ("a", "b", "c")]
    seeds = ["seed=5", "seed=5", "seed=6"]
    for out, seed in zip(outs, seeds, strict=True):
        proc = run_cli("market.n_borrowers=3000", "plots=false", seed, f"hydra.run.dir={out}")
        assert proc.returncode == 0, proc.stderr
    names = [f"{t}.{k}" for t in TABLE_NAMES for k in ("csv", "parquet")]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert (outs[0] / "market_yearly.csv").read_bytes() != (
        outs[2] / "market_yearly.csv"
    ).read_bytes()


def console_script(name: str) -> str:
    """The installed console script ``name`` beside this interpreter."""
    return str(Path(sys.executable).parent / name)


def test_lendsim_is_the_same_app_as_python_m_sim(tmp_path):
    """``lendsim ARGS`` and ``python -m sim ARGS`` write byte-identical tables, from any cwd."""
    args = ("scenario=tightening", "market.n_borrowers=2000", "market.end=2025-06", "plots=false")
    env = {**os.environ, "CI": "1"}
    proc = subprocess.run(
        [console_script("lendsim"), *args, f"hydra.run.dir={tmp_path / 'script'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert run_cli(*args, f"hydra.run.dir={tmp_path / 'module'}").returncode == 0
    for name in ("market_yearly.csv", "lenders_yearly.csv"):
        script, module = tmp_path / "script" / name, tmp_path / "module" / name
        assert script.read_bytes() == module.read_bytes()


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("lendsim", "lendsim: agent-based simulator"),
        ("lendsim-compare", "usage:"),
        ("lendsim-calibrate", "usage:"),
        ("lendsim-sensitivity", "usage:"),
    ],
)
def test_console_scripts_answer_help(script, words):
    """Every console script is installed and prints its help (exit 0)."""
    proc = subprocess.run(
        [console_script(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert words in proc.stdout
