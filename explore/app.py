"""The explorer's Solara app: the Run and Sweeps pages (``solara run explore.app``)."""

from __future__ import annotations

import solara

from explore.pages import run, sweeps

TITLE = "lendsim explorer"


@solara.component
def Layout(children: list | None = None) -> None:
    """The app bar with a link to each page, then the page."""
    _, routes = solara.use_route()
    with solara.AppLayout(title=TITLE, navigation=False, children=children or []), solara.AppBar():
        for route in routes:
            with solara.Link(solara.resolve_path(route)):
                solara.Button(route.label, text=True, classes=[f"nav-{route.path.strip('/')}"])


routes = [
    solara.Route(path="/", component=run.Page, label="Run", layout=Layout),
    solara.Route(path="sweeps", component=sweeps.Page, label="Sweeps"),
]
