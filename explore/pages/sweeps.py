"""The Sweeps page: open a sweep directory, read its summary, table, figures, discovery."""

from __future__ import annotations

from pathlib import Path

import solara

from explore.pages.widgets import TABLE_CSS, FigureCard
from explore.paths import sweeps_root
from explore.sweeps import filter_points, find_sweeps, load_sweep

path = solara.reactive("")
chosen: solara.Reactive[dict[str, list[str]]] = solara.reactive({})
metrics: solara.Reactive[list[str]] = solara.reactive([])


@solara.component
def Discovery(files: list[Path]) -> None:
    """Discovery results: Markdown shown, tables listed, figures drawn."""
    with solara.Card("Discovery", classes=["sweep-discovery"]):
        for file in files:
            if file.suffix == ".md":
                solara.Markdown(file.read_text(encoding="utf-8"))
            elif file.suffix == ".csv":
                import pandas as pd

                solara.Text(file.name)
                solara.DataFrame(pd.read_csv(file), items_per_page=10)
            elif file.suffix == ".png":
                FigureCard(file.stem.replace("_", " "), file, file.stem)
            else:
                solara.Text(f"{file.name} ({file.stat().st_size:,} bytes)")


@solara.component
def Page() -> None:
    """The Sweeps page."""
    solara.Style(TABLE_CSS)
    solara.Title("lendsim explorer: sweeps")
    found = find_sweeps(sweeps_root())
    options = [str(p) for p in found]
    with solara.Card("Sweep", classes=["sweep-picker"]):
        if options:
            solara.Select(
                f"a sweep under {sweeps_root()}",
                values=options,
                value=path.value if path.value in options else None,
                on_value=lambda v: (path.set(v or ""), chosen.set({})),
            )
        else:
            solara.Text(f"No sweep under {sweeps_root()} yet (python -m sim sweep=rate_cap).")
        solara.InputText("or a path", value=path, classes=["sweep-path"])
    if not path.value:
        return
    try:
        sweep = load_sweep(Path(path.value))
    except FileNotFoundError as exc:
        solara.Error(str(exc), classes=["sweep-error"])
        return
    if sweep.summary:
        with solara.Card("summary.md", classes=["sweep-summary"]):
            solara.Markdown(sweep.summary)
    if sweep.comparison is not None:
        table = sweep.comparison
        with solara.Card("Comparison (comparison.csv)", classes=["sweep-comparison"]):
            with solara.Row():
                for column in sweep.parameters:
                    every = sorted({str(v) for v in table[column]})
                    solara.SelectMultiple(
                        column,
                        values=chosen.value.get(column, []),
                        all_values=every,
                        on_value=lambda v, c=column: chosen.set({**chosen.value, c: v}),
                    )
                solara.SelectMultiple(
                    "metric",
                    values=metrics.value,
                    all_values=list(dict.fromkeys(table["metric"])),
                    on_value=metrics.set,
                )
            shown = filter_points(table, chosen.value, metrics.value)
            solara.Text(f"{len(shown)} of {len(table)} rows", classes=["sweep-rows"])
            solara.DataFrame(shown, items_per_page=20)
    for figure in sweep.figures:
        FigureCard(figure.stem.replace("_", " "), figure, figure.stem)
    if sweep.discovery:
        Discovery(sweep.discovery)
