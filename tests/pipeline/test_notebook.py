"""The quickstart notebook runs from top to bottom, as a reader would run it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the notebook extra, which make test installs
NotebookClient = pytest.importorskip("nbclient").NotebookClient
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes(tmp_path):
    """Every cell of docs/examples/quickstart.ipynb runs without an error (nbclient raises on
    the first failing cell), and the comparison cell shows the paired 2030 difference.
    """
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(  # the timeout guards against a hung kernel, not a slow machine
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    client.execute(env={**os.environ, "PYTHONPATH": path})  # the kernel imports this checkout
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "difference" in shown and "tightening" in shown
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot was drawn
