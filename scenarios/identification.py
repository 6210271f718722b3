"""Does the loss pin a parameter when the others may move too? Local, from the loss's residuals.

Near a point ``u0`` (unit-box coordinates) the loss is ``|r(u)|^2`` with ``r``
the residual vector (``scenarios.fitting.residuals``). With the Jacobian ``J``
of ``r`` (finite differences over the probes), ``|r(u0 + d)|^2 - |r(u0)|^2`` is
about ``d' H d`` with ``H = J'J`` once the gradient term vanishes (at the
minimum). Moving parameter ``i`` alone by ``delta`` then raises the loss by
``delta^2 H_ii``; moving it by ``delta`` while every other parameter moves to
make up for it raises it by only ``delta^2 / (H^-1)_ii`` (the profile of a
quadratic). A parameter the others can stand in for has a large alone rise
and a small joint one: the moments see it, but cannot tell it from the rest.
"""

from __future__ import annotations

import numpy as np

RIDGE = 1e-9
"""Relative ridge on ``H`` (times its mean diagonal) so that an exactly flat direction
gives a joint rise of about zero instead of a singular matrix."""


def jacobian(
    u0: np.ndarray,
    r0: np.ndarray,
    u_moved: np.ndarray,
    r_moved: np.ndarray,
) -> np.ndarray:
    """Finite-difference Jacobian of the residuals, one column per parameter.

    ``u_moved[i, j]`` is parameter ``i``'s coordinate at its down (``j = 0``) and
    up (``j = 1``) probe, NaN where the box left no room; ``r_moved[i, j]`` the
    residuals there. A central difference where both probes exist, one-sided
    (against ``r0`` at ``u0``) where only one does, 0 where none does.
    """
    n_params, n_res = u_moved.shape[0], r0.size
    out = np.zeros((n_res, n_params))
    for i in range(n_params):
        sides = [j for j in (0, 1) if np.isfinite(u_moved[i, j])]
        if len(sides) == 2:
            out[:, i] = (r_moved[i, 1] - r_moved[i, 0]) / (u_moved[i, 1] - u_moved[i, 0])
        elif sides:
            j = sides[0]
            out[:, i] = (r_moved[i, j] - r0) / (u_moved[i, j] - u0[i])
    return out


def alone_rise(jac: np.ndarray, delta: float) -> np.ndarray:
    """Loss rise from moving each parameter alone by ``delta``: ``delta^2 H_ii``."""
    return delta**2 * np.sum(jac**2, axis=0)


def _inverse(jac: np.ndarray) -> np.ndarray:
    """``(J'J + ridge)^-1``: the local covariance of the parameters, up to a scale."""
    hessian = jac.T @ jac
    ridge = RIDGE * max(float(np.mean(np.diag(hessian))), 1e-300)
    return np.linalg.inv(hessian + ridge * np.eye(hessian.shape[0]))


def _inverse_diagonal(jac: np.ndarray) -> np.ndarray:
    """The diagonal of ``(J'J + ridge)^-1``."""
    return np.diag(_inverse(jac))


def joint_rise(jac: np.ndarray, delta: float, within: np.ndarray | None = None) -> np.ndarray:
    """Loss rise from moving each parameter by ``delta``, the others re-fitted.

    The rise is ``delta^2 / (H^-1)_ii``. The others are those ``within`` marks (all
    by default), with the parameter itself added: for a parameter outside the set,
    the rise if it were freed alone.
    """
    n = jac.shape[1]
    within = np.ones(n, dtype=bool) if within is None else np.asarray(within, dtype=bool)
    out = np.empty(n)
    for i in range(n):
        cols = within.copy()
        cols[i] = True
        index = np.flatnonzero(cols)
        out[i] = delta**2 / _inverse_diagonal(jac[:, index])[np.searchsorted(index, i)]
    return out


def stand_ins(jac: np.ndarray, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each parameter, the one that best makes up for it, and their correlation.

    Among those ``within`` marks (all by default) plus the parameter itself, the
    one with the largest absolute correlation in ``(J'J)^-1``, the local
    covariance of the fit: near -1 or 1, moving both together leaves the loss
    unchanged. -1 and NaN where there is no other parameter.
    """
    n = jac.shape[1]
    within = np.ones(n, dtype=bool) if within is None else np.asarray(within, dtype=bool)
    partner = np.full(n, -1)
    correlation = np.full(n, np.nan)
    for i in range(n):
        cols = within.copy()
        cols[i] = True
        index = np.flatnonzero(cols)
        if index.size < 2:
            continue
        cov = _inverse(jac[:, index])
        sd = np.sqrt(np.diag(cov))
        k = int(np.searchsorted(index, i))
        corr = cov[k] / (sd[k] * sd)
        corr[k] = 0.0
        best = int(np.argmax(np.abs(corr)))
        partner[i], correlation[i] = index[best], corr[best]
    return partner, correlation


def identifiable(
    jac: np.ndarray, delta: float, threshold: float, start: np.ndarray | None = None
) -> np.ndarray:
    """The parameters the moments pin together: drop the least pinned until all rise enough.

    Backward elimination from ``start`` (all parameters by default): while some
    parameter of the set has a joint rise below ``threshold``, the one with the
    smallest leaves the set (is to be fixed).
    """
    n = jac.shape[1]
    keep = np.ones(n, dtype=bool) if start is None else np.array(start, dtype=bool)
    while keep.any():
        rise = np.where(keep, joint_rise(jac, delta, keep), np.inf)
        worst = int(np.argmin(rise))
        if rise[worst] >= threshold:
            break
        keep[worst] = False
    return keep
