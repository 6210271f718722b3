"""The local identification algebra against hand-computed Jacobians and profiles."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.identification import alone_rise, identifiable, jacobian, joint_rise, stand_ins


def test_finite_differences_recover_a_linear_map_exactly() -> None:
    """r(u) = A u + b: central and one-sided differences both give A's columns."""
    a = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
    b = np.array([0.1, -0.2])
    u0 = np.array([0.5, 0.95, 0.3])
    u_moved = np.array([[0.4, 0.6], [0.85, np.nan], [np.nan, np.nan]])  # central, down, none
    r_moved = np.full((3, 2, 2), np.nan)
    for i in range(3):
        for j in range(2):
            if np.isfinite(u_moved[i, j]):
                u = u0.copy()
                u[i] = u_moved[i, j]
                r_moved[i, j] = a @ u + b
    jac = jacobian(u0, a @ u0 + b, u_moved, r_moved)
    np.testing.assert_allclose(jac[:, :2], a[:, :2], rtol=1e-12)
    np.testing.assert_array_equal(jac[:, 2], 0.0)


def test_profile_rise_by_hand() -> None:
    """Residuals (d1, d1 + d2). Moving d1 by 0.1, d2 = -0.1 cancels the second residual:
    rise 0.01. Moving d2 by 0.1, the best d1 is -0.05: rise 2 * 0.05^2 = 0.005.
    Alone the rises are 0.1^2 * 2 = 0.02 and 0.1^2 * 1 = 0.01.
    """
    jac = np.array([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(joint_rise(jac, 0.1), [0.01, 0.005], rtol=1e-6)
    np.testing.assert_allclose(alone_rise(jac, 0.1), [0.02, 0.01], rtol=1e-12)


def test_two_parameters_with_the_same_effect_are_not_identified_jointly() -> None:
    """Equal columns: each alone is seen (rise 0.1^2 * 2), but the other undoes any move."""
    jac = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    assert alone_rise(jac, 0.1) == pytest.approx([0.02, 0.02])
    assert np.all(joint_rise(jac, 0.1) < 1e-8)


def test_a_fixed_parameter_is_judged_as_if_freed_alone() -> None:
    """Columns (1, 0), (1, 0), (0, 1). Within {0, 2}: parameter 0 rises 0.01 (nothing undoes
    it); parameter 1 freed next to them collides with 0 (rise ~0); parameter 2 rises 0.01.
    """
    jac = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    rise = joint_rise(jac, 0.1, within=np.array([True, False, True]))
    assert rise[0] == pytest.approx(0.01) and rise[2] == pytest.approx(0.01)
    assert rise[1] < 1e-8


def test_backward_elimination_drops_one_of_a_collinear_pair_and_the_invisible() -> None:
    """Columns (1, 0), (1, 0), (0, 1), (0, 0): one of the equal pair and the zero column
    leave; with the zero column and one twin gone the others rise 0.01 >= 0.005 each.
    """
    jac = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    keep = identifiable(jac, 0.1, 0.005)
    assert keep.sum() == 2 and keep[2] and not keep[3] and keep[0] != keep[1]


def test_elimination_keeps_everything_when_all_rise_enough() -> None:
    """Orthonormal columns: each rises 0.1^2 = 0.01 jointly; at a threshold of 0.01 all stay,
    just above it all leave one by one.
    """
    jac = np.eye(3)
    assert identifiable(jac, 0.1, 0.01 * (1 - 1e-6)).all()
    assert not identifiable(jac, 0.1, 0.0101).any()


def test_stand_in_is_the_most_correlated_parameter_by_hand() -> None:
    """Residuals (d1, d1 + d2): (J'J)^-1 = [[1, -1], [-1, 2]], correlation -1 / sqrt(2).

    Each is the other's stand-in; alone in its set a parameter has none.
    """
    jac = np.array([[1.0, 0.0], [1.0, 1.0]])
    partner, corr = stand_ins(jac)
    assert partner.tolist() == [1, 0]
    np.testing.assert_allclose(corr, [-(2**-0.5)] * 2, rtol=1e-6)
    partner, corr = stand_ins(jac, within=np.array([False, False]))
    assert partner.tolist() == [-1, -1] and np.isnan(corr).all()
