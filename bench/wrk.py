"""Run wrk and turn its text report into numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

WRK = shutil.which("wrk") or "/usr/bin/wrk"

# wrk prints sizes with binary prefixes (1KB = 1024 B).
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int            # completed responses wrk counted
    seconds: float
    req_per_s: float
    bytes_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    socket_errors: int       # connect + read + write + timeout
    non_2xx: int
    raw: str

    @property
    def mib_per_s(self) -> float:
        return self.bytes_per_s / 1024**2


def _size(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?B)", text)
    if not m:
        raise ValueError(f"unexpected wrk size {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unexpected wrk time {text!r}")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def parse(out: str) -> WrkResult:
    """Parse `wrk --latency` output; raises ValueError if the summary is missing."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    tps = re.search(r"Transfer/sec:\s+(\S+)", out)
    if not (done and rps and tps):
        raise ValueError("wrk output has no summary:\n" + out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1000,
        req_per_s=float(rps.group(1)),
        bytes_per_s=_size(tps.group(1)),
        p50_ms=_ms(p50.group(1)) if p50 else None,
        p99_ms=_ms(p99.group(1)) if p99 else None,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        raw=out,
    )


def command(url: str, connections: int = 10, seconds: int = 5) -> list[str]:
    # One wrk thread: the machine has 2 cores, one for the server and one for wrk.
    return [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]


def run(url: str, connections: int = 10, seconds: int = 5) -> WrkResult:
    """Run one wrk load; bounded by wrk's own duration plus a generous margin."""
    proc = subprocess.run(command(url, connections, seconds), capture_output=True,
                          text=True, timeout=seconds + 30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
    return parse(proc.stdout)
