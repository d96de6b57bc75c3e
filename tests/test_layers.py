"""Which way imports go (docs/architecture.md): no import cycle among webapp's modules, not
even one only for type checking; the engine's floors import downwards; sessions/ never
imports Flask or webapp. Read from the source, as a newcomer would draw it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules ``name`` imports at module level (``if TYPE_CHECKING:`` blocks too; not
    imports inside functions, which run later); ``from . import x`` imports ``x``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nodes = [node for node in tree.body if isinstance(node, ast.ImportFrom | ast.Import)]
    for block in (node for node in tree.body if isinstance(node, ast.If)):
        nodes += [node for node in block.body if isinstance(node, ast.ImportFrom | ast.Import)]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(parts + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        submodules = {f"{target}.{alias.name}" for alias in node.names} & set(known)
        found |= submodules or {target}
    return found - {name}


def graph(package: str) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycle_in_webapp():
    assert cycles(graph("webapp")) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_engine_floors_import_downwards():
    edges = graph("webapp")
    for name, targets in edges.items():
        if name.startswith("webapp.engine.ssh"):
            assert not {t for t in targets if t.startswith("webapp.engine.worker")}, name
            assert not {t for t in targets if t.startswith("webapp.engine.")
                        and not t.startswith("webapp.engine.ssh")}, name
        elif name.startswith("webapp.engine.") and not name.startswith("webapp.engine.worker"):
            # the run contract: the worker floor only by name (the job function) or lazily
            assert not {t for t in targets if t.startswith("webapp.engine.worker")
                        and name != "webapp.engine.state"}, name


def test_sessions_never_import_flask_or_webapp():
    for name, targets in graph("sessions").items():
        assert not {t for t in targets if t.split(".")[0] in ("flask", "webapp")}, name
