"""Scenario discovery and designs on constructed data: PRIM finds a planted box, feature
scores rank the inputs that matter, designs are reproducible and stratified, bad input is
refused before any run.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ema_workbench")
pytest.importorskip("SALib")

from scenarios import discover as cli
from scenarios.design import check_parameters, latin, parse_parameter, row_config, saltelli
from scenarios.discovery import best_box, box_text, feature_scores, prim_boxes
from scenarios.parameters import Parameter


def planted() -> tuple[pd.DataFrame, np.ndarray]:
    """A 40 x 40 grid over (a, b) in (0, 1) and an unrelated noise input c; the outcome
    holds exactly in the box a < 0.3 and b > 0.6 (12 x 16 = 192 of 1,600 points).
    """
    g = (np.arange(40) + 0.5) / 40
    a, b = np.meshgrid(g, g)
    c = np.random.default_rng(7).uniform(size=a.size)
    x = pd.DataFrame({"a": a.ravel(), "b": b.ravel(), "c": c})
    return x, ((x["a"] < 0.3) & (x["b"] > 0.6)).to_numpy()


def test_prim_finds_the_planted_box():
    """The reported box restricts a from above and b from below, near 0.3 and 0.6 (within one
    grid step of 1/40), leaves c alone, and holds only and all of the 192 cases.
    """
    x, hit = planted()
    trajectory, limits = prim_boxes(x, hit)
    chosen = best_box(trajectory)
    row = trajectory.set_index("box").loc[chosen]
    assert row["density"] == 1.0 and row["coverage"] == 1.0 and row["k"] == 192
    box = limits[limits["box"] == chosen].set_index("parameter")
    assert sorted(box.index) == ["a", "b"]
    assert box.loc["a", "max_restricted"] and not box.loc["a", "min_restricted"]
    assert box.loc["b", "min_restricted"] and not box.loc["b", "max_restricted"]
    assert abs(box.loc["a", "max"] - 0.3) <= 1 / 40 and abs(box.loc["b", "min"] - 0.6) <= 1 / 40
    assert box_text(limits, chosen).startswith("A <= ") and " and B >= " in box_text(limits, chosen)
    assert box_text(limits, 0) == "no restriction"


def test_prim_needs_both_outcomes():
    """Every run or none with the outcome: no box to find, said in the error."""
    x, hit = planted()
    for y in (np.zeros_like(hit), np.ones_like(hit)):
        with pytest.raises(ValueError, match="runs with and without"):
            prim_boxes(x, y)


def test_best_box_is_the_densest_with_enough_coverage():
    """Box 2 is denser but covers 40 %; box 1 (density 0.6, coverage 0.7) is chosen at 50 %."""
    trajectory = pd.DataFrame(
        {
            "box": [0, 1, 2],
            "coverage": [1.0, 0.7, 0.4],
            "density": [0.1, 0.6, 0.9],
            "res_dim": [0, 1, 2],
        }
    )
    assert best_box(trajectory, 0.5) == 1
    assert best_box(trajectory, 0.3) == 2 and best_box(trajectory, 1.0) == 0


def test_feature_scores_rank_the_inputs_that_matter_above_noise():
    """Inputs a and b decide the outcome and a alone the metric; noise c ranks last for both."""
    x, hit = planted()
    scores = feature_scores(x, hit, x["a"].to_numpy() * 3, seed=0, metric="m").set_index(
        "parameter"
    )
    assert scores["outcome"].idxmin() == "c" and scores["m"].idxmax() == "a"
    assert scores["outcome"].sum() == pytest.approx(1.0)


def test_latin_design_is_reproducible_and_has_one_row_in_each_stratum():
    """Same seed, same rows; each range cut in n equal strata holds exactly one row of n."""
    params = [Parameter("a", 0.0, 1.0), Parameter("b", 10.0, 20.0)]
    x = latin(params, 16, seed=3)
    assert np.array_equal(x, latin(params, 16, seed=3)) and x.shape == (16, 2)
    for j, p in enumerate(params):
        strata = np.floor((x[:, j] - p.low) / (p.high - p.low) * 16).astype(int)
        assert sorted(strata) == list(range(16))


def test_saltelli_design_has_n_times_d_plus_two_rows_within_bounds():
    """First-order and total indices need N (D + 2) rows: 8 x 4 = 32 for two inputs."""
    params = [Parameter("a", 0.0, 1.0), Parameter("b", -1.0, 1.0)]
    x = saltelli(params, 8, seed=0)
    assert x.shape == (32, 2)
    assert (x[:, 0] >= 0).all() and (x[:, 0] <= 1).all() and (x[:, 1] >= -1).all()


def test_factor_syntax_errors_name_the_argument():
    """A malformed --lever names --lever and the text; LOW >= HIGH is refused."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"--lever 'rate:1'"):
        parse_parameter("rate:1", "--lever")
    with pytest.raises(argparse.ArgumentTypeError, match="LOW must be below HIGH"):
        parse_parameter("regulation.rate_cap_apr:0.3:0.1", "--uncertainty")
    assert row_config([Parameter("market.default_cycle.2030", 1, 2)], [1.5]) == {
        "market": {"default_cycle": {2030: 1.5}}
    }


