"""The back-test reads any tidy observed file, refuses bad ones, and scores shapes by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scenarios import backtest
from scenarios.backtest import ObservedDataError, compare, known_metrics, load_observed, scores

KNOWN = known_metrics(["year", "hhi", "avg_rate", "share_bank"])


HEADER = "year,metric,value,unit,source"


def _observed(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    """An observed-data file of ``rows`` under ``header``."""
    path = tmp_path / "observed.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _run(hhi: list[float], bank: list[float], coop: list[float]) -> dict[str, pd.DataFrame]:
    """A run's yearly tables for 2019-2020 with the given HHI and outstanding balances."""
    market = pd.DataFrame({"year": [2019, 2020], "hhi": hhi, "avg_rate": [0.1, 0.09]})
    types = pd.DataFrame(
        {
            "year": [2019, 2019, 2020, 2020],
            "lender_type": ["bank", "credit_cooperative"] * 2,
            "outstanding": [bank[0], coop[0], bank[1], coop[1]],
            "funded": [bank[0], coop[0], bank[1], coop[1]],
            "new_lending": [1.0] * 4,
            "n_active": [3, 5, 3, 4],
            "rate": [0.08, 0.1, 0.07, 0.09],
        }
    )
    return {"market_yearly": market, "types_yearly": types}


RUNS = [
    _run([100.0, 200.0], [10.0, 20.0], [5.0, 5.0]),
    _run([100.0, 300.0], [10.0, 30.0], [5.0, 5.0]),
]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    """A file without ``unit`` and ``source`` is refused naming both and the columns needed."""
    path = _observed(tmp_path, ["2019,hhi,500"], header="year,metric,value")
    with pytest.raises(ObservedDataError, match="missing column\\(s\\) unit, source"):
        load_observed(path, KNOWN)


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    """A non-integer year, a non-numeric value, an unknown metric and a repeat: four problems."""
    path = _observed(
        tmp_path,
        [
            "2019.5,hhi,500,hhi,x",
            "2020,hhi,abc,hhi,x",
            "2020,hhii,1,hhi,x",
            "2021,hhi,1,hhi,x",
            "2021,hhi,2,hhi,x",
        ],
    )
    with pytest.raises(ObservedDataError) as err:
        load_observed(path, KNOWN)
    problems = err.value.problems
    assert any("row 2: year '2019.5'" in p for p in problems)
    assert any("row 3: value 'abc'" in p for p in problems)
    assert any("unknown metric(s) hhii; known: hhi, avg_rate" in p for p in problems)
    assert any("hhi is given more than once for 2021" in p for p in problems)


def test_known_metrics_include_per_type_aggregates_and_sums() -> None:
    """Market columns, ``<aggregate>_<type>`` for every type, and same-unit sums are known."""
    assert {"hhi", "n_active_online_platform", "avg_rate_bank", "funded_policy_lender"} <= set(
        KNOWN
    )
    assert backtest.is_known("outstanding_bank+outstanding_credit_cooperative", KNOWN)
    assert not backtest.is_known("hhi+share_bank", KNOWN)  # units differ


def test_percent_is_read_as_a_fraction(tmp_path: Path) -> None:
    """An observed 6.7 percent becomes 0.067 with unit ``fraction``."""
    frame = load_observed(_observed(tmp_path, ["2019,avg_rate_bank,6.7,percent,x"]), KNOWN)
    assert frame["value"].iloc[0] == pytest.approx(0.067)
    assert frame["unit"].iloc[0] == "fraction"


def test_shape_and_level_scores_by_hand(tmp_path: Path) -> None:
    """HHI observed 1,000 -> 1,500 (ratio 1.5); simulated 100 -> 200 and 100 -> 300.

    Simulated mean ratio 250 / 100 = 2.5, so the shape score is |log(2.5 / 1.5)| =
    0.5108; levels compare (unit hhi): mean |100 - 1,000|, |250 - 1,500| = 1,075;
    the band of ratios is 2 to 3; the 2020 seed sd is 70.71 and 50 points need
    ceil((1.96 x 70.71 / 50)^2) = 8 seeds.
    """
    observed = load_observed(
        _observed(tmp_path, ["2019,hhi,1000,hhi,a", "2020,hhi,1500,hhi,b"]), KNOWN
    )
    table = compare(observed, RUNS)
    row = table[table["year"] == 2020].iloc[0]
    assert row["observed_ratio"] == pytest.approx(1.5)
    assert row["sim_ratio"] == pytest.approx(2.5)
    assert (row["sim_ratio_low"], row["sim_ratio_high"]) == (pytest.approx(2.0), pytest.approx(3.0))
    assert bool(row["levels_comparable"])
    score = scores(table, len(RUNS)).iloc[0]
    assert score["shape_score"] == pytest.approx(math.log(2.5 / 1.5))
    assert score["level_error"] == pytest.approx(1075.0)
    assert score["seed_sd"] == pytest.approx(math.sqrt(5000.0))
    assert score["seeds_needed"] == 8


def test_a_sum_of_type_balances_has_only_a_shape(tmp_path: Path) -> None:
    """Banks + cooperatives 15 -> 25 and 15 -> 35 (mean ratio 2) against 100 -> 150.

    The observed unit (100m CNY) is not the simulated market's CNY: no level error.
    """
    metric = "outstanding_bank+outstanding_credit_cooperative"
    observed = load_observed(
        _observed(tmp_path, [f"2019,{metric},100,100m CNY,a", f"2020,{metric},150,100m CNY,b"]),
        KNOWN,
    )
    score = scores(compare(observed, RUNS), len(RUNS)).iloc[0]
    assert score["shape_score"] == pytest.approx(math.log(2.0 / 1.5))
    assert np.isnan(score["level_error"])


def test_cli_on_existing_runs_writes_the_table_report_and_figure(tmp_path: Path) -> None:
    """``--runs`` reads run directories; backtest.csv, .md and .png are written."""
    for k, run in enumerate(RUNS):
        run_dir = tmp_path / "runs" / f"seed{k}"
        run_dir.mkdir(parents=True)
        for name, frame in run.items():
            frame.to_csv(run_dir / f"{name}.csv", index=False)
    observed = _observed(tmp_path, ["2019,hhi,1000,hhi,a", "2020,hhi,1500,hhi,b"])
    out = tmp_path / "bt"
    argv = ["--runs", str(tmp_path / "runs"), "--observed", str(observed), "--out", str(out)]
    assert backtest.main(argv) == 0
    assert {"backtest.csv", "backtest.md", "backtest.png"} <= {p.name for p in out.iterdir()}
    assert "0.511" in (out / "backtest.md").read_text()


def test_cli_refuses_a_bad_file_before_running(tmp_path: Path, capsys) -> None:
    """An unknown metric exits 2 with the list of known ones, and nothing is simulated."""
    observed = _observed(tmp_path, ["2019,no_such_metric,1,count,x"])
    assert backtest.main(["--observed", str(observed), "--out", str(tmp_path / "bt")]) == 2
    assert "unknown metric(s) no_such_metric; known: hhi" in capsys.readouterr().err
    assert not (tmp_path / "bt").exists()


def test_the_shipped_file_backtests_the_history_scenario(tmp_path: Path) -> None:
    """The project's observed file against two small history runs: every row compared."""
    out = tmp_path / "bt"
    argv = ["--seeds", "2", "--n-borrowers", "5000", "--jobs", "1", "--out", str(out)]
    assert backtest.main(argv) == 0
    table = pd.read_csv(out / "backtest.csv")
    observed = pd.read_csv(backtest.DATA)
    assert len(table) == len(observed)
    assert table["sim_mean"].notna().all()
