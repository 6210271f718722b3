"""The compact table of active loans: merging, closing, dropping and reading out.

Each loan's values are tied to its borrower id (balance = 100 x id, rate =
id / 100, ...), so a row in the wrong place shows as a value that does not
match its id.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.loan_table import COLUMNS, NO_LENDER, LoanTable


def _loans(ids: list[int], own: float = 1.0) -> tuple[np.ndarray, dict]:
    """New loans for borrowers ``ids`` (ascending), every value derived from the id."""
    i = np.array(ids, dtype=np.intp)
    return i, {
        "lender": i % 3,
        "funder": np.where(own < 1.0, 7, NO_LENDER) + 0 * i,
        "own": np.full(i.size, own),
        "balance": 100.0 * i,
        "rate": i / 100.0,
        "partner_rate": i / 200.0,
        "payment": 10.0 * i,
        "months_left": i + 1,
        "hazard": i / 1000.0,
        "priced_pd": i / 500.0,
    }


def _assert_rows_match_ids(table: LoanTable) -> None:
    """Every row's values are the ones derived from its id."""
    ids = table.ids
    np.testing.assert_array_equal(table.lender, ids % 3)
    np.testing.assert_array_equal(table.balance, 100.0 * ids)
    np.testing.assert_array_equal(table.rate, ids / 100.0)
    np.testing.assert_array_equal(table.payment, 10.0 * ids)
    np.testing.assert_array_equal(table.months_left, ids + 1)
    np.testing.assert_array_equal(table.hazard, ids / 1000.0)


def _table(ids: list[int], own: float = 1.0) -> LoanTable:
    """A table holding loans for ``ids``."""
    table = LoanTable()
    table.rebuild(*_loans(ids, own))
    return table


def test_new_table_is_empty_with_the_declared_dtypes() -> None:
    """An empty table has zero rows and each column has its declared dtype."""
    table = LoanTable()
    assert table.size == 0
    for name, dtype in COLUMNS.items():
        assert getattr(table, name).dtype == np.dtype(dtype), name


def test_rebuild_into_an_empty_table() -> None:
    """The first loans become the table, in their (ascending) order."""
    table = _table([2, 5, 9])
    assert table.size == 3
    np.testing.assert_array_equal(table.ids, [2, 5, 9])
    _assert_rows_match_ids(table)


def test_rebuild_merges_new_loans_in_ascending_borrower_order() -> None:
    """New ids before, between and after the old ones end up sorted, values with their ids."""
    table = _table([2, 5, 9])
    table.rebuild(*_loans([0, 3, 4, 12]))
    np.testing.assert_array_equal(table.ids, [0, 2, 3, 4, 5, 9, 12])
    _assert_rows_match_ids(table)
    for name, dtype in COLUMNS.items():
        assert getattr(table, name).dtype == np.dtype(dtype), name


def test_scalar_new_value_is_broadcast() -> None:
    """A column given one number for all new rows gets it on every new row."""
    table = _table([1, 4])
    ids, new = _loans([2, 3])
    new["rate"] = 0.5
    table.rebuild(ids, new)
    np.testing.assert_array_equal(table.rate, [0.01, 0.5, 0.5, 0.04])


def test_close_keeps_the_row_until_the_next_rebuild() -> None:
    """A closed row stays (size unchanged) with own share 1, and is gone after ``rebuild()``."""
    table = _table([2, 5, 9], own=0.3)
    table.close(np.array([1]))
    assert table.size == 3
    np.testing.assert_array_equal(table.own, [0.3, 1.0, 0.3])
    table.rebuild()
    np.testing.assert_array_equal(table.ids, [2, 9])
    np.testing.assert_array_equal(table.own, [0.3, 0.3])
    _assert_rows_match_ids(table)
    assert table.dead.size == 0


def test_dead_rows_are_dropped_while_merging() -> None:
    """Closing ids 2 and 9 then merging 1 and 9 (a new loan for 9) keeps 1, 5 and the new 9."""
    table = _table([2, 5, 9])
    table.close(np.array([0, 2]))
    ids, new = _loans([1, 9])
    new["balance"] = np.array([100.0, 123.0])  # the new loan of borrower 9
    table.rebuild(ids, new)
    np.testing.assert_array_equal(table.ids, [1, 5, 9])
    np.testing.assert_array_equal(table.balance, [100.0, 500.0, 123.0])
    assert table.dead.size == 0


def test_closing_every_row_then_merging() -> None:
    """With every old row dead, a rebuild leaves exactly the new loans."""
    table = _table([2, 5])
    table.close(np.array([0, 1]))
    table.rebuild(*_loans([3]))
    np.testing.assert_array_equal(table.ids, [3])
    _assert_rows_match_ids(table)


def test_close_of_no_rows_changes_nothing() -> None:
    """Closing an empty set of rows marks nothing dead."""
    table = _table([2, 5])
    table.close(np.zeros(0, dtype=np.intp))
    assert table.dead.size == 0
    np.testing.assert_array_equal(table.own, [1.0, 1.0])


def test_rebuild_with_nothing_to_do_keeps_the_arrays() -> None:
    """No dead rows and no new loans: the same column objects stay in place."""
    table = _table([2, 5])
    balance = table.balance
    table.rebuild()
    assert table.balance is balance


def test_remove_ids_marks_those_borrowers_rows_dead() -> None:
    """Removing borrowers 5 and 9 of 2, 5, 9 kills rows 1 and 2; after a rebuild only 2 is left."""
    table = _table([2, 5, 9], own=0.4)
    table.remove_ids(np.array([5, 9]))
    np.testing.assert_array_equal(np.sort(table.dead), [1, 2])
    np.testing.assert_array_equal(table.own, [0.4, 1.0, 1.0])
    table.rebuild()
    np.testing.assert_array_equal(table.ids, [2])


def test_full_spreads_a_column_over_borrowers_with_a_fill() -> None:
    """Over 6 borrowers with loans for 1 and 4: their values there, the fill elsewhere."""
    table = _table([1, 4], own=0.3)  # co-lent, funded in part by lender 7
    np.testing.assert_array_equal(table.full("balance", 6), [0, 100, 0, 0, 400, 0])
    np.testing.assert_array_equal(table.full("funder", 6, NO_LENDER), [-1, 7, -1, -1, 7, -1])
    np.testing.assert_array_equal(table.full("own", 6, 1.0), [1, 0.3, 1, 1, 0.3, 1])
    assert table.full("months_left", 6).dtype == np.int32
    assert table.full("funder", 6, NO_LENDER, np.int32).dtype == np.int32


def test_full_leaves_out_dead_rows() -> None:
    """A loan closed but not yet dropped reads as the fill."""
    table = _table([1, 4])
    table.close(np.array([1]))
    np.testing.assert_array_equal(table.full("balance", 5, fill=-1.0), [-1, 100, -1, -1, -1])
    np.testing.assert_array_equal(table.full("own", 5, fill=1.0), [1, 1, 1, 1, 1])


def test_full_is_read_only() -> None:
    """Writing into the spread-out column raises (it is a copy that must not be edited)."""
    table = _table([1, 4])
    out = table.full("balance", 6)
    assert not out.flags.writeable
    with pytest.raises(ValueError):
        out[0] = 1.0
