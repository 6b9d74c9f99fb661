"""Browser tests of program sandboxes (a learner's own server, under bubblewrap behind
the capture relay): what tests/e2e/test_program_e2e.py and test_checks_e2e.py share.
The fixtures ``isolation`` and ``program_playground`` are in tests/e2e/conftest.py; a
module whose playgrounds run programs also takes this module's ``tmp_path``:

    from testkit.program_pages import reachable_tmp_path  # noqa: F401 (the tmp_path fixture)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.program_api import reachable_folder
from testkit.waiting import wait_until


@pytest.fixture(name="tmp_path")
def reachable_tmp_path() -> Iterator[Path]:
    """The module's playgrounds live in a folder a program's own uid can reach: bwrap,
    run as that uid, cannot bind a folder under pytest's /tmp/pytest-of-root, which
    every pytest run on the machine sets back to 0700."""
    with reachable_folder() as folder:
        yield folder


def new_page(browser: Any, site: Any, locale: str, **options: Any
             ) -> tuple[Any, Any, list[str]]:
    """A new browser session in ``locale`` on the site's home page: (context, page, the
    page's uncaught exceptions). ``options``: more of the context's (another viewport,
    permissions)."""
    context = browser.new_context(**{"locale": locale, "viewport": {"width": 1200, "height": 900},
                                     **options})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + "/")
    return context, page, errors


def log_of(site: Any) -> str:
    """The end of a playground's console, without its access log: why a start failed."""
    return "\n".join(line for line in site.output().splitlines()
                     if "HTTP GET" not in line)[-5000:]


def running(page: Any, other_than: int | None = None,
            log: Callable[[], str] = lambda: "") -> dict:
    """Wait until the sandbox of this page runs (a process other than ``other_than``),
    asked as the page's own script asks (its api()); then the card says so too."""
    url = page.get_attribute("#sandbox-card", "data-sandbox-url")
    last: dict = {}

    def started() -> dict | None:
        last.update(page.evaluate("(url) => PG.api('GET', url)", url))
        return dict(last) if last["status"] == "running" and last["pid"] != other_than \
            else None
    sandbox = wait_until(started, 30, "the program to run", explain=lambda: str(
        {k: last.get(k) for k in ("status", "problem", "stderr_tail", "port")})
        + page.inner_text("#messages") + log())
    page.wait_for_selector("#sandbox-card .card[data-status=running]")
    return sandbox
