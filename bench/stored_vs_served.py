"""Stored ÷ served: does the playground keep every exchange a sandbox serves (issue 11,
"no holes")? Measured on SQLite and on PostgreSQL, for:

* a burst: 2,000 GETs over 10 keep-alive connections, the issue's ``ab -n 2000 -c 10 -k``
  (apt-get install apache2-utils; without it, the same from Python threads), one run;
* a flood: ``wrk -t1 -c10 -d10s``, the next run (a restart).

The playground runs for real (``runserver --noreload``, bench/playground_proc.py) with
its default retention (2,000 exchanges / 50 MB per sandbox), and a websocket viewer
watches the sandbox's traffic throughout (the page open): it counts the rows pushed to
it, the rows a batch left in the history only (``not_pushed``) and ``skipped`` seqs.
After each load the sandbox is stopped (its final ``server.stats`` is in) and the
run's counts are read from ``GET /api/sandboxes/<id>/runs/``; the stored seqs are read
from the exchange list.
Reported per load: served, stored, removed, not recorded (by reason), whether the
stored seqs are contiguous (no hole), and stored ÷ min(served, retention): 1.0 means
everything retention allows was kept.

    .venv/bin/python bench/stored_vs_served.py                 # both databases
    .venv/bin/python bench/stored_vs_served.py --db sqlite     # or postgres
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # testkit: the burst client, PostgreSQL

from playground_proc import Playground, free_port  # noqa: E402
from testkit.load import keep_alive_burst  # noqa: E402
from testkit.services import fresh_database, postgres_cluster  # noqa: E402

RETENTION = 2000


def settle(site: Playground, sandbox: dict, number: int) -> dict:
    """The run ``number`` once its counts stop changing (the ingest writer is done)."""
    last, same_since = None, time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = next(r for r in site.call("GET", f"/api/sandboxes/{sandbox['id']}/runs/")["runs"]
                   if r["number"] == number)
        if run["ended_at"] and run == last and time.monotonic() - same_since > 1.0:
            return run
        if run != last:
            last, same_since = run, time.monotonic()
        time.sleep(0.2)
    raise RuntimeError(f"run {number} did not settle: {last}")


def stored_seqs(site: Playground, sandbox: dict, number: int) -> list[int]:
    seqs, after = [], 0
    while True:
        page = site.call("GET", f"/api/sandboxes/{sandbox['id']}/exchanges/"
                                f"?run={number}&after={after}")
        seqs += [item["seq"] for item in page["exchanges"]]
        if not page["more"]:
            return seqs
        after = page["next_after"]


def result(site: Playground, sandbox: dict, number: int, load: str, extra: dict,
           viewer: dict) -> dict:
    site.call("POST", sandbox["links"]["stop"])
    run = settle(site, sandbox, number)
    extra["viewer"] = {k: v for k, v in viewer.items() if k != "ws"}  # all arrived by now
    counts = run["counts"]
    seqs = stored_seqs(site, sandbox, number)
    return {"load": load, **counts, **extra,
            "adds_up": counts["served"] == counts["stored"] + counts["removed"]
            + counts["not_recorded"],
            "contiguous": seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True,
            "stored_over_allowed": round(counts["stored"] / min(counts["served"], RETENTION), 4)}


def watch(site: Playground, sandbox: dict) -> dict:
    """A viewer of the sandbox's traffic, counting in the background until it closes."""
    ws = site.websocket(sandbox["id"])
    seen = {"rows": 0, "not_pushed": 0, "skipped": 0, "ws": ws}

    def read() -> None:
        while (text := ws.recv()) is not None:
            message = json.loads(text)
            if message["type"] == "exchanges":
                seen["rows"] += len(message["items"])
                seen["not_pushed"] += message.get("not_pushed", 0)
                seen["skipped"] += message.get("skipped", 0)

    threading.Thread(target=read, daemon=True).start()
    return seen


def measure(env: dict[str, str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        site = Playground(Path(tmp), env=env)
        try:
            sandbox = site.sandbox()
            viewer = watch(site, sandbox)
            url = sandbox["url"].replace("localhost", "127.0.0.1")
            port = sandbox["port"]
            began = time.monotonic()
            if shutil.which("ab"):  # the issue's own command (apt-get install apache2-utils)
                cmd = ["ab", "-q", "-n", "2000", "-c", "10", "-k", url + "index.html"]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                answered = int(out.split("Complete requests:")[1].split()[0]) - int(
                    out.split("Failed requests:")[1].split()[0])
                load = " ".join(cmd[:1] + cmd[2:-1])
            else:  # the same load from Python threads (tests/testkit/load.py)
                answered = keep_alive_burst(port, 2000, 10, "/index.html")
                load = "burst 2000 -k -c10 (Python threads)"
            burst = result(site, sandbox, 1, load,
                           {"answered": answered,
                            "seconds": round(time.monotonic() - began, 2)}, viewer)
            viewer.update(rows=0, not_pushed=0, skipped=0)
            site.call("POST", sandbox["links"]["start"])
            cmd = ["wrk", "-t1", "-c10", "-d10s", url + "index.html"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            flood = result(site, sandbox, 2, " ".join(cmd),
                           {"wrk_requests": int(out.split(" requests in")[0].split()[-1])},
                           viewer)
            viewer["ws"].close()
            return [burst, flood]
        finally:
            site.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    results = {}
    if args.db in ("sqlite", "both"):
        results["sqlite"] = measure({})
    if args.db in ("postgres", "both"):
        with postgres_cluster(free_port()) as server:
            results["postgres"] = measure({"DATABASE_URL": fresh_database(server)})
    for db, rows in results.items():
        for row in rows:
            reasons = ", ".join(f"{k} {v}" for k, v in row["not_recorded_reasons"].items())
            print(f"{db:8} {row['load']:32} served {row['served']:7} stored {row['stored']:5} "
                  f"removed {row['removed']:7} not recorded {row['not_recorded']:6}"
                  f"{' (' + reasons + ')' if reasons else ''}  contiguous {row['contiguous']}"
                  f"  adds up {row['adds_up']}  stored/allowed {row['stored_over_allowed']}"
                  f"  viewer {row['viewer']}")
    print(json.dumps(results, indent=1))
    return 0 if all(r["adds_up"] and r["contiguous"] for rows in results.values()
                    for r in rows) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
