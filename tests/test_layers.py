"""The layers of the package, bottom to top, and the one rule they keep: an import (lazy
and ``TYPE_CHECKING`` ones too) points to its own layer or one below, and no files import
each other in a circle. docs/design.md shows the same table.

Two faces may know each other: the magics open the panel, and the panel writes magic
lines; they share the top layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import kirin_jupyter

PACKAGE = Path(kirin_jupyter.__file__).parent
NAME = "kirin_jupyter"

# bottom to top: (layer, the folders or top-level modules it holds, what it is)
LAYERS: list[tuple[str, tuple[str, ...], str]] = [
    ("base", ("errors", "version", "base"), "errors, the version, small helpers"),
    ("storage", ("storage",), "journal, host facts, result files and their records"),
    ("model", ("model",), "the models as data, requests, references, quotes"),
    ("service", ("service",), "the wire: HTTP, protocol, answers, the doctor"),
    ("config", ("config",), "settings and settings files"),
    ("engine", ("engine", "simulator"), "loop, jobs, runner, polling; the local service"),
    ("lineage", ("lineage",), "which result fed which"),
    ("money", ("money",), "prices (quotes, estimates) and the budget"),
    ("batches", ("batches",), "batches and sweeps, given requests, prices and a context"),
    ("client", ("client",), "Client composes everything below"),
    ("display", ("display",), "static HTML, live cards, formatters"),
    ("session", ("session", "shortcuts"), "one client per shell; generate() and friends"),
    ("faces", ("magics", "panel", "exporter", "__init__"), "what people use"),
]


def layer_of(module: str) -> int:
    """The layer index of an absolute module name of the package."""
    rest = module[len(NAME) + 1:] if module != NAME else "__init__"
    head = rest.split(".")[0] or "__init__"
    for index, (_name, holds, _what) in enumerate(LAYERS):
        if head in holds:
            return index
    raise AssertionError(f"{module} is on no layer: add it to LAYERS")


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports_of(module: str, path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, wherever the import stands."""
    is_package = path.name == "__init__.py"
    here = module if is_package else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == NAME}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != NAME:
                continue
            for alias in node.names:  # "from . import spec" imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    found.discard(module)
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _graph() -> dict[str, set[str]]:
    return {module: imports_of(module, path) for module, path in modules()}


def test_every_import_points_to_its_own_layer_or_below() -> None:
    upward = []
    for module, targets in _graph().items():
        for target in sorted(targets):
            if target == NAME:
                continue  # the package's face, for __version__: never (checked below)
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} -> {target} "
                              f"({LAYERS[layer_of(module)][0]} -> {LAYERS[layer_of(target)][0]})")
    assert upward == []


def test_nothing_imports_the_package_face() -> None:
    """``from . import __version__`` reached the face (and so every export) from below."""
    faced = [module for module, targets in _graph().items()
             if NAME in targets and module != NAME]
    assert faced == []


def test_no_files_import_each_other_in_a_circle() -> None:
    graph = _graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert circles == []


def test_at_most_fourteen_modules_at_the_top_level() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 14, top


def test_the_checker_sees_a_lazy_import_pointing_up(tmp_path: Path) -> None:
    """The rule holds for imports inside functions and under TYPE_CHECKING too."""
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from ..client import Client\n"
                      "def f():\n    from ..display import static\n")
    found = imports_of(f"{NAME}.model.probe", source)
    assert found == {f"{NAME}.client", f"{NAME}.display.static"}
    assert layer_of(f"{NAME}.client") > layer_of(f"{NAME}.model.probe")
