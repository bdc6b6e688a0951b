"""The package's layers: imports flow one way (core ← models ← db ← engine ← the rest), no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "django_qstash"

BASE = {"base"}  # django_qstash/__init__.py, conf.py, exceptions.py
CORE = BASE | {"core"}
MODELS = CORE | {"models"}
DB = MODELS | {"db"}
ENGINE = DB | {"engine"}
# What each part may import (its own part is always allowed). Parts not listed are the outer
# shells (apps, checks, urls, tasks, management commands, testing, pytest plugin, broker,
# devserver): they wire everything together and may import anything.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "core": BASE,
    "models": CORE,
    "db": MODELS,
    "engine": DB,
    "delivery": ENGINE,
    "api": ENGINE,
    "receiver": MODELS,  # verification alone; the models only for the server's own keys
    "client": ENGINE,
    "tasks_backend": ENGINE | {"client", "receiver"},
    "admin": ENGINE | {"tasks_backend"},  # task results: run a task again
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")
            if "migrations" not in path.parts}


def part(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("conf", "exceptions"):
        return "base"
    return parts[1]


def imports(path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """Every import of a django_qstash module, at module level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; use the full path")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django_qstash"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.append((node.lineno, child if child in known else node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("django_qstash")]
    return [(line, name) for line, name in found if name in known]


def graph() -> tuple[dict[str, Path], dict[str, list[tuple[int, str]]]]:
    known = modules()
    return known, {name: imports(path, known) for name, path in known.items()}


def cycles(edges: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for _, child in children:
                if child == node:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles():
    _, edges = graph()
    assert cycles(edges) == []


def test_imports_flow_one_way():
    known, edges = graph()
    wrong = []
    for name, found in edges.items():
        here = part(name)
        if here not in ALLOWED:
            continue
        for line, target in found:
            there = part(target)
            if there != here and there not in ALLOWED[here]:
                wrong.append(f"{known[name].relative_to(PACKAGE.parent)}:{line} ({here}) "
                             f"imports {target} ({there})")
    assert wrong == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    edges = {"django_qstash.core.a": [(1, "django_qstash.engine.b")],
             "django_qstash.engine.b": [(1, "django_qstash.core.a")]}
    assert cycles(edges) == [["django_qstash.core.a", "django_qstash.engine.b"]]
    assert "engine" not in ALLOWED["core"]


@pytest.mark.parametrize("public", [
    "django_qstash.receiver", "django_qstash.testing", "django_qstash.client", "django_qstash.urls",
    "django_qstash.broker", "django_qstash.tasks",
])
def test_public_import_paths_stay(public):
    assert public in modules()
