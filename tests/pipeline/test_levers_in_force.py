"""A run with a dated change records the levers in force, logs the change, and writes Parquet."""

from __future__ import annotations

import json

import pandas as pd
from pandas.testing import assert_frame_equal

from sim.output.tables import TABLE_NAMES
from tests.conftest import compose_config
from tests.pipeline.test_cli import run_cli

CHANGE = 'regulation.timeline=[{date: "2027-01", rate_cap_apr: 0.10}]'


def test_dated_change_is_recorded_logged_and_listed(tmp_path):
    """regulation_monthly.csv has the base cap up to 2026-12 and 0.10 from 2027-01; the log has
    "2027-01: rate_cap_apr 0.24 -> 0.1"; result.json lists the change; every table's Parquet
    file holds the same columns and values as its CSV (an empty string is missing in CSV).
    """
    base_cap = compose_config().regulation.rate_cap_apr
    out = tmp_path / "run"
    proc = run_cli("market.n_borrowers=2000", "plots=false", CHANGE, f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    monthly = pd.read_csv(out / "regulation_monthly.csv").set_index("month")["rate_cap_apr"]
    assert (monthly.loc[:"2026-12"] == base_cap).all() and len(monthly.loc[:"2026-12"]) == 36
    assert (monthly.loc["2027-01":] == 0.10).all() and len(monthly.loc["2027-01":]) == 48
    line = f"2027-01: rate_cap_apr {base_cap:g} -> 0.1"
    assert line in (out / "lendsim.log").read_text()
    assert line in proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["lever_changes"] == [
        {"month": "2027-01", "lever": "rate_cap_apr", "from": base_cap, "to": 0.10}
    ]
    for name in TABLE_NAMES:
        csv = pd.read_csv(out / f"{name}.csv")
        parquet = pd.read_parquet(out / f"{name}.parquet")
        parquet = parquet.mask(parquet.eq(""))  # CSV reads an empty field back as missing
        assert list(parquet.columns) == list(csv.columns), name
        assert_frame_equal(parquet, csv, check_dtype=False, check_exact=True, obj=name)
