"""Run charts: each writes a real PNG from a small table with a missing year."""

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sim.output.plots import (
    figure_caption,
    plot_concentration,
    plot_online_and_rate,
    plot_run,
    plot_type_shares,
    seed_text,
)
from sim.output.report import report_trajectory

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
    """Each chart writes one non-empty PNG under its fixed name and its SVG, no temp file."""
    open_before = plt.get_fignums()
    path = plot(yearly, tmp_path)
    assert path == tmp_path / name
    _assert_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, name.replace(".png", ".svg")]
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


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_print_resolution_caption_and_identical_svg(yearly: pd.DataFrame, tmp_path: Path) -> None:
    """The PNG is at 300 dpi (an 8 x 4.5 in figure is at least 2,000 px wide, 8 x 300 = 2,400
    less the tight crop); the caption is in the SVG; the same figure twice gives the same SVG bytes.
    """
    text = figure_caption(["tightening"], [0, 1, 2], "abc123")
    assert text.startswith("scenario tightening | seeds 0-2 | config abc123 | microlending-abm ")
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        plot_concentration(yearly, out, caption=text)
    width, _ = _png_size(first / "concentration.png")
    assert width >= 2000
    svg = (first / "concentration.svg").read_bytes()
    assert b"config abc123" in svg
    assert svg == (second / "concentration.svg").read_bytes()


def test_seed_text_by_hand() -> None:
    """One seed, a run of seeds and scattered seeds are written as a reader expects."""
    assert seed_text([3]) == "seed 3"
    assert seed_text([4, 0, 1, 2, 3, 3]) == "seeds 0-4"
    assert seed_text([9, 1, 4]) == "seeds 1, 4, 9"


def test_report_trajectory_is_in_fractions() -> None:
    """The report's 2024 online share (38 %) and average rate (10.5 %) come back as fractions."""
    report = report_trajectory().set_index("year")
    assert report.loc[2024, "online_share"] == pytest.approx(0.38)
    assert report.loc[2024, "avg_rate"] == pytest.approx(0.105)
