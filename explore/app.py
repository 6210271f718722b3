"""The explorer's Solara app: the Run and Sweeps pages (``solara run explore.app``)."""

from __future__ import annotations

import solara

from explore.pages import run, sweeps

routes = [
    solara.Route(path="/", component=run.Page, label="Run"),
    solara.Route(path="sweeps", component=sweeps.Page, label="Sweeps"),
]
