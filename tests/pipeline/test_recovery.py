"""The identification check: synthetic targets, the perturbation, and the verdicts by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scenarios import calibrate, fitting
from scenarios.recovery import (
    IDENTIFIED_RISE,
    Probes,
    identification,
    identified,
    noise_bound,
    perturbed,
    probe_jacobian,
    recovery_table,
    synthetic_targets,
    verdict,
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


def _pinned(identified: list[bool], alone: list[bool]) -> pd.DataFrame:
    """An identification table with the given verdicts (rises consistent with them)."""
    return pd.DataFrame(
        {
            "loss_rise_alone": [0.1 if a else 0.0 for a in alone],
            "loss_rise_jointly": [0.05 if i else 0.0 for i in identified],
            "stand_in": ["x"] * len(identified),
            "stand_in_correlation": [0.5] * len(identified),
            "identified_alone": alone,
            "identified": identified,
            "in_identified_set": identified,
        }
    )


def test_recovery_table_by_hand() -> None:
    """Range [0, 2]: start 0.5 (1.0), truth 0.6 (1.2), found 0.65 (1.3): error 0.05 of range.

    Recovered needs fitted, identified and an error within 0.1: only ``a`` is; ``b`` misses
    by 0.3, ``c`` is not identified, ``d`` is fixed.
    """
    table = recovery_table(
        ["a", "b", "c", "d"],
        np.full(4, 0.5),
        np.full(4, 0.6),
        np.array([0.65, 0.9, 0.6, 0.6]),
        _pinned([True, True, False, True], [True, True, True, True]),
        np.zeros(4),
        np.full(4, 2.0),
        np.array([True, True, True, False]),
    )
    a = table.iloc[0]
    assert (a["start"], a["truth"], a["recovered"]) == pytest.approx((1.0, 1.2, 1.3))
    assert a["error_share_of_range"] == pytest.approx(0.05)
    assert table["recovered_within_tolerance"].tolist() == [True, False, False, False]
    assert [verdict(r) for _, r in table.iterrows()] == [
        "yes, recovered",
        "yes, not recovered",
        "alone only (the others make up for it)",
        "yes (fixed in this fit)",
    ]


def test_noise_bound_by_hand() -> None:
    """A fit 0.5 below the truth's loss, joint rises 0.02 and 0.5 at a move of 0.1:
    bounds 0.1 x sqrt(0.5 / 0.02) = 0.5 and 0.1 x sqrt(1) = 0.1; unpinned (0) unbounded;
    a fit no better than the truth (gain <= 0) leaves no room for noise.
    """
    bound = noise_bound(0.5, np.array([0.02, 0.5, 0.0]))
    assert bound[:2] == pytest.approx([0.5, 0.1]) and np.isinf(bound[2])
    assert noise_bound(-0.1, np.array([0.02])).tolist() == [0.0]


def test_an_error_beyond_a_tenth_but_within_the_noise_bound_is_said_so() -> None:
    """Joint rise 0.05, noise gain 0.5: bound 0.1 x sqrt(10) = 0.316. Errors 0.05, 0.3 and
    0.4 of the range: recovered; within the noise bound only; not recovered.
    """
    table = recovery_table(
        ["a", "b", "c"],
        np.full(3, 0.5),
        np.full(3, 0.5),
        np.array([0.55, 0.8, 0.9]),
        _pinned([True] * 3, [True] * 3),
        np.zeros(3),
        np.ones(3),
        np.ones(3, dtype=bool),
        noise_gain=0.5,
    )
    assert table["noise_bound_share_of_range"].to_numpy() == pytest.approx([np.sqrt(0.1)] * 3)
    # the truth is the start here, so set a move for the verdicts to judge a recovery
    table["moved_share_of_range"] = 0.1
    assert [verdict(r) for _, r in table.iterrows()] == [
        "yes, recovered",
        "yes, within its noise bound, not a tenth",
        "yes, not recovered",
    ]


def test_the_residuals_square_to_the_loss() -> None:
    """sum(r^2) equals the loss, with point misses, a flat HHI and a bank rate off its band."""
    summary = _summary()
    targets = load_targets()
    summary |= {"hhi_2030": 400.0, "rate_bank": 0.095}
    r = fitting.residuals(summary, targets)
    assert float(np.sum(r**2)) == pytest.approx(fitting.loss(summary, targets), rel=1e-12)
    assert fitting.loss(summary, targets) > 0.0


def test_signed_bands_measure_a_rate_from_its_band_centre() -> None:
    """Bank band 0.05-0.09, centre 0.07: a rate of 0.08 inside it misses by nothing, but its
    signed residual is (0.08 - 0.07) / 0.0025 = 4 times the price group's factor
    sqrt(1 / (6 * 6.25)) (six price terms; weights sum to 6.25); 0.06 gives minus that.
    """
    targets = load_targets()
    low, high = targets.price_band["bank"]
    assert (low, high) == pytest.approx((0.05, 0.09))
    summary = _summary()
    plain = fitting.residuals(summary, targets)
    up = fitting.residuals(summary, targets, signed_bands=True)
    down = fitting.residuals(summary | {"rate_bank": 0.06}, targets, signed_bands=True)
    (k,) = np.flatnonzero(up != down)  # only the bank's term differs
    assert plain[k] == 0.0
    assert up[k] == pytest.approx(4 * np.sqrt(1 / 37.5)) and down[k] == pytest.approx(-up[k])


def test_identification_from_probes_of_a_linear_model() -> None:
    """Moments linear in two parameters, one of which moves nothing: the first is identified
    alone and jointly and stays in the set; the second is not seen at all.
    """
    targets = synthetic_targets(_summary(), load_targets())

    def summary_at(u: np.ndarray) -> dict[str, float]:
        return _summary() | {"online_share_2024": 0.4 + 0.3 * (u[0] - 0.5)}

    u0 = np.array([0.5, 0.5])
    u_moved = np.array([[0.4, 0.6], [0.4, 0.6]])
    moved = [
        [summary_at(np.array([u, 0.5])) for u in (0.4, 0.6)],
        [summary_at(np.array([0.5, u])) for u in (0.4, 0.6)],
    ]
    probes = Probes(["a", "b"], u0, summary_at(u0), u_moved, moved)
    table = identification(probes, targets, np.array([True, True]), probe_jacobian(probes, targets))
    assert table["identified"].tolist() == [True, False]
    assert table["identified_alone"].tolist() == [True, False]
    assert table["in_identified_set"].tolist() == [True, False]
    # a move of 0.1 shifts online_share_2024 by 0.03, one tolerance: (1 / 6 of the group)
    # times the group's share of the weight (1 / 6.25 with the price group) = 1 / 37.5
    assert table["loss_rise_alone"][0] == pytest.approx(1 / 37.5)


def test_fixed_parameters_stay_at_their_start() -> None:
    """``fit`` moves only ``FREE``: every fixed key of the best point equals its start."""
    start = {p.key: (p.low + p.high) / 2 for p in fitting.PARAMETERS}
    seen: list[dict[str, float]] = []

    def objective(values: dict[str, float]) -> float:
        seen.append(values)
        return sum((values[p.key] - p.low) ** 2 for p in fitting.FREE)

    found, _ = fitting.fit(objective, start, 20)
    for key in fitting.NOT_IDENTIFIED:
        assert found[key] == start[key]
        assert all(v[key] == start[key] for v in seen)
    assert any(found[p.key] != start[p.key] for p in fitting.FREE)


def test_recover_writes_a_row_per_parameter(tmp_path: Path) -> None:
    """A tiny run (3,000 borrowers, one seed, three fit evaluations) writes recovery.csv/.md
    and the Jacobian, one row per moment and a column per parameter.
    """
    argv = ["--recover", "--budget", "3", "--seeds", "1", "--n-borrowers", "3000"]
    argv += ["--target-seeds", "2"]
    assert calibrate.main([*argv, "--jobs", "1", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "recovery.csv")
    assert table["parameter"].tolist() == [p.key for p in fitting.PARAMETERS]
    jac = pd.read_csv(tmp_path / "jacobian.csv")
    assert jac.columns.tolist() == ["moment", *table["parameter"]]
    assert {"online_share_2024", "hhi_rising", "rate_bank"} <= set(jac["moment"])
    report = (tmp_path / "recovery.md").read_text()
    assert report.startswith("Parameter recovery: 1 seeds (2 for the targets)")
    assert "noise bound" in report


def test_recover_refuses_fewer_than_one_target_seed(capsys) -> None:
    """--target-seeds 0 exits 2 naming the option and what it allows."""
    with pytest.raises(SystemExit) as err:
        calibrate.parse_args(["--recover", "--target-seeds", "0"])
    assert err.value.code == 2
    assert "--target-seeds 0" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--write", "--check"])
def test_recover_refuses_write_and_check(flag: str) -> None:
    """--recover writes its own report; with --write or --check it exits 2."""
    with pytest.raises(SystemExit) as err:
        calibrate.parse_args(["--recover", flag])
    assert err.value.code == 2


def test_the_noise_bound_holds_for_a_least_squares_fit_to_noisy_targets() -> None:
    """Linear residuals ``r(u) = J (u - truth) + noise``: the least-squares fit misses each
    parameter by no more than its noise bound (from the fit's gain over the truth and the
    joint rises of ``J``), for every one of 200 random noise draws and Jacobians.
    """
    from scenarios.identification import joint_rise
    from scenarios.recovery import PROBE

    rng = np.random.default_rng(0)
    for _ in range(200):
        jac = rng.normal(size=(12, 4))
        noise = rng.normal(scale=0.3, size=12)
        step, *_ = np.linalg.lstsq(jac, -noise, rcond=None)  # the fit's u - truth
        gain = float(noise @ noise - np.sum((jac @ step + noise) ** 2))
        bound = noise_bound(gain, joint_rise(jac, PROBE))
        assert np.all(np.abs(step) <= bound * (1 + 1e-6) + 1e-12)
