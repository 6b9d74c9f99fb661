"""docs/scale.md (issue 15, point 6) names the functions a remote scheduler would
replace: each must exist in the code under that name, so the design stays true to the
code it describes when that code is renamed or moved."""

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "scale.md"
MODULES = ("supervisor", "runtime", "lifecycle", "control")
NAMED = re.compile(r"`(" + "|".join(MODULES) + r")\.(?!py`)([A-Za-z_][\w.]*)`")


def test_every_function_the_design_names_exists():
    named = NAMED.findall(DOC.read_text())
    # The seam is named in full: the supervisor's interface and the three modules.
    assert {module for module, _ in named} == set(MODULES), named
    for module, path in named:
        found = importlib.import_module(f"playground.sandboxes.{module}")
        for part in path.split("."):
            assert hasattr(found, part), f"docs/scale.md names {module}.{path}: no {part}"
            found = getattr(found, part)
        assert callable(found), f"{module}.{path} is not a function"


def test_the_design_gives_the_measured_figures():
    text = DOC.read_text()
    assert "@" not in re.sub(r"`[^`]*`", "", text), "a figure is still a placeholder"
    for words in ("Kubernetes", "Nomad", "relay beside it", "load balancer",
                  "channels_redis", "PostgreSQL", "When a machine is lost"):
        assert words in text, words
