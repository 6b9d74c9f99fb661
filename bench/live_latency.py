"""Request-to-websocket latency: how long after a request is sent to a sandbox its row
reaches a viewer of the traffic page.

    .venv/bin/python bench/live_latency.py              # 100 req/s for 10 s
    .venv/bin/python bench/live_latency.py --rate 100 --seconds 10

Runs the real playground (`manage.py runserver --noreload`: daphne, one process), a real
sandbox with the starter site, and a websocket viewer (bench/wsclient.py, stdlib). A
sender thread issues GET /index.html?n=<i> on one keep-alive connection at a fixed rate,
noting time.perf_counter() just before each send; the viewer notes when the summary with
that target arrives. Latency = arrival - send: it includes henaserver serving it, its
event writer (~5 ms flush), the supervisor's reader, the ingest batch (5 ms quiet /
50 ms max), the SQLite commit, the channel layer and the websocket. Targets (issue #3):
p50 <= 20 ms, p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from playground_proc import Playground, Viewer  # noqa: E402

TARGET_P50, TARGET_P99 = 20.0, 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def read_response(sock: socket.socket, buffer: bytes) -> bytes:
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return rest[length:]


def send_at_rate(port: int, rate: float, seconds: float, query: str = "") -> dict[str, float]:
    """GET /index.html?<query>n=<i> on one keep-alive connection at ``rate`` for
    ``seconds``; target -> time.perf_counter() just before its send."""
    sent: dict[str, float] = {}
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        began, buffer = time.perf_counter(), b""
        for i in range(int(rate * seconds)):
            pause = began + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            target = f"/index.html?{query}n={i}"
            sent[target] = time.perf_counter()
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            buffer = read_response(sock, buffer)
    return sent


def run(rate: float, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        site = Playground(Path(tmp))
        try:
            sb = site.sandbox()
            viewer = Viewer(site.websocket(sb["id"]))
            time.sleep(1.0)  # let the replay and opening messages pass
            sent = send_at_rate(sb["port"], rate, seconds)
            viewer.wait_for(sent)
            viewer.close()
            latencies = [(viewer.arrived[t] - s) * 1000 for t, s in sent.items()
                         if t in viewer.arrived]
            return {"sent": len(sent), "received": len(latencies), "latencies": latencies}
        finally:
            site.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    result = run(args.rate, args.seconds)
    lat = result["latencies"]
    p50, p99 = statistics.median(lat), percentile(lat, 0.99)
    ok = p50 <= TARGET_P50 and p99 <= TARGET_P99 and result["received"] == result["sent"]
    print(f"request -> websocket row, {args.rate:g} req/s for {args.seconds:g} s: "
          f"{result['received']}/{result['sent']} rows arrived; p50 {p50:.1f} ms, "
          f"p90 {percentile(lat, 0.9):.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms, "
          f"min {min(lat):.1f} ms (targets p50 <= {TARGET_P50:g}, p99 <= {TARGET_P99:g}: "
          f"{'met' if ok else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
