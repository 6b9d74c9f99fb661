"""What parallel uploads cost the playground's memory, and what they leave behind.

    .venv/bin/python bench/upload_memory.py                 # 20 parallel 20 MB uploads
    .venv/bin/python bench/upload_memory.py --uploads 10 --mb 20

For each kind of upload (a multipart form of four files, one PUT of a whole file, one
zip of four files) a fresh playground (daphne: ``runserver --noreload``, one process,
bench/playground_proc.py) gets N sandboxes, then N uploads of that kind, all released at
once, one per sandbox. Its RSS (/proc/<pid>/status VmRSS) is sampled every 20 ms:

* peak growth: the highest RSS during the uploads minus the RSS just before them;
* left after: RSS once every upload has answered and the N sandboxes have been deleted,
  minus the RSS before.

The reference is the bytes sent, measured in the same run: growth ÷ (N × body size).
Target (issue 12, item 11): a few MB per upload, whatever its size, and nothing kept:
peak growth ≤ 5 MB per upload, left after ≤ 10 MB in all.

The limits are raised for the run (24 MiB per file and per sandbox), so that one PUT can
carry the whole 20 MB.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playground_proc import Playground  # noqa: E402

MB = 1_000_000
MIB = 1024 * 1024
TARGET_MB_PER_UPLOAD = 5.0
# What may stay: caches warmed by the first requests, not the bodies.
TARGET_LEFT_MB = 10.0
KINDS = ("multipart", "put", "zip")


def bodies(kind: str, size: int) -> tuple[bytes, str, str, str]:
    """(body, content type, method, path under files/) for one upload of ``size`` bytes
    of content. Random bytes, so that nothing compresses."""
    quarter = size // 4
    parts = [(f"part{k}.bin", os.urandom(quarter)) for k in range(4)]
    if kind == "put":
        return b"".join(data for _n, data in parts), "application/octet-stream", "PUT", "big.bin"
    if kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name, data in parts:
                archive.writestr(name, data)
        parts, field = [("site.zip", buffer.getvalue())], "archive"
    else:
        field = "files"
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, data in parts:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                  f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                  .encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}", "POST", ""


def send(site: Playground, method: str, path: str, body: bytes, content_type: str) -> int:
    token = next(c.value for c in site.jar if c.name == "csrftoken")
    session = next(c.value for c in site.jar if c.name == "sessionid")
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=300)
    try:
        conn.request(method, path, body=body, headers={
            "Content-Type": content_type, "X-CSRFToken": token,
            "Cookie": f"csrftoken={token}; sessionid={session}"})
        response = conn.getresponse()
        answer = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status} {answer[:300]!r}")
        return response.status
    finally:
        conn.close()


def settle(site: Playground, seconds: float = 3.0) -> int:
    """The lowest RSS over a few seconds (freed memory is returned to the system a
    little after the last request)."""
    low = site.rss_kib()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        low = min(low, site.rss_kib())
    return low


def run_kind(kind: str, uploads: int, size: int) -> dict:
    body, content_type, method, name = bodies(kind, size)
    limit = str(24 * MIB)
    env = {"PLAYGROUND_MAX_FILE_BYTES": limit, "PLAYGROUND_MAX_SANDBOX_BYTES": limit,
           "PLAYGROUND_MAX_OWNER_BYTES": str(uploads * 24 * MIB),
           "PLAYGROUND_MAX_SANDBOXES_PER_OWNER": str(uploads),
           "PLAYGROUND_PORT_RANGE": "20000-29999"}
    with tempfile.TemporaryDirectory() as tmp:
        site = Playground(Path(tmp), env=env)
        try:
            ids = []
            for k in range(uploads):
                port = site.call("GET", "/api/sandboxes/?suggest=1")["suggested_port"]
                ids.append(site.call("POST", "/api/sandboxes/", {"name": f"up{k}",
                                                                "port": port})["id"])
            # One small upload first, so that code paths and caches are warm.
            send(site, "PUT", f"/api/sandboxes/{ids[0]}/files/warm.txt", b"warm",
                 "text/plain")
            before = settle(site, 1.0)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, site.rss_kib())
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            barrier = threading.Barrier(uploads)
            errors: list[str] = []

            def upload(sandbox_id: int) -> None:
                barrier.wait()
                try:
                    send(site, method, f"/api/sandboxes/{sandbox_id}/files/{name}", body,
                         content_type)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(str(exc))

            began = time.perf_counter()
            threads = [threading.Thread(target=upload, args=(i,)) for i in ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - began
            done.set()
            sampler.join()
            if errors:
                raise RuntimeError(f"{kind}: {len(errors)} uploads failed: {errors[0]}")
            for sandbox_id in ids:
                site.call("DELETE", f"/api/sandboxes/{sandbox_id}/")
            after = settle(site)
        finally:
            site.close()
    sent = uploads * len(body)
    return {"kind": kind, "uploads": uploads, "body_mb": len(body) / MB, "seconds": seconds,
            "before_mb": before * 1024 / MB, "peak_mb": peak * 1024 / MB,
            "growth_mb": (peak - before) * 1024 / MB, "after_mb": (after - before) * 1024 / MB,
            "growth_of_sent": (peak - before) * 1024 / sent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=int, default=20, help="content per upload, in MB")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    met = True
    print(f"{args.uploads} parallel uploads of {args.mb} MB, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| upload | RSS before | peak growth | per upload | ÷ bytes sent | left after "
          "deleting | time |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = []
    for kind in args.kinds.split(","):
        r = run_kind(kind, args.uploads, args.mb * MB)
        results.append(r)
        per_upload = r["growth_mb"] / args.uploads
        ok = per_upload <= TARGET_MB_PER_UPLOAD and r["after_mb"] <= TARGET_LEFT_MB
        met = met and ok
        print(f"| {kind} ({r['body_mb']:.1f} MB body) | {r['before_mb']:.0f} MB | "
              f"{r['growth_mb']:.0f} MB | {per_upload:.1f} MB | {r['growth_of_sent']:.3f} | "
              f"{r['after_mb']:.0f} MB | {r['seconds']:.1f} s |", flush=True)
    print(f"target: peak growth ≤ {TARGET_MB_PER_UPLOAD:.0f} MB per upload and ≤ "
          f"{TARGET_LEFT_MB:.0f} MB left after: {'met' if met else 'NOT met'}")
    if args.json:
        print(json.dumps(results))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