def test_unknown_keys_and_refused_ranges_are_reported_before_any_run():
    """An unknown key is named; a string-valued key cannot vary; a rate cap of 5 (500 %) breaks
    a validation rule; a year of the default cycle is a known key.
    """
    with pytest.raises(ValueError, match=r"unknown config key 'regulation\.rate_capx'"):
        check_parameters([Parameter("regulation.rate_capx", 0.1, 0.2)])
    with pytest.raises(ValueError, match="not a number"):
        check_parameters([Parameter("market.start", 0, 1)])
    with pytest.raises(ValueError, match="high end"):
        check_parameters([Parameter("regulation.rate_cap_apr", 0.1, 5.0)])
    check_parameters([Parameter("market.default_cycle.2030", 0.8, 1.5)])


def test_command_line_refuses_bad_input_before_work(tmp_path, capsys):
    """Unknown target metric (known ones listed), bad --lever, no inputs: exit 2, no files."""
    cases = [
        (["--lever", "regulation.rate_cap_apr:0.1:0.3", "--target", "hhx>1"], "known: hhi"),
        (["--lever", "rate_cap", "--target", "hhi>1800"], "--lever 'rate_cap'"),
        (["--target", "hhi>1800"], "give --lever"),
        (["--lever", "regulation.nope:0:1", "--target", "hhi>1", "--out", str(tmp_path / "o")],
         "unknown config key 'regulation.nope'"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_dimensional_stacking_is_reproducible_and_leaves_the_style_alone(tmp_path):
    """The same seed draws the same PNG bytes twice; matplotlib's settings are as before."""
    import matplotlib

    x, hit = planted()
    before = dict(matplotlib.rcParams)
    first = cli.plot_stacking(x, hit, tmp_path / "a.png", "caption", seed=1).read_bytes()
    second = cli.plot_stacking(x, hit, tmp_path / "b.png", "caption", seed=1).read_bytes()
    assert first == second and len(first) > 0
    assert dict(matplotlib.rcParams) == before


def test_discovery_summary_states_share_box_density_and_coverage_in_words():
    """3 of 10 runs with the outcome: 30 % with the Wilson interval 10.8 %-60.3 % (written
    11%-60%); the chosen box holds 4 runs, 3 with the outcome: density 75 %, coverage 100 %,
    and a warning that 4 runs is thin; limits read in the registry's words.
    """
    from scenarios.discovery import discovery_markdown
    from scenarios.sweep.threshold import parse_threshold

    outcomes = pd.DataFrame({"regulation.rate_cap_apr": np.linspace(0.1, 0.36, 10), "seed": 0,
                             "value": 0.0, "hit": [True] * 3 + [False] * 7})
    trajectory = pd.DataFrame({"box": [0, 1], "coverage": [1.0, 1.0], "density": [0.3, 0.75],
                               "mass": [1.0, 0.4], "n": [10, 4], "k": [3, 3], "res_dim": [0, 1]})
    limits = pd.DataFrame({"box": [1], "parameter": ["regulation.rate_cap_apr"], "min": [0.1],
                           "max": [0.15], "min_restricted": [False], "max_restricted": [True],
                           "qp_low": [np.nan], "qp_high": [0.01]})
    scores = pd.DataFrame({"parameter": ["regulation.rate_cap_apr"], "outcome": [1.0],
                           "hhi": [1.0]})
    text = discovery_markdown(parse_threshold("hhi>1800"), 2030, False, outcomes, trajectory,
                              limits, 1, scores, ["regulation.rate_cap_apr"], [0],
                              roles={"regulation.rate_cap_apr": "lever"})
    assert "HHI exceeds 1,800 in 2030 in 30% of 10 runs (95 % Wilson interval 11%-60%)" in text
    assert "**Rate cap (APR) <= 15%**, raises that to 75% (3 of 4 runs in the box)" in text
    assert "at 100% coverage" in text and "Only 4 runs are in the box" in text
    assert "levers: Rate cap (APR)" in text
