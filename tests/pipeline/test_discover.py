"""A tiny scenario discovery end to end: a design run as one multirun, every file written,
and a rerun into the same directory that runs nothing and gives the same bytes.
"""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("ema_workbench")
pytest.importorskip("SALib")

from scenarios import discover as cli

FILES = ("design.csv", "factors.csv", "outcomes.csv", "prim_boxes.csv", "prim_tradeoff.png",
         "prim_tradeoff.svg", "feature_scores.csv", "feature_scores.png", "discovery.md")


def test_tiny_discovery_writes_its_files_and_resumes(tmp_path, monkeypatch, capsys):
    """Two levers, a 4-row Latin hypercube on one seed (4 runs of 2,000 borrowers over 2024):
    one outcome per run with the inputs as columns, PRIM's boxes and the scores; the second
    call skips every complete job (their results are untouched) and rewrites identical files.
    """
    monkeypatch.setenv("CI", "1")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "disc"
    argv = [
        "--lever", "regulation.rate_cap_apr:0.10:0.36",
        "--uncertainty", "behaviour.rate_sensitivity:0.25:1.0",
        "--n", "4", "--seeds", "0", "--target", "hhi>1800", "--year", "2024", "--out", str(out),
        "--", "market.n_borrowers=2000", "market.end=2024-12",
    ]
    assert cli.main(argv) == 0
    first = {name: (out / name).read_bytes() for name in FILES}
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert list(outcomes.columns) == [
        "regulation.rate_cap_apr", "behaviour.rate_sensitivity", "seed", "hhi", "hit",
    ]
    assert len(outcomes) == 4 and (outcomes["hit"] == (outcomes["hhi"] > 1800)).all()
    text = (out / "discovery.md").read_text()
    assert "HHI exceeds 1,800 in 2024" in text
    assert "levers: Rate cap (APR); uncertainties: Rate sensitivity" in text
    results = sorted((out / "runs").glob("*/result.json"))
    assert len(results) == 4
    stamps = [p.stat().st_mtime_ns for p in results]
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert [p.stat().st_mtime_ns for p in results] == stamps
    assert {name: (out / name).read_bytes() for name in FILES} == first
