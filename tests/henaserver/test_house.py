"""The house rules of henaserver, checked (STYLE.md, and the dev guide):

- standard library only, and never the playground;
- no import cycles, counting imports inside functions;
- every module under 400 lines, so each stays one idea a learner can read;
- mode names are compared in one place, modes.py (everything else asks the policy).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "henaserver"
MODULES = sorted(PACKAGE.glob("*.py"))
MAX_LINES = 400


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), str(path))


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(henaserver modules, other top-level packages) imported anywhere in a module."""
    ours, others = set(), set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y, or from . import x
                if node.module:
                    ours.add(node.module.split(".")[0])
                else:
                    ours.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == "henaserver":
                ours.add(node.module.split(".")[1] if "." in node.module else "__init__")
            elif node.module:
                others.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "henaserver":
                    ours.add(alias.name.split(".")[1] if "." in alias.name else "__init__")
                else:
                    others.add(top)
    return ours, others


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_standard_library_only(path: Path) -> None:
    _, others = imports(path)
    assert others <= set(sys.stdlib_module_names) | {"__future__"}, others


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_module_is_under_400_lines(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines < MAX_LINES, f"{path.name} has {lines} lines: split it by idea"


def test_no_import_cycles() -> None:
    graph = {path.stem: imports(path)[0] - {path.stem} for path in MODULES}
    assert all(target in graph for targets in graph.values() for target in targets)
    # The package's __init__ imports its public names; nothing may import it back.
    assert not any("__init__" in targets for targets in graph.values())
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_mode_names_are_compared_only_in_modes_py() -> None:
    from henaserver.modes import MODES

    for path in MODULES:
        if path.name == "modes.py":
            continue
        names = {node.value for node in ast.walk(tree(path))
                 if isinstance(node, ast.Constant) and node.value in MODES}
        assert not names, f"{path.name} names modes {names}: ask the ModePolicy instead"
