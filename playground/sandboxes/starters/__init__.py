"""Starter programs for a program sandbox: small servers written for the playground,
one per step of the Japanese tutorial (../shared/seeds, docs/starters.md).

Each starter is one Python file, kept twice: ``en/<id>.py.txt`` with English comments
and ``ja/<id>.py.txt`` with Japanese ones. Only the comments differ (a test compares the
two token by token), so a learner who switches language reads the same program. The
files are data, not modules of the site (``.txt``: never imported, linted or counted as
the playground's code); the sandbox's launcher runs the copy written into the learner's
folder as ``main.py``.

Every starter listens on the port the playground gives it (``sys.argv[1]`` or ``PORT``)
and runs with the system Python and the standard library only, except "henaserver",
which imports the ``henaserver`` package bound read-only into its sandbox
(``ProgramSpec.with_henaserver``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ...files import starter as starter_site

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Starter:
    id: str
    step: int  # its place in the tutorial's order (the list is shown in this order)
    title: Promise
    summary: Promise
    # Where the starter site (index.html, index.css, logo.png) goes in the sandbox's
    # folder, for a starter that serves files ("" = the folder itself); None: no files.
    site_folder: str | None = None
    # Runs ``python -m henaserver``-like code: the sandbox needs the package bound in.
    with_henaserver: bool = False
    main_file: str = "main.py"


STARTERS: tuple[Starter, ...] = (
    Starter(
        id="save-request", step=1,
        title=_("Save the request, answer nothing"),
        summary=_("Writes each request to server_recv.txt and closes without a word, like "
                  "the tutorial's first TCP server."),
    ),
    Starter(
        id="saved-response", step=2,
        title=_("Answer with a saved raw response"),
        summary=_("Sends the bytes of server_send.txt (Apache's “It works!”) to every "
                  "request."),
    ),
    Starter(
        id="once", step=3,
        title=_("Answer once, then exit"),
        summary=_("Answers the first request and exits: the page's stylesheet and image "
                  "find nobody listening."),
    ),
    Starter(
        id="loop", step=4,
        title=_("Loop: answer every request"),
        summary=_("Builds a response by hand, line by line with \\r\\n, for every "
                  "connection."),
    ),
    Starter(
        id="static", step=5,
        title=_("Static files with a Content-Type table"),
        summary=_("Serves the files of static/ with a hand-written table from extension "
                  "to Content-Type, and 404 for the rest."),
        site_folder="static",
    ),
    Starter(
        id="threads", step=6,
        title=_("A thread per connection"),
        summary=_("Answers each connection in its own thread: /slow takes 3 s without "
                  "holding up the others."),
    ),
    Starter(
        id="henaserver", step=7,
        title=_("henaserver itself"),
        summary=_("Runs the playground's own server, the henaserver package, as your "
                  "program: read it, then write your own."),
        site_folder="",
        with_henaserver=True,
    ),
)

_BY_ID = {s.id: s for s in STARTERS}


def all() -> tuple[Starter, ...]:  # starters.all(): shadows the builtin here only
    """Every starter, in the tutorial's order."""
    return tuple(sorted(STARTERS, key=lambda s: s.step))


def get(starter_id: str) -> Starter | None:
    """The starter of that id, or None (an id from a request: check it with this)."""
    return _BY_ID.get(starter_id) if isinstance(starter_id, str) else None


def language_of(language: str | None) -> str:
    """"ja", "ja-jp", "en-us"... -> a language the starters are written in."""
    base = (language or "").lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def path_of(starter_id: str, language: str | None) -> Path:
    if starter_id not in _BY_ID:
        raise KeyError(starter_id)
    return HERE / language_of(language) / f"{starter_id}.py.txt"


def source(starter_id: str, language: str | None) -> str:
    """The starter's main file, commented in ``language`` (English for any other).
    KeyError for an unknown id: check it with ``get`` first."""
    return path_of(starter_id, language).read_text(encoding="utf-8")


def files(starter_id: str) -> list[tuple[str, list[bytes]]]:
    """The other files the starter needs besides its main file, as ``(path, chunks)``
    pairs for SiteFiles.write_many (the starter site for one that serves files)."""
    found = _BY_ID.get(starter_id)
    if found is None or found.site_folder is None:
        return []
    prefix = f"{found.site_folder}/" if found.site_folder else ""
    return [(prefix + name, chunks) for name, chunks in starter_site.items()]


def page_data() -> list[dict[str, object]]:
    """The list as the create form shows it, in the request's language."""
    return [{"id": s.id, "step": s.step, "title": str(s.title), "summary": str(s.summary),
             "with_henaserver": s.with_henaserver} for s in all()]
