"""A month's market tallies from its applicants and matches: pure functions over arrays."""

from __future__ import annotations

import numpy as np

from agents.lenders import LENDER_CLASSES
from agents.loan_table import NO_LENDER
from sim.clearing import UNMET_REASONS, Applicants, Matches, unmet_reason
from sim.config import SEGMENTS
from sim.recorder import RATE_BIN, RATE_BINS


def volume_by_rate(type_code: np.ndarray, rate: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """New lending (CNY) by lender type and rate bin (``RATE_BIN`` wide, the last open)."""
    bins = np.clip((rate / RATE_BIN).astype(np.int64), 0, RATE_BINS - 1)
    n_types = len(LENDER_CLASSES)
    flat = np.bincount(type_code * RATE_BINS + bins, weights=amount, minlength=n_types * RATE_BINS)
    return flat.reshape(n_types, RATE_BINS)


def tallies(app: Applicants, m: Matches, segment: np.ndarray, w: float) -> dict[str, float]:
    """The month's market figures (CNY, borrowers), overall and by segment."""
    won = m.lender != NO_LENDER
    demand_amt = app.need * w
    lent = np.where(won, m.amount, 0.0) * w
    out = {
        "lending": float(lent.sum()),
        "lending_online": float(lent[m.online & won].sum()),
        "rate_x_lending": float((lent * m.rate).sum()),
        "pd_x_lending": float((lent * app.pd).sum()),
        "demand": float(demand_amt.sum()),
        "unmet": float((demand_amt - lent).sum()),
        "applicants": float(app.idx.size * w),
        "served": float(np.count_nonzero(won) * w),
    }
    # by segment: applicants grouped by segment in their order (a stable sort), so
    # each slice holds the same numbers in the same order as a mask would pick
    order = np.argsort(segment, kind="stable")
    bounds = np.searchsorted(segment[order], np.arange(len(SEGMENTS) + 1)).tolist()
    demand_seg, lent_seg = demand_amt[order], lent[order]
    unmet_seg = demand_seg - lent_seg
    for s, name in enumerate(SEGMENTS):
        part = slice(bounds[s], bounds[s + 1])
        out[f"demand_{name}"] = float(demand_seg[part].sum())
        out[f"lending_{name}"] = float(lent_seg[part].sum())
        out[f"unmet_{name}"] = float(unmet_seg[part].sum())
    # by reason: a refused applicant's whole need, a served one's shortfall (loan caps,
    # or the lender's room where it got the room left)
    shortfall = np.where(
        m.room_short, UNMET_REASONS.index("capacity"), UNMET_REASONS.index("loan_cap")
    )
    reason = np.where(won, shortfall, unmet_reason(m.refusals))
    by_reason = np.bincount(reason, weights=demand_amt - lent, minlength=len(UNMET_REASONS))
    for k, name in enumerate(UNMET_REASONS):
        out[f"unmet_{name}"] = float(by_reason[k])
    return out
