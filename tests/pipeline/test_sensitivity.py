"""Morris and Sobol indices of known functions, design files, and tiny runs end to end."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("SALib")

from scenarios import sensitivity as sens

PARAMS = [sens.Parameter("a", 0.0, 1.0), sens.Parameter("b", 0.0, 10.0)]


def test_linear_function_has_known_indices():
    """For y = 3a + 0.5b, every elementary effect across a whole range is the slope times the
    range: mu = mu* = 3 for a (range 1) and 5 for b (range 10), sigma 0.
    """
    x = sens.design(PARAMS, trajectories=4, levels=4, seed=1)
    assert x.shape == (4 * 3, 2)
    table = sens.morris_indices(PARAMS, x, 3 * x[:, 0] + 0.5 * x[:, 1], levels=4).set_index(
        "parameter"
    )
    assert table.loc["a", "mu_star"] == pytest.approx(3.0)
    assert table.loc["b", "mu_star"] == pytest.approx(5.0)
    assert table.loc["a", "mu"] == pytest.approx(3.0)
    assert table["sigma"].to_numpy() == pytest.approx([0.0, 0.0], abs=1e-9)
    assert (table["n_trajectories"] == 4).all()


def test_failed_row_drops_its_whole_trajectory():
    """A nan output in one row removes that row's trajectory (3 rows here) and no other."""
    y = np.arange(9, dtype=float)
    y[4] = np.nan
    mask = sens.complete_trajectories(y, n_params=2)
    assert mask.tolist() == [True] * 3 + [False] * 3 + [True] * 3
    x = sens.design(PARAMS, trajectories=3, levels=4, seed=0)
    y = -2 * x[:, 0]
    y[4] = np.nan
    table = sens.morris_indices(PARAMS, x, y, levels=4).set_index("parameter")
    assert table.loc["a", "mu"] == pytest.approx(-2.0) and table.loc["a", "mu_star"] == 2.0
    assert (table["n_trajectories"] == 2).all()


def test_design_rows_become_nested_config_options(tmp_path):
    """Each design row is a '# @package _global_' option setting the dotted keys it varies."""
    params = [sens.Parameter("regulation.rate_cap_apr", 0.1, 0.3), sens.Parameter("seedless", 0, 1)]
    names = sens.write_design(params, np.array([[0.2, 1.0], [0.1, 0.0]]), tmp_path)
    assert names == ["row_0000", "row_0001"]
    text = (tmp_path / "design" / "row_0000.yaml").read_text()
    assert text.startswith("# @package _global_")
    assert yaml.safe_load(text) == {"regulation": {"rate_cap_apr": 0.2}, "seedless": 1.0}
    assert sens.parse_parameter("x.y:1:2") == sens.Parameter("x.y", 1.0, 2.0)


TINY_LEVERS = [
    sens.Parameter("regulation.rate_cap_apr", 0.12, 0.36),
    sens.Parameter("behaviour.rate_sensitivity", 0.25, 1.0),
]


def tiny_run(tmp_path, monkeypatch, **options) -> pd.DataFrame:
    """The two levers on seed 0, 2,000 borrowers over 2024, into ``tmp_path / "sens"``."""
    monkeypatch.setenv("CI", "1")
    monkeypatch.chdir(tmp_path)
    return sens.sensitivity(
        parameters=TINY_LEVERS,
        seeds=(0,),
        out_dir=tmp_path / "sens",
        overrides=("market.n_borrowers=2000", "market.end=2024-12"),
        **options,
    )


def test_tiny_morris_run_writes_indices_and_chart(tmp_path, monkeypatch):
    """Two levers, two trajectories (6 runs of 2,000 borrowers over 2024) run as one Hydra
    multirun and give finite mu* and sigma for HHI and the average rate, in a table and a chart.
    """
    table = tiny_run(tmp_path, monkeypatch, outputs=("hhi", "avg_rate"), trajectories=2)
    out = tmp_path / "sens"
    assert os.path.getsize(out / "sensitivity.png") > 0
    saved = pd.read_csv(out / "sensitivity.csv")
    assert saved[["output", "parameter"]].values.tolist() == [
        ["hhi", "regulation.rate_cap_apr"],
        ["hhi", "behaviour.rate_sensitivity"],
        ["avg_rate", "regulation.rate_cap_apr"],
        ["avg_rate", "behaviour.rate_sensitivity"],
    ]
    assert np.isfinite(saved[["mu_star", "sigma"]].to_numpy()).all()
    assert (saved["n_trajectories"] == 2).all() and len(table) == 4
    assert len(pd.read_csv(out / "design.csv")) == 6


def test_sobol_indices_of_an_additive_function_are_its_variance_shares():
    """For y = a + 2b, a and b uniform on (0, 1): Var(a) = 1/12, Var(2b) = 4/12, so first-order
    and total indices are both 0.2 for a and 0.8 for b (no interaction); each interval is finite.
    """
    params = [sens.Parameter("a", 0.0, 1.0), sens.Parameter("b", 0.0, 1.0)]
    x = sens.saltelli(params, 1024, seed=0)
    assert x.shape == (1024 * 4, 2)
    table = sens.sobol_indices(params, x[:, 0] + 2 * x[:, 1]).set_index("parameter")
    assert table["S1"].to_numpy() == pytest.approx([0.2, 0.8], abs=0.02)
    assert table["ST"].to_numpy() == pytest.approx([0.2, 0.8], abs=0.02)
    assert np.isfinite(table[["S1_conf", "ST_conf"]].to_numpy()).all()
    y = x[:, 0].copy()
    y[3] = np.nan
    assert sens.sobol_indices(params, y)["S1"].isna().all()  # a failed row: no estimate


def test_tiny_sobol_run_writes_first_and_total_indices(tmp_path, monkeypatch):
    """Two levers, base sample 2 (2 x 4 = 8 runs of 2,000 borrowers over 2024) run as one
    multirun and give a row per output and parameter with S1, ST and their intervals.
    """
    table = tiny_run(tmp_path, monkeypatch, outputs=("hhi",), method="sobol", n=2)
    out = tmp_path / "sens"
    saved = pd.read_csv(out / "sensitivity.csv")
    assert list(saved.columns) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf",
                                   "n_rows"]
    assert saved["parameter"].tolist() == [p.key for p in TINY_LEVERS] and len(table) == 2
    assert (saved["n_rows"] == 8).all() and len(pd.read_csv(out / "design.csv")) == 8
    assert os.path.getsize(out / "sensitivity.png") > 0
