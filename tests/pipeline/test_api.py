"""The Python API: the same tables as the run pipeline, files when asked, errors before work."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal

from sim import api
from sim.output.tables import TABLE_NAMES
from sim.validation import ConfigError
from tests.conftest import run_tables

SMALL = ("plots=false", "market.end=2025-12")


def test_run_in_memory_equals_the_pipeline():
    """api.run(scenario, seed) gives the tables simulate() gives for the same overrides, every
    table by name and as an attribute, and writes nothing.
    """
    result = api.run(*SMALL, scenario="tightening", seed=4, n_borrowers=3000)
    expected = run_tables("scenario=tightening", "seed=4", "market.n_borrowers=3000", *SMALL)
    assert set(result.tables) == set(TABLE_NAMES) == set(expected)
    for name in TABLE_NAMES:
        assert_frame_equal(result[name], expected[name])
        assert getattr(result, name) is result.tables[name]
    assert result.config.scenario_name == "tightening" and result.config.seed == 4
    assert result.out_dir is None and result.paths == {}
    assert [c["month"] for c in result.lever_changes] == ["2025-01"] * 4


def test_run_into_a_directory_writes_the_run(tmp_path):
    """With out_dir, every table is written (CSV and Parquet) and read back unchanged, with
    result.json and the overrides a comparison reads from .hydra/overrides.yaml.
    """
    result = api.run(*SMALL, "seed=2", n_borrowers=3000, out_dir=tmp_path / "run")
    memory = api.run(*SMALL, "seed=2", n_borrowers=3000)
    for name in TABLE_NAMES:
        assert result.paths[f"{name}.csv"].is_file()
        assert_frame_equal(result[name], memory[name], check_dtype=False)
    assert result.paths["result.json"].is_file()
    saved = yaml.safe_load((tmp_path / "run" / ".hydra" / "overrides.yaml").read_text())
    assert saved == result.overrides == ["market.n_borrowers=3000", *SMALL, "seed=2"]
    assert result.config_hash == memory.config_hash


def test_bad_input_is_refused_before_work(tmp_path):
    """A lever out of range raises ConfigError naming the key; no directory is made."""
    with pytest.raises(ConfigError) as caught:
        api.run("regulation.rate_cap_apr=-1", out_dir=tmp_path / "bad")
    assert any("regulation.rate_cap_apr" in line for line in caught.value.problems)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError):
        api.sweep(params={"regulation.rate_cap_apr": [-1, 0.2]}, out_dir=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory) -> api.SweepResult:
    """Two caps on seeds 0 and 1, 2024-2025, compared against the 0.24 point."""
    return api.sweep(
        *SMALL,
        params={"regulation.rate_cap_apr": [0.12, 0.24]},
        seeds=[0, 1],
        n_borrowers=1500,
        out_dir=tmp_path_factory.mktemp("api") / "sweep",
        baseline="regulation.rate_cap_apr=0.24",
    )


def test_sweep_returns_its_tables(small_sweep):
    """Two caps x two seeds: four complete jobs in sweeper order, one yearly row per job and
    year (2024, 2025), the lenders' rows, one monthly row per job and month, and the comparison
    against the named baseline point.
    """
    result = small_sweep
    assert result.jobs["status"].tolist() == ["complete"] * 4
    assert result.jobs["regulation.rate_cap_apr"].tolist() == [0.12, 0.12, 0.24, 0.24]
    assert result.jobs["seed"].tolist() == [0, 1, 0, 1]
    assert result.yearly[["job", "year"]].values.tolist() == [
        [job, year] for job in range(4) for year in (2024, 2025)
    ]
    assert result.comparison is not None and len(result.lenders) > 0
    monthly = result.monthly  # 24 months (2024-01 .. 2025-12) per job, parameters as columns
    assert monthly is not None and len(monthly) == 4 * 24
    assert monthly["job"].tolist() == [job for job in range(4) for _ in range(24)]
    assert monthly["month"].iloc[:2].tolist() == ["2024-01", "2024-02"]
    assert monthly["regulation.rate_cap_apr"].tolist() == [0.12] * 48 + [0.24] * 48


def test_sweep_tables_read_the_same_in_pandas_and_duckdb(small_sweep):
    """The README's two ways of reading a sweep agree: the mean 2025 HHI per cap from
    sweep_yearly.parquet in pandas and in DuckDB, and DuckDB over the jobs' own Parquet files.
    """
    duckdb = pytest.importorskip("duckdb")  # in the notebook extra, which make test installs
    table = small_sweep.sweep_dir / "sweep_yearly.parquet"
    yearly = pd.read_parquet(table)
    by_pandas = yearly[yearly["year"] == 2025].groupby("regulation.rate_cap_apr")["hhi"].mean()
    by_duckdb = duckdb.sql(
        f"""SELECT "regulation.rate_cap_apr" AS cap, avg(hhi) AS hhi FROM '{table}'
            WHERE year = 2025 GROUP BY cap ORDER BY cap"""
    ).df()
    assert by_duckdb["cap"].tolist() == [0.12, 0.24]
    assert by_duckdb["hhi"].to_numpy() == pytest.approx(by_pandas.to_numpy())
    pattern = small_sweep.sweep_dir / "*" / "market_yearly.parquet"
    jobs = duckdb.sql(
        f"SELECT count(*) AS n FROM read_parquet('{pattern}') WHERE year = 2025"
    ).fetchall()[0][0]
    assert jobs == 4
