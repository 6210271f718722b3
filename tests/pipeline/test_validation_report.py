"""docs/ODD.md's calibration-and-validation tables match the committed files they come from."""

from __future__ import annotations

from scenarios.validation_report import END, ROOT, START, render, replace_block


def test_odd_tables_match_the_committed_files() -> None:
    """The block between the markers is exactly what the committed record, recovery and
    back-test files render (regenerate: ``python -m scenarios.validation_report --write
    docs/ODD.md``).
    """
    document = (ROOT / "docs" / "ODD.md").read_text()
    block = document[document.index(START) : document.index(END) + len(END)]
    assert block == render()


def test_replace_block_swaps_only_the_marked_part() -> None:
    """Text around the markers is kept; a document without them gets the block appended."""
    doc = f"a\n{START}\nold\n{END}\nb\n"
    assert replace_block(doc, f"{START}\nnew\n{END}") == f"a\n{START}\nnew\n{END}\nb\n"
    assert replace_block("a\n", "X") == "a\n\nX\n"
