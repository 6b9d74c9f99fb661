"""The guided tour (/tour/): the Japanese tutorial's steps in its order, each set up in
one click on the learner's own "tour" sandbox.

Step content is data here, in one place, with gettext_lazy strings so both languages
come from locale/ja (docs/i18n.md). Setting a step up only calls the services the rest
of the site uses (lifecycle.create/start/stop, modes.save, the starter site): the tour
adds no second way of running a sandbox.

The tutorial (../shared/seeds) goes: a TCP server records what Chrome sends (STEP2);
a TCP client replays it to Apache and records the answer (STEP3); the server sends
Apache's recorded answer back to Chrome (STEP4); a one-shot server meets a page with a
stylesheet and an image; a loop answers them all, but with a fixed Content-Type the
CSS is ignored; a proper Content-Type fixes it. Keep-alive is the playground's epilogue:
henaserver reuses connections where the tutorial opened one per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import ensure_csrf_cookie

from ..compose import presets
from ..errors import ApiError, api
from ..files import starter
from ..files.storage import files_of
from ..models import Sandbox
from ..sandboxes import lifecycle, modes
from ..sandboxes.api import start_or_explain
from ..sandboxes.ownership import owned
from ..sandboxes.presenters import to_json

# The learner's tour sandbox is found by this name among their own sandboxes.
TOUR_SANDBOX_NAME = "tour"


@dataclass(frozen=True)
class Step:
    slug: str
    title: Promise
    goal: Promise
    look_for: tuple[Promise, ...]
    mode: str
    # Where "Open the sandbox" points: a path on the sandbox, or None when the step is
    # done from the traffic page's composer instead.
    open_path: str | None = "/"
    compose_template: str | None = None  # a presets.request_templates id
    chapter: Promise | None = None  # where the tutorial does this
    # "Check my server" (playground/checking): the step offers the checks of stages
    # 1..checks_through on the tour sandbox, and says what they show. The stage the
    # step's mode reaches is the docs/checks.md table's (tests/playground/learn/test_tour.py).
    checks_through: int | None = None
    checks_reach: int | None = None
    checks_note: Promise | None = None


STEPS: tuple[Step, ...] = (
    Step(
        slug="see-what-chrome-sends",
        chapter=_("STEP2: a TCP server that saves what it receives"),
        title=_("See what Chrome sends"),
        goal=_("The server records the request and closes the connection without a word, "
               "like the tutorial's first TCP server. Your browser shows an error, but "
               "the traffic view has every byte it sent."),
        look_for=(
            _("In the traffic view, a row “GET /” whose status says “no response "
              "(record-only)”."),
            _("Click it: the request line, then Host, User-Agent, Accept… each header on "
              "its own line ending in ␍␊, and an empty line at the end."),
            _("Hover a header name to read what it means."),
        ),
        mode=modes.RECORD_ONLY,
        checks_through=2, checks_reach=1,
        checks_note=_("Stage 1 passes: the server reads the whole request. Stage 2 fails: it "
                      "answers nothing at all."),
    ),
    Step(
        slug="replay-with-the-composer",
        chapter=_("STEP3: a TCP client talks to Apache"),
        title=_("Replay it with the composer"),
        goal=_("Send the same bytes yourself, like the tutorial's TCP client sending "
               "client_send.txt, and read what a real server answers."),
        look_for=(
            _("The composer is filled with a browser-like GET: press Send."),
            _("The answer starts with a status line, “HTTP/1.1 200 OK”, then headers, "
              "an empty line and the page."),
            _("The exchange also appears in the traffic list, like a browser's."),
        ),
        mode=modes.FULL,
        open_path=None,
        compose_template="browser",
    ),
    Step(
        slug="answer-like-apache",
        chapter=_("STEP4: the server sends Apache's reply"),
        title=_("Answer with Apache's recorded reply"),
        goal=_("Every request now gets the exact bytes Apache sent to the tutorial's "
               "client. The browser cannot tell the difference: HTTP is only bytes."),
        look_for=(
            _("The sandbox's tab shows “It works!”."),
            _("In the traffic view, the response says “Server: Apache/2.4.41 (Unix)”, "
              "although henaserver sent it."),
        ),
        mode=modes.FIXED,
        checks_through=5, checks_reach=4,
        checks_note=_("Stages 1 to 4 pass: Apache's reply is a valid answer, every time. Stage "
                      "5 fails: every path gets the same page, a missing file too."),
    ),
    Step(
        slug="one-request-then-exit",
        chapter=_("Answering only once"),
        title=_("One request, then exit: CSS and images fail"),
        goal=_("The server answers one request and exits, like the tutorial's server "
               "before its loop. The page has a stylesheet and a logo: the browser asks "
               "for them next, and nobody is listening any more."),
        look_for=(
            _("The heading is black and the logo is missing."),
            _("The traffic view has only “GET /index.html”; the sandbox shows as stopped."),
        ),
        mode=modes.ONCE,
        open_path="/index.html",
        checks_through=4, checks_reach=3,
        checks_note=_("Stages 1 to 3 pass on the first request. Stage 4 fails: nothing "
                      "answers the next one. The checks use up its one answer: set the "
                      "step up again before you open it in the browser."),
    ),
    Step(
        slug="loop",
        chapter=_("Answering requests repeatedly"),
        title=_("Loop: answer every request"),
        goal=_("Now the server answers request after request, so the logo arrives and "
               "every reload works. But, like the tutorial's server at this point, it "
               "says “Content-Type: text/html” for every file."),
        look_for=(
            _("Reload the page a few times: it loads every time, with the logo."),
            _("The heading is still black: open the “GET /index.css” row and find "
              "“Content-Type: text/html”. The browser refuses a stylesheet that does not "
              "arrive as text/css."),
        ),
        mode=modes.NO_CONTENT_TYPE,
        open_path="/index.html",
        checks_through=6, checks_reach=5,
        checks_note=_("Stages 1 to 5 pass. Stage 6 fails: the stylesheet, the image and the "
                      "script all arrive as text/html."),
    ),
    Step(
        slug="content-type",
        chapter=_("Returning the right Content-Type"),
        title=_("Content-Type fixed"),
        goal=_("The server now names each file's type from its extension, as the "
               "tutorial's last step does: text/html, text/css, image/png."),
        look_for=(
            _("The heading is red. (Reload with Ctrl+Shift+R if it is not: the browser may "
              "have kept the old answer.)"),
            _("The “GET /index.css” row's response says “Content-Type: text/css”."),
        ),
        mode=modes.FULL,
        open_path="/index.html",
        checks_through=6, checks_reach=6,
        checks_note=_("Stages 1 to 6 pass: the tutorial's server is complete."),
    ),
    Step(
        slug="keep-alive",
        chapter=_("Beyond the tutorial: keep-alive"),
        title=_("Keep-alive: one connection, many requests"),
        goal=_("The tutorial's server closed the connection after every response. "
               "henaserver keeps it open, so the browser sends its next requests on the "
               "same connection (RFC 9112 §9.3)."),
        look_for=(
            _("Reload the page a few times, then look at the “conn” column: “↺ 1.2” "
              "means the third request on connection 1."),
            _("The counters show fewer connections than requests."),
        ),
        mode=modes.FULL,
        open_path="/index.html",
        checks_through=12, checks_reach=12,
        checks_note=_("All 12 stages pass: keep-alive, HEAD, a slow client, a malformed "
                      "request, a path outside the folder and conditional requests too."),
    ),
)
BY_SLUG = {step.slug: step for step in STEPS}


def steps_json() -> list[dict]:
    """The steps as the page and its script need them (lazy strings become the current
    language's text when serialised)."""
    return [{
        "number": number, "slug": s.slug, "title": str(s.title), "goal": str(s.goal),
        "chapter": str(s.chapter) if s.chapter else "",
        "look_for": [str(item) for item in s.look_for], "mode": s.mode,
        "mode_label": gettext(modes.MODE_INFO[s.mode][0]),
        "setup_url": reverse("playground:api-tour-setup", args=[s.slug]),
        "checks_through": s.checks_through, "checks_reach": s.checks_reach,
        "checks_note": str(s.checks_note) if s.checks_note else "",
    } for number, s in enumerate(STEPS, 1)]


def _tour_sandbox(request: HttpRequest) -> Sandbox:
    """The learner's tour sandbox: reused by name, else created on a free port."""
    existing = owned(request).filter(name=TOUR_SANDBOX_NAME).first()
    if existing is not None:
        return existing
    port = lifecycle.suggest_port(request)
    if port is None:
        raise ApiError(503, _("no free port is left in the playground's range; delete a "
                              "sandbox and try again"))
    return lifecycle.create(request, TOUR_SANDBOX_NAME, port)


def set_up(request: HttpRequest, step: Step) -> tuple[Sandbox, dict]:
    """Put the tour sandbox in the step's state: its mode (Apache's reply for the fixed
    mode), the starter site's three files, and a fresh start: a new run (earlier steps'
    exchanges stay, traffic/runs.py), and a "once" server has its one request left."""
    sandbox = _tour_sandbox(request)
    fields: dict = {"mode": step.mode}
    if step.mode == modes.FIXED:
        fields["fixed_response"] = modes.to_bytes(presets.IT_WORKS)
    modes.save(sandbox, fields)
    # The tour owns this sandbox's starter files: a step always finds them as shipped.
    files_of(sandbox).write_many(starter.items())
    lifecycle.stop(sandbox)
    sandbox = start_or_explain(request, sandbox)
    data = to_json(request, sandbox)
    links = {"traffic": data["links"]["traffic"], "open": None, "page": data["links"]["page"],
             "checks": data["links"].get("checks")}
    if step.open_path is not None:
        links["open"] = data["url"].rstrip("/") + step.open_path
    if step.compose_template:
        # traffic.html's composer reads ?compose= and fills in that template.
        links["compose"] = f"{data['links']['traffic']}?compose={step.compose_template}#composer"
    return sandbox, {"sandbox": data, "links": links}


@ensure_csrf_cookie
def tour_page(request: HttpRequest) -> HttpResponse:
    sandbox = owned(request).filter(name=TOUR_SANDBOX_NAME).first()
    return render(request, "playground/tour.html", {
        "steps": steps_json(),
        "tour_sandbox": sandbox,
        "tour_name": TOUR_SANDBOX_NAME,
    })


@api("POST")
def tour_setup(request: HttpRequest, slug: str) -> JsonResponse:
    step = BY_SLUG.get(slug)
    if step is None:
        raise ApiError(404, _("no such tour step"))
    _sandbox, payload = set_up(request, step)
    return JsonResponse({"step": slug, **payload})
