"""The active loans as a compact table: one row per loan, in ascending borrower order.

A row is a cohort: the simulated borrower stands for ``weight`` real ones, and
each month the fraction ``hazard`` of its balance defaults (the real borrowers
who stop paying) while the rest keeps paying. The defaulted balance leaves the
table for the lenders' non-performing books (``LenderBook.npl_by_age``).

Servicing and the monthly per-lender totals read every active loan each
month; reading them from short columns instead of gathering them out of the
population-wide arrays saves most of the memory traffic at large scale. The
rows stay in borrower order, so every per-lender sum (``np.bincount``) adds
the same numbers in the same order as a scan over all borrowers would, and
the results are identical to the last bit.

Loans closed during a month become *dead* rows until the table is rebuilt,
which happens once a month when the new loans are merged in (and before
servicing and the monthly totals). A dead row's own share is set to 1, so the
co-lent loans between closing and rebuilding (``partner_exposure``) leave it out.
"""

from __future__ import annotations

import numpy as np

NO_LENDER = -1
COLUMNS = {
    "ids": np.intp,  # borrower index, ascending
    "lender": np.intp,  # originator
    "funder": np.intp,  # co-lending partner, or NO_LENDER
    "own": np.float64,  # originator's funded fraction
    "balance": np.float64,
    "rate": np.float64,
    "partner_rate": np.float64,  # what the co-lending partner earns on its part (= rate if none)
    "payment": np.float64,  # scheduled principal a month
    "months_left": np.int32,
    "hazard": np.float64,  # the borrower's monthly default probability
    "priced_pd": np.float64,  # the annual PD the originator priced the loan at
}


class LoanTable:
    """Columns of the active loans (see the module docstring)."""

    def __init__(self) -> None:
        for name, dtype in COLUMNS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))
        self.dead = np.zeros(0, dtype=np.intp)  # rows closed since the last rebuild

    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return self.ids.size

    def close(self, rows: np.ndarray) -> None:
        """Mark ``rows`` closed: they stay, not co-lent any more, until the next rebuild."""
        if rows.size == 0:
            return
        self.own[rows] = 1.0
        self.dead = np.concatenate((self.dead, rows))

    def rebuild(self, new_ids: np.ndarray | None = None, new: dict | None = None) -> None:
        """Drop the dead rows and merge in new loans (``new_ids`` ascending, not in the table).

        ``new`` maps every column but ``ids`` to the new rows' values, in ``new_ids`` order.
        """
        k = 0 if new_ids is None else new_ids.size
        if self.dead.size == 0 and k == 0:
            return
        keep = None
        if self.dead.size:
            alive = np.ones(self.size, dtype=bool)
            alive[self.dead] = False
            keep = np.flatnonzero(alive)
            self.dead = np.zeros(0, dtype=np.intp)
        if k == 0:
            for name in COLUMNS:
                setattr(self, name, getattr(self, name)[keep])
            return
        kept = np.arange(self.size) if keep is None else keep
        total = kept.size + k
        new_slots = np.searchsorted(self.ids[kept], new_ids) + np.arange(k)
        is_old = np.ones(total, dtype=bool)
        is_old[new_slots] = False
        # the kept rows are gathered into their new places (row 0 stands in for each
        # new row), then the new rows are written over those places
        source = np.zeros(total, dtype=np.intp)
        source[is_old] = kept
        values = {"ids": new_ids, **(new or {})}
        for name, dtype in COLUMNS.items():
            column = getattr(self, name)
            merged = column.take(source) if column.size else np.empty(total, dtype=dtype)
            merged[new_slots] = values[name]
            setattr(self, name, merged)

    def remove_ids(self, ids: np.ndarray) -> None:
        """Mark the rows of borrowers ``ids`` (ascending, all in the table) dead."""
        self.close(np.searchsorted(self.ids, ids))

    def full(self, name: str, n: int, fill: float = 0, dtype: type | None = None) -> np.ndarray:
        """Column ``name`` as a read-only array over ``n`` borrowers (``fill`` without a loan)."""
        column = getattr(self, name)
        out = np.full(n, fill, dtype=dtype or column.dtype)
        out[np.delete(self.ids, self.dead)] = np.delete(column, self.dead)
        out.flags.writeable = False
        return out
