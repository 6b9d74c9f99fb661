"""What a request head costs henaserver's parser, per KiB: hostile heads next to normal ones.

    .venv/bin/python bench/parse_cost.py                      # this checkout
    .venv/bin/python bench/parse_cost.py --compare-rev main   # and main's parser, interleaved

A parser whose time grows faster than its input lets one request stall a single-threaded
server (issue 12: 32 KB of spaces before a control byte took seconds in one header line).
Every case below is a head the parser accepts or refuses, built to a given size; each is
timed next to a normal head of the same size (a browser's request, its cookies making up
the size), in the same rounds, and the report gives the ratio. Goal: every hostile case
within 3x the normal one of its size, and its cost per KiB the same at 8 and at 32 KiB
(linear, not quadratic).

It also times the parse of one ordinary browser request (the per-request cost the
throughput benchmark pays), and with ``--compare-rev`` the same cases on another revision's
parser, so a change is measured before and after in one run. Times are CPU time
(``time.process_time``), the fastest of the rounds: the least disturbed by other work on a
shared machine. Each source is measured in its own worker process, the workers taking
turns round by round.

Writes the markdown report to stdout and to bench/results/parse_cost.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
GOAL = 3.0
SIZES = (8 * 1024, 32 * 1024 - 200)  # heads just under the 32 KiB head limit
SLOW = 0.5  # seconds: a case this slow is timed once per round, not in a loop
REPEATS = 5  # loops of ~20 ms per case and round, the fastest kept

BROWSER = (b"GET /assets/app.css?v=3 HTTP/1.1\r\n"
           b"Host: localhost:8000\r\n"
           b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
           b"Firefox/120.0\r\n"
           b"Accept: text/css,*/*;q=0.1\r\n"
           b"Accept-Language: en-US,en;q=0.5\r\n"
           b"Accept-Encoding: gzip, deflate, br\r\n"
           b"Referer: http://localhost:8000/\r\n"
           b"Connection: keep-alive\r\n"
           b"If-Modified-Since: Sat, 28 Nov 2026 10:00:00 GMT\r\n"
           b"If-None-Match: \"5f3e-1a2b\"\r\n")
END = b"\r\n"
CHUNKED = (b"POST /upload HTTP/1.1\r\nHost: localhost:8000\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")


# --- the heads ------------------------------------------------------------------------

def pad(start: bytes, size: int, end: bytes = END) -> bytes:
    """``start`` plus normal cookie lines up to ``size`` bytes, then ``end``."""
    out = bytearray(start)
    n = 0
    while len(out) + len(end) < size:
        room = size - len(out) - len(end)
        line = b"Cookie: session%d=%s\r\n" % (n, b"c0ffee" * 60)
        if len(line) > room:
            line = b"X-Pad: " + b"p" * max(0, room - 9) + b"\r\n"
            line = line[:room] if room >= 10 else b""
            if not line:
                break
        out += line
        n += 1
    return bytes(out + end)


def one_line(prefix: bytes, fill: bytes, suffix: bytes) -> Callable[[int], bytes]:
    """A head whose last field line is ``prefix + fill * n + suffix``, ``size`` in all."""
    def build(size: int) -> bytes:
        start = BROWSER
        room = size - len(start) - len(prefix) - len(suffix) - len(END) * 2
        return start + prefix + fill * (room // len(fill)) + suffix + END + END
    return build


def host(prefix: bytes, fill: bytes, suffix: bytes) -> Callable[[int], bytes]:
    """A head whose only Host field is ``prefix + fill * n + suffix``, ``size`` in all."""
    def build(size: int) -> bytes:
        start = BROWSER.replace(b"Host: localhost:8000\r\n", b"") + b"Host: " + prefix
        room = size - len(start) - len(suffix) - len(END) * 2
        return start + fill * (room // len(fill)) + suffix + END + END
    return build


def trailer(prefix: bytes, fill: bytes, suffix: bytes) -> Callable[[int], bytes]:
    """A chunked request whose one trailer line is ``prefix + fill * n + suffix``."""
    def build(size: int) -> bytes:
        room = size - len(CHUNKED) - len(prefix) - len(suffix) - len(END) * 2
        return CHUNKED + prefix + fill * (room // len(fill)) + suffix + END + END
    return build


def chunk_line(fill: bytes, suffix: bytes) -> Callable[[int], bytes]:
    """A chunked request with one chunk-size line of ``1;`` + fill, as long as allowed."""
    def build(size: int) -> bytes:
        head = CHUNKED[:CHUNKED.index(b"5\r\n")]
        room = 4 * 1024 - 2 - len(suffix)  # the chunk-size line limit
        return head + b"1;" + fill * (room // len(fill)) + suffix + b"\r\nx\r\n0\r\n\r\n"
    return build


def request_line(build_line: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """A request line as long as allowed (8 KiB), then normal fields up to ``size``."""
    def build(size: int) -> bytes:
        return pad(build_line(8 * 1024 - 2) + b"\r\nHost: localhost:8000\r\n", size)
    return build


def normal(size: int) -> bytes:
    return pad(BROWSER, size)


def normal_chunked(size: int) -> bytes:
    """A chunked request with normal trailer fields making up the size."""
    return pad(CHUNKED, size).replace(b"Cookie: ", b"X-Trailer: ")


# name -> (builder, what the parser must answer: None for a parsed request, else a status)
CASES: dict[str, tuple[Callable[[int], bytes], int | None]] = {
    "normal head (browser request + cookies)": (normal, None),
    "field: `X:` + spaces + control byte": (one_line(b"X:", b" ", b"\x01"), 400),
    "field: `X: a` + spaces + control byte": (one_line(b"X: a", b" ", b"\x01"), 400),
    "field: `X:` + tabs + control byte": (one_line(b"X:", b"\t", b"\x01"), 400),
    "field: `X: a` + space/tab + DEL": (one_line(b"X: a", b" \t", b"\x7f"), 400),
    "field: obs-text + control byte": (one_line(b"X: ", b"\x80\xff", b"\x00"), 400),
    "field: `X: a` + spaces + `b` (valid)": (one_line(b"X: a", b" ", b"b"), None),
    "field: `X:` + spaces (valid, empty)": (one_line(b"X:", b" ", b""), None),
    "field: control byte, then spaces": (one_line(b"X: a\x01", b" ", b"b"), 400),
    "field: token name, no colon": (one_line(b"X", b"x", b""), 400),
    "field: token name, space before colon": (one_line(b"X", b"x", b" : v"), 400),
    "field: spaces, then a name (folding)": (one_line(b" ", b" ", b"X: v"), 400),
    "field: token name, bad byte before the colon": (one_line(b"X", b"x", b"(: v"), 400),
    "field: Host of name bytes + `:1:`": (host(b"", b"a", b":1:"), 400),
    "field: Host `[` + colons, no `]`": (host(b"[", b":", b"x"), 400),
    "field: spaces + bare CR": (one_line(b"X: a", b" ", b"\rb"), 400),
    "request line: long target + control byte": (
        request_line(lambda n: b"GET /" + b"a" * (n - 15) + b"\x01 HTTP/1.1"), 400),
    "request line: long target + 2 spaces": (
        request_line(lambda n: b"GET /" + b"a" * (n - 16) + b"  HTTP/1.1"), 400),
    "request line: long method (tchars)": (
        request_line(lambda n: b"G" * (n - 11) + b" / HTTP/1.1"), None),
    "request line: long target + bad version": (
        request_line(lambda n: b"GET /" + b"a" * (n - 15) + b" HTTP/1.x"), 400),
    "chunk-size line: extension of spaces + bare CR": (chunk_line(b" ", b"\rx"), 400),
    "chunk-size line: extension of `;a=b`": (chunk_line(b";a=b", b""), None),
    "normal chunked request + trailers": (normal_chunked, None),
    "trailer: `X:` + spaces + control byte": (trailer(b"X:", b" ", b"\x01"), 400),
    "trailer: `X: a` + tabs + control byte": (trailer(b"X: a", b"\t", b"\x01"), 400),
    "trailer: obs-text + control byte": (trailer(b"X: ", b"\x80", b"\x1f"), 400),
}
NORMAL = "normal head (browser request + cookies)"
NORMAL_CHUNKED = "normal chunked request + trailers"
# The parse of one ordinary request (no padding): the per-request cost.
SMALL = "one browser request (no padding), whole"
SMALL_HEAD = BROWSER + END
LOOKUPS = ("If-None-Match", "If-Modified-Since", "If-Range", "Range")
LOOKED_UP = "the same, head only, + the static handler's 4 field lookups"
# The same bytes arriving in small pieces (a slow client): each piece must cost the parser
# work for that piece, not for everything received so far.
LONG_LINE = request_line(lambda n: b"GET /" + b"a" * (n - 14) + b" HTTP/1.1")
PIECES: dict[str, tuple[Callable[[int], bytes], int]] = {
    "normal head, whole": (normal, 0),
    "normal head in 100-byte pieces": (normal, 100),
    "normal head in 1-byte pieces": (normal, 1),
    "8 KiB request line + fields in 1-byte pieces": (LONG_LINE, 1),
    "normal chunked request + trailers in 1-byte pieces": (normal_chunked, 1),
}

# Many small requests pipelined: the parser must find each head's end without rescanning
# the rest of the buffer, so 64 KiB in one read costs what the same requests cost fed one
# at a time (two searches to the buffer's end made it quadratic: 244 ms against 76 ms).
PIPELINED_LF = b"GET / HTTP/1.0\n\n"
PIPELINED_CRLF = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
PIPELINE_BYTES = 64 * 1024
PIPELINES: dict[str, tuple[bytes, bool]] = {
    "64 KiB of `GET / HTTP/1.0 LF LF`, one read": (PIPELINED_LF, True),
    "64 KiB of `GET / HTTP/1.0 LF LF`, one request per read": (PIPELINED_LF, False),
    "64 KiB of small CRLF requests, one read": (PIPELINED_CRLF, True),
    "64 KiB of small CRLF requests, one request per read": (PIPELINED_CRLF, False),
}


# --- the worker: imports one source's henaserver and times the cases -----------------

def parse_once(data: bytes, pieces: int = 0) -> int | None:
    """Feed ``data`` to a new parser (whole, or in pieces of ``pieces`` bytes) until it
    gives a whole request or an error; return None or the error's status."""
    from henaserver.http import HTTPError, Request
    from henaserver.parser import NEED_DATA, RequestParser

    parser = RequestParser()
    chunks = [data] if not pieces else [data[i:i + pieces]
                                        for i in range(0, len(data), pieces)]
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (event := parser.next_event()) is not NEED_DATA:
                if isinstance(event, Request):
                    return None
    except HTTPError as error:
        return error.status
    raise AssertionError("the parser neither finished nor refused the request")


