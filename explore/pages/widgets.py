"""Small pieces both pages use: an HTML table, a figure with its downloads."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import solara


def html_table(rows: Sequence[dict[str, str]], classes: str) -> str:
    """Rows (dicts of text, the first row's keys as header) as an HTML table."""
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f'<tr data-row="{html.escape(str(row[columns[0]]))}">'
        + "".join(
            f'<td data-column="{html.escape(c)}">{html.escape(str(row.get(c, "")))}</td>'
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    style = "border-collapse:collapse;font-size:13px"
    return f'<table class="{classes}" style="{style}"><tr>{head}</tr>{body}</table>'


TABLE_CSS = """
.explore-table td, .explore-table th {border: 1px solid #ddd; padding: 3px 8px; text-align: right}
.explore-table th {background: #f3f3f3}
.explore-table td:first-child {text-align: left}
.lever-note {font-size: 11px; color: #666; margin: -6px 0 6px 0}
"""


@solara.component
def FigureCard(title: str, png: Path, name: str) -> None:
    """A figure (its PNG) with buttons to download the PNG and the SVG beside it."""
    png = Path(png)
    svg = png.with_suffix(".svg")
    with solara.Card(title, classes=[f"chart-{name}", "chart"]):
        solara.Image(png.read_bytes(), width="100%")
        with solara.Row():
            solara.FileDownload(
                png.read_bytes, filename=png.name, label=f"PNG ({png.name})", mime_type="image/png"
            )
            if svg.is_file():
                solara.FileDownload(
                    svg.read_bytes,
                    filename=svg.name,
                    label=f"SVG ({svg.name})",
                    mime_type="image/svg+xml",
                )
