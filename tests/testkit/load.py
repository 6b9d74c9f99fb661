"""Real HTTP load for tests: keep-alive bursts from a few threads (``ab -k`` is not
installed here; wrk has no exact request count)."""

from __future__ import annotations

import http.client
import threading


def keep_alive_burst(port: int, total: int, connections: int, path: str = "/") -> int:
    """Send ``total`` GETs to 127.0.0.1:``port`` over ``connections`` keep-alive
    connections in parallel (one thread each), reading every answer; returns how many
    answers were read. Each request's path ends in ``?n=<its number>``."""
    answered = [0] * connections
    errors: list[BaseException] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for n in range(index, total, connections):
                conn.request("GET", f"{path}?n={n}")
                conn.getresponse().read()
                answered[index] += 1
        except BaseException as exc:  # reported to the caller's thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(answered)