def parse_pipeline(request: bytes, one_read: int) -> int:
    """Parse 64 KiB of ``request`` pipelined on one connection, given to the parser in one
    piece (``one_read``) or one request at a time; return how many were parsed."""
    from henaserver.http import Request
    from henaserver.parser import NEED_DATA, RequestParser

    parser = RequestParser()
    count = PIPELINE_BYTES // len(request)
    parsed = 0
    for piece in [request * count] if one_read else [request] * count:
        parser.feed(piece)
        while (event := parser.next_event()) is not NEED_DATA:
            parsed += isinstance(event, Request)
    assert parsed == count, (parsed, count)
    return parsed


def parse_and_look_up(data: bytes, _pieces: int = 0) -> None:
    """Parse a request, then look up the fields the static handler reads (the validators
    and Range): what one request costs before the file is even found."""
    from henaserver.http import RequestHead
    from henaserver.parser import RequestParser

    parser = RequestParser()
    parser.feed(data)
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    for name in LOOKUPS:
        head.get(name)


def cpu_seconds(data: bytes, pieces: int = 0,
                parse: Callable[[bytes, int], object] = parse_once) -> float:
    """CPU seconds for one parse: the loop runs long enough for the clock to count."""
    start = time.process_time()
    parse(data, pieces)
    once = time.process_time() - start
    if once > SLOW:
        return once
    loops = max(1, int(0.02 / max(once, 1e-6)))
    fastest = once
    for _ in range(REPEATS):
        start = time.process_time()
        for _ in range(loops):
            parse(data, pieces)
        fastest = min(fastest, (time.process_time() - start) / loops)
    return fastest


