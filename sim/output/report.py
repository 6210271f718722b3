"""The report's yearly online share and average loan rate, to draw beside a run's own.

Read from the project's copy of the report's trajectory
(``scenarios/data/report_trajectory.csv``, percentages) and returned as
fractions under the names the run's ``market_yearly`` table uses.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
REPORT_TRAJECTORY = ROOT / "scenarios" / "data" / "report_trajectory.csv"
"""The report's 2024-2030 trajectory (market size, online share, average rate by year)."""

_COLUMNS = {"online_share_pct": "online_share", "avg_loan_rate_pct": "avg_rate"}


def report_trajectory(path: Path = REPORT_TRAJECTORY) -> pd.DataFrame | None:
    """``year``, ``online_share`` and ``avg_rate`` as fractions; None without the file."""
    if not Path(path).is_file():
        return None
    table = pd.read_csv(path)
    out = table[["year", *_COLUMNS]].rename(columns=_COLUMNS)
    return out.assign(**{name: out[name] / 100.0 for name in _COLUMNS.values()})
