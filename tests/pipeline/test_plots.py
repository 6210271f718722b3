"""Run charts: each writes a real PNG from a small table with a missing year."""

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sim.output.plots import plot_concentration, plot_online_and_rate, plot_run, plot_type_shares

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAN = float("nan")


@pytest.fixture
def yearly() -> pd.DataFrame:
    """Four years, 2026 all nan (e.g. no lending recorded); type shares sum to 1."""
    return pd.DataFrame(
        {
            "year": [2024, 2025, 2026, 2027],
            "hhi": [900.0, 1100.0, NAN, 2000.0],
            "cr5": [0.45, 0.5, NAN, 0.62],
            "online_share": [0.30, 0.34, NAN, 0.41],
            "avg_rate": [0.12, 0.115, NAN, 0.105],
            "share_bank": [0.5, 0.45, NAN, 0.4],
            "share_credit_cooperative": [0.2, 0.2, NAN, 0.15],
            "share_online_platform": [0.25, 0.3, NAN, 0.4],
            "share_policy_lender": [0.05, 0.05, NAN, 0.05],
        }
    )


@pytest.fixture
def targets() -> pd.DataFrame:
    """Reported values for two years, with gaps."""
    return pd.DataFrame(
        {"year": [2024, 2025], "online_share": [0.31, NAN], "avg_rate": [NAN, 0.12]}
    )


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > len(PNG_MAGIC)


@pytest.mark.parametrize(
    ("plot", "name"),
    [
        (plot_concentration, "concentration.png"),
        (plot_type_shares, "type_shares.png"),
        (plot_online_and_rate, "online_share_rate.png"),
    ],
)
def test_each_plot_writes_png(
    plot: Callable[[pd.DataFrame, Path], Path], name: str, yearly: pd.DataFrame, tmp_path: Path
) -> None:
    """Each chart writes one non-empty PNG under its fixed name, leaving no temp file."""
    open_before = plt.get_fignums()
    path = plot(yearly, tmp_path)
    assert path == tmp_path / name
    _assert_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert plt.get_fignums() == open_before  # the figure was closed


def test_online_and_rate_with_targets(
    yearly: pd.DataFrame, targets: pd.DataFrame, tmp_path: Path
) -> None:
    """Report markers with nan gaps do not stop the chart being written."""
    _assert_png(plot_online_and_rate(yearly, tmp_path, targets=targets))


def test_plot_run_writes_all_three(
    yearly: pd.DataFrame, targets: pd.DataFrame, tmp_path: Path
) -> None:
    """plot_run writes the three charts into a new directory and returns their paths."""
    out_dir = tmp_path / "plots"
    paths = plot_run(yearly, out_dir, targets)
    assert [p.name for p in paths] == [
        "concentration.png",
        "type_shares.png",
        "online_share_rate.png",
    ]
    for path in paths:
        assert path.parent == out_dir
        _assert_png(path)


def test_absent_year_rows_are_tolerated(yearly: pd.DataFrame, tmp_path: Path) -> None:
    """A year missing from the table (2026 dropped, rows unsorted) still plots."""
    gappy = yearly.drop(index=2).iloc[::-1]
    assert len(plot_run(gappy, tmp_path)) == 3


def test_all_nan_table_still_plots(yearly: pd.DataFrame, tmp_path: Path) -> None:
    """A run with no recorded values at all still yields three PNGs."""
    empty = yearly.assign(**{c: np.nan for c in yearly.columns if c != "year"})
    for path in plot_run(empty, tmp_path):
        _assert_png(path)


def test_missing_column_is_an_error(yearly: pd.DataFrame, tmp_path: Path) -> None:
    """A table without the needed columns raises KeyError and writes nothing."""
    with pytest.raises(KeyError):
        plot_concentration(yearly.drop(columns="cr5"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_repeated_year_is_an_error(yearly: pd.DataFrame, tmp_path: Path) -> None:
    """Two rows for one year are ambiguous and raise ValueError."""
    doubled = pd.concat([yearly, yearly.iloc[[0]]])
    with pytest.raises(ValueError):
        plot_type_shares(doubled, tmp_path)
