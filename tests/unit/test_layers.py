"""The house's floors: no import circle, and each layer imports only the layers below it.

The import graph is read from the source with ``ast`` (nothing is imported):
an edge ``a -> b`` for every runtime ``import b`` / ``from b import ...`` in
``a`` (imports under ``if TYPE_CHECKING:`` are for type hints only and do not
count). The layers, lowest first:

* the core: ``agents/`` and ``sim/`` except ``sim/output/``, ``sim/run.py``, ``sim/api.py``,
  ``sim/cli.py`` and ``sim/__main__.py``; it never writes a file;
* ``sim/output/`` (files, tables, plots, result records);
* ``sim/run.py``, the Python API (``sim/api.py``) and the command line (``sim/cli.py``,
  ``sim/__main__.py``);
* ``scenarios/`` (calibration, sweeps, comparison) and ``benchmarks/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "sim", "scenarios", "benchmarks")
ENTRY = {"sim.run", "sim.cli", "sim.__main__", "sim.api"}
WRITES = {"write_text", "write_bytes", "to_csv", "to_parquet", "savefig", "mkdir", "unlink"}


def module_name(path: Path) -> str:
    """Dotted module name of a file under the project root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
}


def _runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node outside ``if TYPE_CHECKING:`` blocks."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return [n for n in ast.walk(tree) if id(n) not in hidden]


def imports_of(name: str) -> set[str]:
    """Project modules ``name`` imports at run time (a package import counts as its module)."""
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(MODULES[name].read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target not in PACKAGES:
                out.add(target)
    return out


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    """0 core, 1 output, 2 run and command line, 3 scenario tools and benchmarks."""
    if name.startswith(("scenarios", "benchmarks")):
        return 3
    if name in ENTRY:
        return 2
    if name.startswith("sim.output"):
        return 1
    return 0


def test_the_graph_is_read():
    """The checker sees the model's real imports (so the other tests can fail)."""
    assert "sim.market" in GRAPH["sim.model"]
    assert "agents.lenders" in GRAPH["sim.regulator"]
    assert "sim.model" not in GRAPH["agents.lenders"]  # a TYPE_CHECKING import only


def test_no_import_circle():
    """No module reaches itself through its imports (depth-first search for a back edge)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(GRAPH[name]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_lower_layers(name):
    """A module imports its own layer or lower ones: the core knows no files or tools."""
    higher = sorted(t for t in GRAPH[name] if layer(t) > layer(name))
    assert not higher, f"{name} (layer {layer(name)}) imports {higher}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) == 0))
def test_core_writes_no_file(name):
    """No core module opens a file or calls a file-writing method."""
    calls = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                calls.add("open")
            if isinstance(func, ast.Attribute) and func.attr in WRITES:
                calls.add(func.attr)
    assert not calls, f"{name} calls {sorted(calls)}"


def test_agents_never_import_the_model():
    """``agents/`` stands below the model: no agent module imports ``sim.model`` at run time."""
    offenders = [n for n in MODULES if n.startswith("agents") and "sim.model" in GRAPH[n]]
    assert not offenders
