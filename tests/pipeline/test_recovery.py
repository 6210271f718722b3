"""The identification check: synthetic targets, the perturbation, and the verdicts by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scenarios import calibrate, fitting
from scenarios.recovery import (
    IDENTIFIED_RISE,
    identified,
    perturbed,
    recovery_table,
    synthetic_targets,
)
from scenarios.targets import PRICE_TOLERANCE, load_targets


def _summary() -> dict[str, float]:
    """A summary carrying every moment, with the price facts and a rising HHI met."""
    t = load_targets()
    out = {f"online_share_{y}": 0.4 for y in t.online_share}
    out |= {f"avg_rate_{y}": 0.1 for y in t.avg_rate}
    out |= {f"served_share_{y}": 0.7 for y in t.served_share}
    out |= {f"type_share_{g}": 0.3 for g in t.type_share}
    out |= {"lending_growth": 2.0, "hhi_2024": 400.0, "hhi_2030": 600.0}
    out |= {"rate_bank": 0.08, "rate_credit_cooperative": 0.1, "rate_online_platform": 0.19}
    out |= {"rate_policy_lender": 0.05, "platform_rate_p75": 0.21}
    return out


def test_the_model_at_the_truth_has_zero_loss_against_its_own_moments() -> None:
    """Targets made from a summary are that summary: the loss there is exactly 0.

    Each type's rate band is its rate +- ``PRICE_TOLERANCE`` (0.0025), wider than the
    margin the fit aims inside, so the truth's own rates meet them.
    """
    summary = _summary()
    targets = synthetic_targets(summary, load_targets())
    band = (0.08 - PRICE_TOLERANCE, 0.08 + PRICE_TOLERANCE)
    assert targets.price_band["bank"] == pytest.approx(band)
    assert targets.online_share[2024] == 0.4
    assert fitting.loss(summary, targets) == 0.0
    moved = summary | {"online_share_2024": 0.43}  # one tolerance (0.03) off in one of six
    assert fitting.loss(moved, targets) > 0.0


def test_the_truth_moves_at_most_the_perturbation_inside_the_box() -> None:
    """Moves of at most 0.15 from the start, kept in [0.02, 0.98]; the same draw every time."""
    start = np.array([0.0, 0.5, 1.0, 0.3])
    truth = perturbed(start, 0.15, 7)
    assert np.all(np.abs(truth - np.clip(start, 0.02, 0.98)) <= 0.15 + 1e-12)
    assert np.all((truth >= 0.02) & (truth <= 0.98))
    np.testing.assert_array_equal(truth, perturbed(start, 0.15, 7))


def test_identified_when_either_move_raises_the_loss_enough() -> None:
    """Loss 0.01 at the truth: a move to 0.05 (rise 0.04) pins a parameter; 0.015 does not."""
    moved = np.array([[0.02, 0.05], [0.015, np.nan], [0.0, 0.01 + 1.5 * IDENTIFIED_RISE]])
    assert identified(0.01, moved).tolist() == [True, False, True]


def test_recovery_table_by_hand() -> None:
    """Range [0, 2]: start 0.5 (1.0), truth 0.6 (1.2), found 0.65 (1.3): error 0.05 of range."""
    table = recovery_table(
        ["a", "b"],
        np.array([0.5, 0.5]),
        np.array([0.6, 0.6]),
        np.array([0.65, 0.9]),
        np.array([True, True]),
        np.array([0.0, 0.0]),
        np.array([2.0, 2.0]),
    )
    a, b = table.iloc[0], table.iloc[1]
    assert (a["start"], a["truth"], a["recovered"]) == pytest.approx((1.0, 1.2, 1.3))
    assert a["error_share_of_range"] == pytest.approx(0.05)
    assert bool(a["recovered_within_tolerance"]) and not bool(b["recovered_within_tolerance"])


def test_recover_writes_a_row_per_parameter(tmp_path: Path) -> None:
    """A tiny run (3,000 borrowers, one seed, three fit evaluations) writes recovery.csv/.md."""
    argv = ["--recover", "--budget", "3", "--seeds", "1", "--n-borrowers", "3000"]
    assert calibrate.main([*argv, "--jobs", "1", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "recovery.csv")
    assert table["parameter"].tolist() == [p.key for p in fitting.PARAMETERS]
    assert (tmp_path / "recovery.md").read_text().startswith("Parameter recovery:")


@pytest.mark.parametrize("flag", ["--write", "--check"])
def test_recover_refuses_write_and_check(flag: str) -> None:
    """--recover writes its own report; with --write or --check it exits 2."""
    with pytest.raises(SystemExit) as err:
        calibrate.parse_args(["--recover", flag])
    assert err.value.code == 2