def worker(sizes: list[int]) -> dict[str, Any]:
    """One round of every case at every size: {case: {size: seconds}} plus checks."""
    times: dict[str, dict[int, float]] = {}
    wrong: list[str] = []
    for name, (build, expected) in CASES.items():
        for size in sizes:
            data = build(size)
            got = parse_once(data)
            if got != expected:
                wrong.append(f"{name} at {size}: answered {got}, expected {expected}")
            times.setdefault(name, {})[len(data)] = cpu_seconds(data)
    times[SMALL] = {len(SMALL_HEAD): cpu_seconds(SMALL_HEAD)}
    times[LOOKED_UP] = {len(SMALL_HEAD): cpu_seconds(SMALL_HEAD, 0, parse_and_look_up)}
    for name, (build, pieces) in PIECES.items():
        data = build(sizes[0])
        times[name] = {len(data): cpu_seconds(data, pieces)}
    for name, (request, one_read) in PIPELINES.items():
        times[name] = {PIPELINE_BYTES: cpu_seconds(request, int(one_read), parse_pipeline)}
    return {"times": times, "wrong": wrong}


# --- the driver -----------------------------------------------------------------------

def export(rev: str, into: Path) -> Path:
    """``henaserver/`` as it is at ``rev``, unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "henaserver"],
                             check=True, capture_output=True).stdout
    path = into / "archive.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(into, filter="data")
    return into


def run_worker(source: Path, sizes: list[int]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(sizes)],
                         env=env, check=True, capture_output=True, text=True, cwd=source)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def best(rounds: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
    """The fastest of the rounds, per case and size."""
    out: dict[str, dict[int, float]] = {}
    for result in rounds:
        for name, by_size in result["times"].items():
            for size, seconds in by_size.items():
                slot = out.setdefault(name, {})
                slot[int(size)] = min(seconds, slot.get(int(size), seconds))
    return out


def report(label: str, times: dict[str, dict[int, float]], wrong: list[str]) -> list[str]:
    sizes = sorted(times[NORMAL])
    lines = [f"### {label}", "",
             "| case | " + " | ".join(f"µs/KiB at {s / 1024:.0f} KiB" for s in sizes)
             + " | × normal (worst size) | growth 8→32 KiB per KiB | verdict |",
             "|---|" + "---:|" * len(sizes) + "---:|---:|---|"]
    misses = 0
    for name in CASES:
        per_kib = {s: times[name][s] / (s / 1024) * 1e6 for s in sorted(times[name])}
        reference = NORMAL_CHUNKED if "chunk" in name or "trailer" in name else NORMAL
        ref = {s: times[reference][s] / (s / 1024) * 1e6 for s in sorted(times[reference])}
        ratios = [per_kib[s] / ref[s] for s in per_kib if s in ref]
        # Cases not built to the size (request and chunk-size lines have their own limits)
        # are compared with the normal head of the nearest size.
        if not ratios:
            ratios = [v / ref[min(ref, key=lambda r: abs(r - s))] for s, v in per_kib.items()]
        values = list(per_kib.values())
        growth = values[-1] / values[0] if len(values) > 1 else 1.0
        worst = max(ratios)
        ok = name in (NORMAL, NORMAL_CHUNKED) or (worst <= GOAL and growth <= GOAL)
        misses += not ok
        cells = " | ".join(f"{v:,.1f}" for v in values)
        if len(values) < len(sizes):
            cells += " | –" * (len(sizes) - len(values))
        lines.append(f"| {name} | {cells} | {worst:.2f} | {growth:.2f} | "
                     f"{'ok' if ok else 'MISS'} |")
    lines += ["", "| per request | bytes | CPU µs per parse | × whole |",
              "|---|---:|---:|---:|"]
    whole = next(iter(times["normal head, whole"].values()))
    for name in (SMALL, LOOKED_UP, *PIECES):
        size, seconds = next(iter(times[name].items()))
        ratio = "" if name in (SMALL, LOOKED_UP) else f"{seconds / whole:.1f}"
        lines.append(f"| {name} | {size:,} | {seconds * 1e6:,.1f} | {ratio} |")
    lines += ["", "| pipelined requests | bytes | CPU ms | × one request per read |",
              "|---|---:|---:|---:|"]
    for name in PIPELINES:
        size, seconds = next(iter(times[name].items()))
        apart = next(iter(times[name.replace("one read", "one request per read")].values()))
        lines.append(f"| {name} | {size:,} | {seconds * 1e3:,.1f} | {seconds / apart:.2f} |")
    lines += ["", f"Cases over the goal ({GOAL:g}x a normal head, or per-KiB cost growing "
                  f"more than {GOAL:g}x from 8 to 32 KiB): {misses}."]
    if wrong:
        lines += ["", "Wrong answers:", *[f"- {w}" for w in sorted(set(wrong))]]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare-rev", help="also time this git revision's parser (e.g. main)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    sizes = list(SIZES)
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"this checkout": REPO}
        if args.compare_rev:
            sources[f"revision {args.compare_rev}"] = export(args.compare_rev, Path(tmp))
        rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in sources}
        for n in range(args.rounds):
            order = list(sources.items())
            order = order[n % len(order):] + order[:n % len(order)]
            for label, source in order:
                print(f"round {n + 1}/{args.rounds}: {label}", file=sys.stderr, flush=True)
                rounds[label].append(run_worker(source, sizes))
    commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"],
                            capture_output=True, text=True).stdout.strip()
    lines = ["## Parse cost per KiB (bench/parse_cost.py)", "",
             f"date {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, commit {commit}, "
             f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
             f"{os.getloadavg()[0]:.2f}; fastest of {args.rounds} rounds, CPU time", ""]
    for label, results in rounds.items():
        wrong = [w for result in results for w in result["wrong"]]
        lines += report(label, best(results), wrong) + [""]
    if args.compare_rev:
        for name in (SMALL, LOOKED_UP):
            small = {label: best(results)[name] for label, results in rounds.items()}
            (this, *_), (other, *_) = (list(v.values()) for v in small.values())
            lines.append(f"- {name}: {this * 1e6:.1f} µs here, {other * 1e6:.1f} µs "
                         f"at {args.compare_rev} ({this / other:.2f}x).")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "parse_cost.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
