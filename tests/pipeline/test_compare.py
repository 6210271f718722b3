"""Aggregation and comparison on hand-made numbers: bands, paired differences, tables, files.

Nothing here runs the model: run directories are written by hand with known
values, so every expected number below is worked out from those values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scenarios.sweep import compare as cmp
from scenarios.sweep.aggregate import combine
from scenarios.sweep.io import JobRecord, convert, expected_jobs, parameters
from scenarios.sweep.stats import (
    changes,
    missing_seeds,
    paired_difference,
    summarize,
    t_interval,
)


def t_975_df2() -> float:
    """Closed-form Student-t quantile for 2 degrees of freedom at p = 0.975.

    For df = 2 the quantile is (2p - 1) / sqrt(2 p (1 - p)).
    """
    p = 0.975
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def test_paired_difference_of_one_two_three_against_zeros():
    """[1, 2, 3] - [0, 0, 0]: mean 2, sd 1, 95 % interval 2 +/- t(0.975, 2) / sqrt(3)."""
    d = paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    half = t_975_df2() * 1.0 / math.sqrt(3)
    assert d.n == 3 and d.mean == pytest.approx(2.0) and d.sd == pytest.approx(1.0)
    assert d.ci_low == pytest.approx(2.0 - half) and d.ci_high == pytest.approx(2.0 + half)


def test_paired_difference_uses_only_matched_seeds():
    """Seeds only one side has are ignored: pairs on seeds 0 and 2 give diffs 5 and 7."""
    d = paired_difference({0: 6.0, 2: 9.0, 3: 100.0}, {0: 1.0, 1: 50.0, 2: 2.0})
    assert d.n == 2 and d.mean == pytest.approx(6.0)
    # sd of [5, 7] is sqrt(2); t(0.975, 1) = tan(pi * (0.975 - 0.5)) (Cauchy quantile)
    half = math.tan(math.pi * 0.475) * math.sqrt(2) / math.sqrt(2)
    assert d.ci_low == pytest.approx(6.0 - half) and d.ci_high == pytest.approx(6.0 + half)


def test_single_pair_has_no_interval_and_nan_is_dropped():
    """One finite difference gives its mean and nan bounds; nan values are left out."""
    d = t_interval([4.0, float("nan")])
    assert d.n == 1 and d.mean == 4.0 and math.isnan(d.ci_low) and math.isnan(d.ci_high)
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)


def test_band_is_linear_interpolation_between_order_statistics():
    """Values 1..5: mean 3; the 5 % point is 1 + 0.05 * 4 = 1.2 and the 95 % point 4.8."""
    s = summarize([5, 3, 1, 4, 2])
    assert (s.n, s.mean, s.low, s.high) == (5, 3.0, pytest.approx(1.2), pytest.approx(4.8))
    empty = summarize([float("nan")])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_changes_and_missing_seeds():
    """Changes are last - first on common seeds; missing seeds are expected minus present."""
    assert changes({0: 1.0, 1: 2.0}, {0: 4.0, 1: 2.5, 2: 9.0}) == {0: 3.0, 1: 0.5}
    assert missing_seeds([0, 1, 2, 3], [2, 0]) == [1, 3]


def test_expected_jobs_follow_the_basic_sweepers_order():
    """Sweeper params come first, then command-line overrides; the last key varies fastest."""
    jobs = expected_jobs({"a": "1,2", "seed": "range(0,2)"}, ["sweep=x", "b=3"])
    assert jobs == [
        ["a=1", "seed=0", "sweep=x", "b=3"],
        ["a=1", "seed=1", "sweep=x", "b=3"],
        ["a=2", "seed=0", "sweep=x", "b=3"],
        ["a=2", "seed=1", "sweep=x", "b=3"],
    ]
    assert parameters(["+x.y=1", "hydra.verbose=true", "~z", "seed=3"]) == {
        "x.y": "1",
        "z": "",
        "seed": "3",
    }
    assert (convert("0.24"), convert("7"), convert("2025-12"), convert("'a'")) == (
        0.24,
        7,
        "2025-12",
        "a",
    )


def _record(job: int, cap: str, seed: int, status: str = "complete", hhi=None) -> JobRecord:
    yearly = None
    if status == "complete":
        yearly = pd.DataFrame({"year": [2025, 2024], "hhi": hhi})  # rows out of order on purpose
    return JobRecord(
        job=job,
        overrides=[f"regulation.rate_cap_apr={cap}", f"seed={seed}", "sweep=rate_cap"],
        directory=Path(str(job)),
        status=status,
        error="" if status == "complete" else f"{status} error",
        seed=seed,
        scenario="baseline",
        yearly=yearly,
    )


def test_combine_orders_rows_by_job_then_year_and_lists_failures():
    """Records given in any order give rows sorted by job and year, parameters as typed columns,
    and one failed.csv row per job that is not complete.
    """
    records = [
        _record(2, "0.3", 0, hhi=[30.0, 20.0]),
        _record(0, "0.2", 0, hhi=[10.0, 0.0]),
        _record(3, "0.3", 1, status="missing"),
        _record(1, "0.2", 1, status="failed"),
    ]
    tables = combine(records)
    yearly = tables["yearly"]
    assert yearly["job"].tolist() == [0, 0, 2, 2]
    assert yearly["year"].tolist() == [2024, 2025, 2024, 2025]
    assert yearly["hhi"].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert yearly["regulation.rate_cap_apr"].tolist() == [0.2, 0.2, 0.3, 0.3]
    assert list(yearly.columns[:5]) == [
        "job",
        "regulation.rate_cap_apr",
        "sweep",
        "scenario",
        "seed",
    ]
    failed = tables["failed"]
    assert failed["job"].tolist() == [1, 3]
    assert failed["status"].tolist() == ["failed", "missing"]
    assert tables["jobs"]["job"].tolist() == [0, 1, 2, 3]
    assert combine(list(reversed(records)))["yearly"].equals(yearly)


# --- compare on hand-written run directories ----------------------------------------------

TYPES = ("share_bank", "share_credit_cooperative", "share_online_platform", "share_policy_lender")


def write_run(root: Path, cap: float, seed: int, hhi_first: float, hhi_last: float, ok=True):
    """A plain run directory with a two-year market_yearly.csv of known values."""
    run = root / f"cap{cap}_seed{seed}"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"regulation.rate_cap_apr={cap}", f"seed={seed}"])
    )
    result = {"status": "complete" if ok else "failed", "seed": seed, "scenario": "baseline"}
    if not ok:
        result["error"] = "RuntimeError: boom"
    (run / "result.json").write_text(json.dumps(result))
    if ok:
        frame = pd.DataFrame({"year": [2024, 2030]})
        frame["hhi"] = [hhi_first, hhi_last]
        for metric in cmp.METRICS[1:]:
            frame[metric] = [0.5, 0.5]
        for column in TYPES:
            frame[column] = [0.25, 0.25]
        frame.to_csv(run / "market_yearly.csv", index=False)
        frame.iloc[:0].to_csv(run / "lenders_yearly.csv", index=False)
    return run


@pytest.fixture
def runs(tmp_path) -> list[Path]:
    """Baseline 0.24 on seeds 0-3; policy 0.12 on seeds 0-2 (diffs 1, 2, 3); 0.36 failed."""
    dirs = [
        write_run(tmp_path, 0.24, 0, 900, 1000),
        write_run(tmp_path, 0.24, 1, 900, 1100),
        write_run(tmp_path, 0.24, 2, 900, 1200),
        write_run(tmp_path, 0.24, 3, 900, 5000),
        write_run(tmp_path, 0.12, 0, 900, 1001),
        write_run(tmp_path, 0.12, 1, 800, 1102),
        write_run(tmp_path, 0.12, 2, 700, 1203),
        write_run(tmp_path, 0.36, 0, 0, 0, ok=False),
    ]
    return dirs


def test_compare_runs_gives_hand_computed_table_and_files(runs, tmp_path):
    """Compare over plain run directories: last-year mean and band, change from the first year,
    paired difference on matched seeds with its t-interval, missing seeds, and every output.
    """
    out = tmp_path / "out"
    assert cmp.main([*map(str, runs), "--baseline", "rate_cap_apr=0.24", "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv", dtype={"missing_seeds": str})
    hhi = table[table["metric"] == "hhi"].set_index("point")
    policy, base = hhi.loc["rate_cap_apr=0.12"], hhi.loc["rate_cap_apr=0.24"]
    assert policy["mean"] == pytest.approx((1001 + 1102 + 1203) / 3)
    assert policy["p05"] == pytest.approx(1001 + 0.1 * 101)  # position 0.05 * 2 = 0.1
    assert policy["p95"] == pytest.approx(1102 + 0.9 * 101)  # position 0.95 * 2 = 1.9
    assert policy["change_mean"] == pytest.approx((101 + 302 + 503) / 3)
    half = t_975_df2() / math.sqrt(3)  # diffs 1, 2, 3: sd 1
    assert policy["diff_mean"] == pytest.approx(2.0)
    assert (policy["diff_ci_low"], policy["diff_ci_high"]) == (
        pytest.approx(2 - half),
        pytest.approx(2 + half),
    )
    assert policy["n_pairs"] == 3 and policy["missing_seeds"] == "3"
    assert base["mean"] == pytest.approx((1000 + 1100 + 1200 + 5000) / 4)
    assert base["diff_mean"] == 0 and bool(base["baseline"])
    failed = hhi.loc["rate_cap_apr=0.36"]
    assert failed["n_seeds"] == 0 and failed["missing_seeds"] == "0 1 2 3"
    assert np.isnan(failed["mean"])
    cr5 = table[(table["metric"] == "cr5") & (table["point"] == "rate_cap_apr=0.12")].iloc[0]
    assert cr5["mean"] == 0.5 and cr5["diff_mean"] == 0
    for name in ("concentration.png", "type_shares.png", "summary.md"):
        assert (out / name).stat().st_size > 0
    assert not (out / "heatmap.png").exists()  # one swept parameter: no heat map
    summary = (out / "summary.md").read_text()
    assert "rate_cap_apr=0.12: seed 3" in summary and "RuntimeError: boom" in summary


def test_baseline_defaults_to_first_point_and_unknown_baseline_is_refused(runs, tmp_path):
    """Without --baseline the first point is the baseline; a baseline matching no point exits 2."""
    result = cmp.compare(runs, out_dir=tmp_path / "a")
    assert result["baseline"] == "rate_cap_apr=0.24"
    with pytest.raises(SystemExit) as exc:
        cmp.main([*map(str, runs), "--baseline", "regulation.rate_cap_apr=0.5", "--out", "x"])
    assert exc.value.code == 2


def test_two_parameter_points_get_a_heat_map(tmp_path):
    """With two swept numeric parameters the comparison draws heatmap.png."""
    dirs = []
    for cap in (0.12, 0.24):
        for share in (0.1, 0.3):
            run = write_run(tmp_path / f"s{share}", cap, 0, 500, 600 + 1000 * cap + share)
            overrides = [f"regulation.rate_cap_apr={cap}", f"co={share}", "seed=0"]
            (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
            dirs.append(run)
    result = cmp.compare(dirs, out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "heatmap.png").stat().st_size > 0
    assert len(set(result["table"]["point"])) == 4
