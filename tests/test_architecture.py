"""The house's rules, checked on the source (docs/architecture.md): no import cycle
between modules, imports inside functions included; no module over 400 lines; the
layers import one way; henaserver stands alone."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("henaserver", "playground")
MAX_LINES = 400

# Modules of the site shell that every package may use, so they import no package.
SHELL_CORE = {"playground.models", "playground.class_models", "playground.refusals",
              "playground.errors",
              "playground.accounts", "playground.origins", "playground.language",
              "playground.middleware", "playground.deployment", "playground.settings"}
# Modules that stay Django-free (tested on their own, with real processes and bytes).
DJANGO_FREE = {"playground.refusals", "playground.sandboxes.supervisor",
               "playground.sandboxes.children", "playground.sandboxes.programs",
               "playground.sandboxes.cgroups", "playground.sandboxes.confine",
               "playground.sandboxes.folder_watch",
               "playground.sandboxes.exits", "playground.sandboxes.pipes",
               "playground.sandboxes.ports",
               "playground.files.safepaths", "playground.files.sitefiles",
               "playground.files.atomic", "playground.files.beneath",
               "playground.files.batch", "playground.compose.composer",
               "playground.compose.curl",
               "playground.traffic.heads", "playground.traffic.exports"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every project module ``name`` imports, at any depth of its code (function-level
    imports included): ``from pkg import sub`` counts as importing ``pkg.sub``."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # A name that is a submodule is that module; any other name comes from
            # ``module`` itself.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES
                       else module for alias in node.names]
        else:
            continue
        for target in targets:
            # The longest project module the target names (a module, not an attribute).
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_function_level_imports():
    # control.py once imported sandboxes.py inside a function to hide a cycle: the
    # checker must see such imports, or it would pass on exactly what it is for.
    source = "def f():\n    from .b import g\n"
    tree_path = REPO / "test-data" / "arch_probe" / "a.py"
    tree_path.parent.mkdir(parents=True, exist_ok=True)
    tree_path.write_text(source)
    MODULES["probe.a"], MODULES["probe.b"] = tree_path, tree_path
    try:
        assert "probe.b" in _imports("probe.a", tree_path)
    finally:
        del MODULES["probe.a"], MODULES["probe.b"]


def test_no_import_cycle():
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_the_cycle_finder_finds_one(monkeypatch):
    monkeypatch.setitem(GRAPH, "playground.models", GRAPH["playground.models"] |
                        {"playground.sandboxes.lifecycle"})
    assert _cycle() is not None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_400_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by idea"


def test_henaserver_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"henaserver", "__future__"}
    for name, path in MODULES.items():
        if not name.startswith("henaserver"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{name} imports {roots}"


def test_the_shell_core_imports_no_package():
    packages = ("playground.sandboxes", "playground.traffic", "playground.files",
                "playground.compose", "playground.learn", "playground.checking",
                "playground.classes")
    for name in SHELL_CORE:
        bad = sorted(t for t in GRAPH[name] if t.startswith(packages))
        assert not bad, f"{name} (the site shell) imports {bad}"


def test_django_free_modules_stay_so():
    for name in DJANGO_FREE:
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            roots = []
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            assert not {"django", "channels"} & set(roots), name
        closure = GRAPH[name]
        assert not closure - DJANGO_FREE, f"{name} imports {sorted(closure - DJANGO_FREE)}"


def test_data_flows_one_way():
    """henaserver -> supervisor -> ingest -> database + channel layer -> consumer: the
    traffic side never reaches back into the process side, and the supervisor knows
    nothing of Django, ingest or viewers."""
    assert not GRAPH["playground.traffic.ingest"] & {
        "playground.sandboxes.lifecycle", "playground.sandboxes.runtime",
        "playground.sandboxes.supervisor", "playground.traffic.consumer"}
    assert GRAPH["playground.sandboxes.supervisor"] <= DJANGO_FREE
    assert not any(t.startswith("henaserver") for name in GRAPH if
                   name.startswith("playground") for t in GRAPH[name])


def test_tests_mirror_the_packages():
    for package in ("sandboxes", "traffic", "files", "compose", "learn"):
        folder = REPO / "tests" / "playground" / package
        assert list(folder.glob("test_*.py")), f"no tests/playground/{package}/test_*.py"
