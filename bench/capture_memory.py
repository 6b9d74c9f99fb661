"""Memory under a flood of large responses: a real sandbox, capture on, a 60 KB page.

    .venv/bin/python bench/capture_memory.py                  # wrk -t1 -c10 -d10s
    .venv/bin/python bench/capture_memory.py --connections 100 --seconds 10

The playground runs for real (``runserver --noreload``: one process serves the site and
owns the sandbox, see playground_proc.py); its sandbox runs henaserver as every sandbox
does, under ``--limit-memory`` (PLAYGROUND_CHILD_MEMORY_MB, 512 by default) with capture
on. wrk then asks for a 60 KB page as fast as it can. Each page's exchange event carries
the response up to the capture cap (64 KiB): about 80 KB of JSON per request, far more
than the playground can store, so every queue and buffer on the way is driven to its
bound.

Reported, sampled every 50 ms:

* peak RSS (VmRSS) and peak address space (VmSize, what --limit-memory caps) of the
  henaserver child, and peak RSS of the playground process;
* the SQLite database's size on disk at the end and its peak (the file plus its WAL);
* answered / sent: wrk counts the requests it wrote (count_sent.lua) and the responses
  it read; every request written must be answered (at most one per connection in flight
  when wrk stops); any socket error or non-2xx response is a request the sandbox failed;
* the server's own counters (server.stats): exchanges, and events it dropped because
  capture was behind (the sandbox drops capture and counts it, never the answer);
* "MemoryError" (or any traceback) in the child's console, as a viewer of the sandbox's
  traffic page receives it over the websocket.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playground_proc import Playground  # noqa: E402

PAGE_BYTES = 60 * 1024
SAMPLE_SECONDS = 0.05
DRAIN_SECONDS = 60  # at most, after wrk ends, for the playground to store what it took


def _status_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{field}:\s+(\d+)", text, re.M)
    return int(found.group(1)) if found else 0


def _db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def _put_file(site: Playground, sandbox: dict, name: str, data: bytes) -> None:
    token = next((c.value for c in site.jar if c.name == "csrftoken"), "")
    request = urllib.request.Request(
        f"{site.base}{sandbox['links']['self']}files/{name}", data=data, method="PUT",
        headers={"X-CSRFToken": token, "Content-Type": "application/octet-stream"})
    with site.opener.open(request, timeout=30) as response:
        response.read()


def run(seconds: int, connections: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="henamem-") as tmp:
        site = Playground(Path(tmp))
        try:
            return _flood(site, Path(tmp) / "db.sqlite3", seconds, connections)
        finally:
            site.close()


def _flood(site: Playground, db: Path, seconds: int, connections: int) -> dict:
    sandbox = site.sandbox()
    # Text that does not compress, so nothing on the way can make it smaller.
    _put_file(site, sandbox, "page.html", os.urandom(PAGE_BYTES // 2).hex().encode())
    child = sandbox["pid"]
    peaks = {"child_rss": 0, "child_vm": 0, "site_rss": 0, "db": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            peaks["child_rss"] = max(peaks["child_rss"], _status_kib(child, "VmRSS"))
            peaks["child_vm"] = max(peaks["child_vm"], _status_kib(child, "VmSize"))
            peaks["site_rss"] = max(peaks["site_rss"], site.rss_kib())
            peaks["db"] = max(peaks["db"], _db_bytes(db))

    viewer = site.websocket(sandbox["id"])
    console: list[str] = []

    def watch() -> None:
        while (text := viewer.recv()) is not None:
            message = json.loads(text)
            if message["type"] == "console":
                console.extend(line["text"] for line in message["lines"])

    threading.Thread(target=watch, daemon=True).start()
    before = {"child_rss": _status_kib(child, "VmRSS"), "site_rss": site.rss_kib(),
              "db": _db_bytes(db)}
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    url = f"http://127.0.0.1:{sandbox['port']}/page.html"
    script = str(Path(__file__).resolve().parent / "count_sent.lua")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    flood_end = time.monotonic()
    # The sandbox's final server.stats comes when it stops, after every event it sent
    # before (the ingest queue may still hold up to PLAYGROUND_INGEST_QUEUE_BYTES).
    site.call("POST", sandbox["links"]["stop"])
    sent = int(re.search(r"requests sent: (\d+)", out).group(1))
    deadline = time.monotonic() + DRAIN_SECONDS
    while (final := site.call("GET", sandbox["links"]["self"]))["requests"] < sent \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    drained = time.monotonic() - flood_end
    done.set()
    sampler.join()
    history = site.call("GET", sandbox["links"]["exchanges"] + "?after=0&limit=1")["stats"]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    viewer.close()
    text = "\n".join(console)
    return {
        "cmd": " ".join(cmd), "wrk": out,
        "answered": int(re.search(r"(\d+) requests in", out).group(1)),
        "sent": sent, "drained_s": drained,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "served": final["requests"], "errors": final["errors"],
        "dropped": history["dropped"], "stored": history["stored"],
        "memory_errors": text.count("MemoryError"), "tracebacks": text.count("Traceback"),
        "console": text[-2000:],
        "before": before, "peaks": peaks, "db_end": _db_bytes(db),
        "wal_end": _db_bytes(db) - db.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    r = run(args.seconds, args.connections)
    mb = 1024
    print(f"$ {r['cmd']}")
    print(re.sub(r"(?m)^", "  ", r["wrk"].rstrip()))
    in_flight = r["sent"] - r["answered"]
    failed = r["socket_errors"] + r["non_2xx"]
    print(f"answered/sent: {r['answered']}/{r['sent']} = {r['answered'] / max(1, r['sent']):.4f}"
          f" ({in_flight} in flight at the end, <= {args.connections} connections); "
          f"socket errors {r['socket_errors']}, non-2xx {r['non_2xx']}")
    print(f"sandbox served {r['served']} (errors {r['errors']}), its final count stored "
          f"{r['drained_s']:.1f} s after wrk ended; capture dropped: {r['dropped']}; "
          f"rows kept {r['stored']}; MemoryError lines: {r['memory_errors']}, tracebacks "
          f"{r['tracebacks']}")
    p, b = r["peaks"], r["before"]
    print(f"henaserver: RSS {b['child_rss'] / mb:.0f} MB before, peak {p['child_rss'] / mb:.0f}"
          f" MB; address space peak {p['child_vm'] / mb:.0f} MB (the --limit-memory cap)")
    print(f"playground: RSS {b['site_rss'] / mb:.0f} MB before, peak {p['site_rss'] / mb:.0f} MB")
    print(f"SQLite (file + WAL): {b['db'] / 2**20:.1f} MB before, peak {p['db'] / 2**20:.1f} MB,"
          f" {r['db_end'] / 2**20:.1f} MB at the end (WAL {r['wal_end'] / 2**20:.1f} MB)")
    if args.json:
        print(json.dumps({k: v for k, v in r.items() if k != "wrk"}, indent=1))
    ok = failed == 0 and 0 <= in_flight <= args.connections and r["served"] == r["sent"] \
        and r["memory_errors"] == r["tracebacks"] == 0
    print("verdict:", "every request answered" if ok else "REQUESTS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
