"""What advice costs (issue 16, point 5): httplint on one exchange, against what storing
that exchange costs the ingest writer, in the same run.

    .venv/bin/python bench/advice_cost.py

The ingest writer stores thousands of exchanges a second in a flood; anything it does per
row multiplies. The reference is exactly its per-row work that depends on the bytes,
``exchanges.from_event`` (base64 decoding, the head's Content-Type, the row built). Each
case is timed as: linting it (``advice.lint``, the cache's miss), reading it from the
cache (a hit), and wording all its notes for the page in English and Japanese
(``advice_api.note_json``, what the detail's request adds). Times are CPU time
(``time.process_time``), the fastest of the rounds, the cases taking turns round by round.

Writes the markdown report to stdout and to bench/results/advice_cost.md.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

import django  # noqa: E402

django.setup()

from django.utils import translation  # noqa: E402

from playground.models import Run  # noqa: E402
from playground.traffic import advice, advice_api, exchanges  # noqa: E402

ROUNDS, REPEAT = 7, 40
BROWSER_GET = (b"GET /index.css HTTP/1.1\r\nHost: localhost:8001\r\nConnection: keep-alive\r\n"
               b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0\r\n"
               b"Accept: text/css,*/*;q=0.1\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
               b"Accept-Language: ja,en;q=0.9\r\nReferer: http://localhost:8001/\r\n\r\n")
DATE = b"Date: Mon, 30 Nov 2026 10:00:01 GMT\r\n"
CASES = {
    "henaserver 200, 5 B of CSS": b"HTTP/1.1 200 OK\r\n" + DATE + (
        b"Content-Type: text/css\r\nContent-Length: 5\r\nETag: \"a\"\r\n"
        b"Last-Modified: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\nbody{"),
    "tutorial: wrong length, no Date": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello!!",
    "henaserver 304": b"HTTP/1.1 304 Not Modified\r\n" + DATE + b"ETag: \"a\"\r\n\r\n",
    "64 KiB of HTML (the recording's cap)": b"HTTP/1.1 200 OK\r\n" + DATE + (
        b"Content-Type: text/html; charset=utf-8\r\nContent-Length: 65536\r\n\r\n"
        + b"<p>" + b"x" * 65529 + b"</p>"),
}


def best(task: Callable[[], object]) -> float:
    """Fastest CPU time of one call, in microseconds, over ROUNDS rounds of REPEAT."""
    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(REPEAT):
            task()
        times.append((time.process_time() - start) / REPEAT)
    return min(times) * 1e6


def event_of(response: bytes) -> dict[str, object]:
    return {"type": "exchange", "number": 1, "conn": 1, "index": 0,
            "client": "127.0.0.1:50000", "method": "GET", "target": "/index.css",
            "version": "HTTP/1.1", "status": 200, "outcome": "complete",
            "request_b64": base64.b64encode(BROWSER_GET).decode(),
            "response_b64": base64.b64encode(response).decode(),
            "request_length": len(BROWSER_GET), "response_length": len(response),
            "times": {"first_byte": 1, "response_end": 2}}


def measure_one(name: str, response: bytes, run: Run) -> tuple[str, float, float, float, float]:
    event = event_of(response)
    cache = advice.Cache()
    found = advice.lint(BROWSER_GET, response)
    cache.put(1, found)

    def word() -> None:
        for language in ("en", "ja"):
            with translation.override(language):
                for note in found.request + found.response:
                    advice_api.note_json(note, language)

    store = best(lambda: exchanges.from_event(1, 1, event, run))
    lint = best(lambda: advice.lint(BROWSER_GET, response))
    hit = best(lambda: cache.get(1))
    return name, store, lint, hit, best(word) / 2


def measure() -> list[tuple[str, float, float, float, float]]:
    run = Run(number=1)
    return [measure_one(name, response, run) for name, response in CASES.items()]


def report(rows: list[tuple[str, float, float, float, float]]) -> str:
    lines = ["| exchange | storing it (reference) | linting it | x reference | "
             "cached | wording its notes, one language |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, store, lint, hit, word in rows:
        lines.append(f"| {name} | {store:.0f} µs | {lint:.0f} µs | {lint / store:.0f}x | "
                     f"{hit:.1f} µs | {word:.0f} µs |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = report(measure())
    print(text)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "advice_cost.md").write_text(text)
