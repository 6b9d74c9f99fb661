"""The capture relay's ``stream`` records (docs/events.md): bytes it forwarded that belong
to no exchange, kept exactly as they came. From events to rows (the ingest writer, the
only code that creates or deletes them), and from rows to the JSON the traffic page
lists (api.py ``stream_list``) and the raw dump exports.

They are rare (what follows a request that is not HTTP, a server's bytes after an
answer with no status line), so they are bounded simply: the newest ``KEEP`` per
sandbox, each at most the relay's ``body_cap`` bytes.
"""

from __future__ import annotations

import base64
from typing import Any

from ..models import Run, StreamRecord
from .exchanges import _b64, _int, _text

KEEP = 200  # rows per sandbox; older ones are deleted as new ones come
PREVIEW = 4096  # bytes of each record the list carries (the whole is a download)
DIRECTIONS = ("to_server", "to_client")


def from_event(sandbox_id: int, run: Run, event: dict[str, Any]) -> StreamRecord:
    """An unsaved row for one ``stream`` event; tolerant like exchanges.from_event."""
    data = _b64(event.get("data_b64"))
    direction = event.get("direction")
    return StreamRecord(
        sandbox_id=sandbox_id, run=run, conn=_int(event.get("conn")) or 0,
        direction=direction if direction in DIRECTIONS else "to_server",
        reason=_text(event.get("reason"), 300), data=data,
        length=_int(event.get("length")) or len(data),
        truncated=bool(event.get("truncated")),
        time_us=int(float(event.get("time") or 0) * 1_000_000),
    )


def store(sandbox_id: int, run: Run, events: list[dict[str, Any]]) -> int:
    """Write ``events`` (in the caller's transaction), keep the newest KEEP of the
    sandbox; how many were written."""
    if not events:
        return 0
    StreamRecord.objects.bulk_create([from_event(sandbox_id, run, e) for e in events[-KEEP:]])
    old = (StreamRecord.objects.filter(sandbox_id=sandbox_id).order_by("-id")
           .values_list("id", flat=True)[KEEP:KEEP + 1])
    if old:
        StreamRecord.objects.filter(sandbox_id=sandbox_id, id__lte=old[0]).delete()
    return min(len(events), KEEP)


def to_json(row: StreamRecord) -> dict[str, Any]:
    data = bytes(row.data)
    return {"id": row.pk, "run": row.run.number, "conn": row.conn,
            "direction": row.direction, "reason": row.reason or None,
            "length": row.length, "truncated": row.truncated, "time_us": row.time_us,
            "recorded": len(data), "preview_b64": base64.b64encode(data[:PREVIEW]).decode()}


def newest(sandbox_id: int, limit: int = KEEP) -> list[dict[str, Any]]:
    """The sandbox's stored records, oldest first (the newest ``limit``)."""
    rows = (StreamRecord.objects.filter(sandbox_id=sandbox_id).select_related("run")
            .order_by("-id")[:limit])
    return [to_json(row) for row in reversed(rows)]


def dump(sandbox_id: int, run: int | None) -> bytes:
    """The stored records of run number ``run`` (None: all) for the raw dump, each after
    a one-line header with its length, as exports.raw_dump writes exchanges."""
    where: dict[str, Any] = {} if run is None else {"run__number": run}
    out = bytearray()
    for row in StreamRecord.objects.filter(sandbox_id=sandbox_id, **where).order_by("id"):
        data = bytes(row.data)
        out += (f"=== stream conn {row.conn} {row.direction} {len(data)} bytes"
                f"{' (of ' + str(row.length) + ')' if row.truncated else ''}: "
                f"{row.reason} ===\n").encode("utf-8", "replace")
        out += data + b"\n"
    return bytes(out)
