"""The comparison's report on hand-written runs: every year paired, significance and seeds
needed in the summary, exceedance with Wilson intervals, exits by type, the dose-response
figure, and a heat map that marks non-significant cells.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from scenarios.sweep import compare as cmp
from scenarios.sweep.figures import highlighted
from scenarios.sweep.response_figures import not_significant, plot_heatmap
from scenarios.sweep.stats import wilson_interval
from tests.pipeline.test_compare import runs, write_run  # noqa: F401  (runs is a fixture)


def test_every_year_is_paired_and_the_summary_states_significance(runs, tmp_path):  # noqa: F811
    """Policy 0.12 against 0.24: HHI diffs 1, 2, 3 in 2030 (mean 2, not significant: the
    interval is 2 +/- 4.30 / sqrt 3) and 0, -100, -200 in 2024; seeds needed for 100 HHI
    points from sd 1 is the floor of 2; exceedance of 1,800 is 0 of 3 with the Wilson bound
    z^2 / (3 + z^2) and 1 of 4 (5,000) at the baseline.
    """
    out = tmp_path / "out"
    result = cmp.compare(runs, baseline="rate_cap_apr=0.24", out_dir=out)
    by_year = pd.read_csv(out / "comparison_yearly.csv")
    hhi = by_year[(by_year["metric"] == "hhi") & (by_year["point"] == "rate_cap_apr=0.12")]
    assert hhi["year"].tolist() == [2024, 2030]
    assert hhi["diff_mean"].tolist() == [-100.0, 2.0]
    assert not hhi["significant"].any() and hhi["seeds_needed"].iloc[1] == 2
    exceed = pd.read_csv(out / "exceedance.csv").set_index("point")
    assert exceed.loc["rate_cap_apr=0.12", ["k", "n"]].tolist() == [0, 3]
    assert math.isclose(exceed.loc["rate_cap_apr=0.12", "ci_high"], wilson_interval(0, 3).high)
    assert exceed.loc["rate_cap_apr=0.24", ["k", "n"]].tolist() == [1, 4]
    summary = (out / "summary.md").read_text()
    assert "**HHI**: no point differs significantly from Rate cap 24%" in summary
    assert "about 2 seeds would resolve 100" in summary
    assert "| Rate cap 12% | 3 |" in summary and "n.s." in summary
    assert (out / "dose_response.png").stat().st_size > 0
    assert (out / "dose_response.svg").stat().st_size > 0
    assert "comparison_yearly.csv" in {p.name for p in result["files"]}


def test_exits_by_type_count_lenders_whose_exit_cause_is_set():
    """Two banks exit in 2025 (one failed, one acquired), a platform in 2024; empty causes
    are not exits; a type with no exit counts zero.
    """
    lenders = pd.DataFrame(
        {
            "job": [0] * 5,
            "year": [2024, 2024, 2025, 2025, 2025],
            "lender_type": ["online_platform", "bank", "bank", "bank", "online_platform"],
            "exit_cause": ["failed", np.nan, "failed", "acquired_failing", ""],
        }
    )
    table = cmp.exits_by_type(lenders).set_index("year")
    assert table.loc[2024, ["exits_bank", "exits_online_platform"]].tolist() == [0, 1]
    assert table.loc[2025, ["exits_bank", "exits_online_platform"]].tolist() == [2, 0]
    assert cmp.exits_by_type(pd.DataFrame()).empty


def _grid_table() -> pd.DataFrame:
    """A 2 x 2 grid: baseline (0.24, 1e9); (0.12, 1e9) significant; the others not."""
    rows = []
    for cap in (0.12, 0.24):
        for capital in (1e8, 1e9):
            base = (cap, capital) == (0.24, 1e9)
            rows.append({
                "point": f"{cap},{capital}", "regulation.rate_cap_apr": cap,
                "regulation.online_entry_capital_cny": capital, "metric": "hhi",
                "baseline": base, "significant": (cap, capital) == (0.12, 1e9),
                "mean": 1500.0 + 1000 * (cap == 0.12) + 200 * (capital == 1e8),
                "diff_mean": 0.0 if base else 50.0, "last_year": 2030, "n_seeds": 2,
            })
    return pd.DataFrame(rows)


def test_heat_map_marks_only_non_significant_non_baseline_cells(tmp_path):
    """Rows are entry capital (1e8, 1e9), columns the rate cap (0.12, 0.24): the cell
    (1e9, 0.12) is significant and (1e9, 0.24) is the baseline, so only the 1e8 row is marked;
    the HHI level crosses 1,800 so the contour is drawn; one key gives no heat map.
    """
    table = _grid_table()
    keys = ["regulation.rate_cap_apr", "regulation.online_entry_capital_cny"]
    assert not_significant(table, keys, "hhi").tolist() == [[True, True], [False, False]]
    assert plot_heatmap(table, keys, tmp_path, "caption").stat().st_size > 0
    assert plot_heatmap(table, keys[:1], tmp_path) is None


def test_many_points_keep_baseline_and_extremes_in_colour():
    """With 12 points only the baseline and the lowest and highest in the last year are
    coloured; with 3 points every one is.
    """
    yearly = pd.DataFrame({"point": [f"p{i}" for i in range(12)], "year": 2030,
                           "hhi": [5.0, 1.0, 9.0, *range(20, 29)]})
    order = list(yearly["point"])
    assert highlighted(yearly, "hhi", order, "p0") == ["p0", "p1", "p11"]
    assert highlighted(yearly.iloc[:3], "hhi", order[:3], "p0") == order[:3]


def test_point_labels_in_figures_read_as_words(tmp_path):
    """A one-point-per-directory comparison keeps the raw point name in the table and writes
    the registry's words in the summary.
    """
    run = write_run(tmp_path, 0.24, 0, 1000, 1000)
    overrides = ["regulation.online_entry_capital_cny=2e9", "seed=0"]
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    other = write_run(tmp_path / "b", 0.24, 0, 1000, 1000)
    (other / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump(["regulation.online_entry_capital_cny=1e9", "seed=0"])
    )
    cmp.compare([run, other], out_dir=tmp_path / "out")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Entry capital 2 bn CNY" in summary and "2e+09" not in summary


def test_thresholds_on_the_command_line_and_bad_ones_refused(runs, tmp_path, capsys):  # noqa: F811
    """Two --threshold options give two exceedance blocks (HHI above 1,000: the baseline's 4
    seeds 1,000, 1,100, 1,200, 5,000 give 3 of 4); an unknown metric in --threshold or
    --half-width exits 2 naming the known metrics, before anything is written.
    """
    out = tmp_path / "out"
    argv = [*map(str, runs), "--baseline", "rate_cap_apr=0.24", "--out", str(out)]
    assert cmp.main([*argv, "--threshold", "hhi=1000", "--threshold", "cr5<0.6"]) == 0
    exceed = pd.read_csv(out / "exceedance.csv")
    assert sorted(set(exceed["threshold"])) == ["cr5<0.6", "hhi>1000"]
    base = exceed[(exceed["threshold"] == "hhi>1000") & (exceed["point"] == "rate_cap_apr=0.24")]
    assert base[["k", "n"]].values.tolist() == [[3, 4]]
    for bad in (["--threshold", "hhx>1"], ["--half-width", "nope=3"]):
        with pytest.raises(SystemExit) as exc:
            cmp.main([*argv[:-1], str(tmp_path / "bad"), *bad])
        assert exc.value.code == 2 and "known: hhi" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
