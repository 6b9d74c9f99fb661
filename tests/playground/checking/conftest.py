"""Fixtures for the checks' tests: real servers to check (testkit.checked), and the
stages with shorter timeouts for the checks that wait for a server that never ends."""

from __future__ import annotations

from dataclasses import replace

import pytest
from testkit.checked import Servers

from playground.checking import engine


@pytest.fixture
def servers(tmp_path):
    made = Servers(tmp_path)
    yield made
    made.close()


def stages(*numbers: int, timeout: float | None = None) -> list[engine.Stage]:
    """The stages ``numbers`` (all when none), each check's timeout cut to ``timeout``."""
    chosen = [s for s in engine.STAGES if not numbers or s.number in numbers]
    if timeout is None:
        return chosen
    return [replace(s, checks=tuple(replace(c, timeout=timeout) for c in s.checks))
            for s in chosen]


@pytest.fixture
def check():
    """check(target, *numbers, timeout=None) -> {label: Outcome} of those stages."""
    def run(target: engine.Target, *numbers: int, timeout: float | None = None):
        outcomes = engine.run(target, stages=stages(*numbers, timeout=timeout))
        return {o.label: o for o in outcomes}
    return run
