"""Exchanges: from henaserver's ``exchange`` events to rows, and from rows to the small
JSON summaries that the websocket pushes and the history API pages through.

One definition of a summary, used by the ingest writer (live batches), the consumer
(backfill) and the API, so the three can never disagree. Summaries never carry bytes:
the page fetches ``request.raw`` / ``response.raw`` on demand (docs/api.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.db import connection

from ..models import CheckPort, Exchange, Run, Sandbox
from . import heads, mistakes, runs
from .outcomes import OUTCOMES

# Fields a summary is built from: read with .values() so no raw bytes are loaded.
SUMMARY_FIELDS = (
    "seq", "conn", "conn_index", "client", "method", "target", "version", "status",
    "outcome", "reason", "content_type", "request_length", "response_length",
    "request_truncated", "response_truncated", "times", "started_us", "duration_us",
    "run__number", "mistake", "check_label", "sent_by",
)
# One page of history (API and websocket backfill): small enough to keep each websocket
# frame and each query short, large enough that a full retention window is 10 pages.
PAGE_SIZE = 200

_CONTENT_TYPE = re.compile(rb"\r?\ncontent-type:[ \t]*([^\r\n]*)", re.IGNORECASE)


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def response_content_type(raw: bytes) -> str:
    """The final response head's Content-Type value, or '' (interim 1xx heads such as
    ``100 Continue`` come first in ``response_b64`` and are skipped)."""
    match = _CONTENT_TYPE.search(heads.split(raw, response=True).head)
    return match.group(1).decode("latin-1").strip()[:200] if match else ""


def from_event(sandbox_id: int, seq: int, event: dict[str, Any], run: Run) -> Exchange:
    """An unsaved Exchange for one henaserver ``exchange`` event (docs/events.md).

    Tolerant on purpose: a field of the wrong type becomes empty instead of failing the
    whole batch, because one odd event must not cost the learner every other row.
    """
    request_raw = _b64(event.get("request_b64"))
    response_raw = _b64(event.get("response_b64"))
    raw_times = event.get("times") if isinstance(event.get("times"), dict) else {}
    times = {k: _int(v) for k, v in raw_times.items()}
    first = times.get("first_byte") or times.get("accepted")
    if first is None:
        first = int(float(event.get("time") or 0) * 1_000_000)
    end = times.get("response_end")
    outcome = event.get("outcome") if event.get("outcome") in OUTCOMES else "complete"
    return Exchange(
        sandbox_id=sandbox_id, seq=seq, run=run,
        conn=_int(event.get("conn")) or 0, conn_index=_int(event.get("index")) or 0,
        client=_text(event.get("client"), 80), method=_text(event.get("method"), 40),
        target=_text(event.get("target"), 8192), version=_text(event.get("version"), 20),
        status=_int(event.get("status")), outcome=outcome,
        reason=_text(event.get("reason"), 300),
        mistake=mistakes.clean(event.get("mistake")),
        content_type=response_content_type(response_raw),
        request_length=_int(event.get("request_length")) or len(request_raw),
        response_length=_int(event.get("response_length")) or len(response_raw),
        request_truncated=bool(event.get("request_truncated")),
        response_truncated=bool(event.get("response_truncated")),
        times=times, started_us=first,
        duration_us=(end - first) if end is not None and times.get("first_byte") else None,
        request_raw=request_raw, response_raw=response_raw,
        stored_bytes=len(request_raw) + len(response_raw),
    )


# Field types whose Python values (int, str, bool, bytes) the database drivers take as
# they are: insert() passes them through. Every other type (a JSONField now; a
# DateTimeField or UUIDField added later) goes through its field's own preparation, so a
# new column can never be stored wrongly without an error.
PLAIN_TYPES = frozenset({
    "AutoField", "BigAutoField", "BigIntegerField", "BinaryField", "BooleanField",
    "CharField", "ForeignKey", "IntegerField", "PositiveIntegerField",
    "PositiveSmallIntegerField", "PositiveBigIntegerField", "SmallIntegerField",
    "TextField",
})


def preparations(fields: list[Any]) -> list[tuple[str, Any]]:
    """(attname, None or the field's ``get_db_prep_save``) for each field, in order."""
    return [(f.attname, None if f.get_internal_type() in PLAIN_TYPES else f.get_db_prep_save)
            for f in fields]


def insert(rows: list[Exchange]) -> None:
    """INSERT ``rows`` (unsaved Exchanges) in one ``executemany``: what ``bulk_create``
    does, without compiling every value of every row into SQL one by one. Measured on
    these VMs (a flood stores every exchange): bulk_create spent 69 µs a row compiling
    SQL in Django and 13 µs in the database. Values of PLAIN_TYPES go to the driver as
    they are; every other field's through its own preparation. Row ids are not read
    back (nothing needs them)."""
    if not rows:
        return
    fields = [f for f in Exchange._meta.concrete_fields if not f.primary_key]
    prepare = preparations(fields)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(Exchange._meta.db_table)} "
           f"({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    values = [[getattr(row, name) if convert is None
               else convert(getattr(row, name), connection) for name, convert in prepare]
              for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def summary(row: Exchange | dict[str, Any]) -> dict[str, Any]:
    """The JSON summary of an exchange (a model instance or a .values() dict)."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    run = row["run__number"] if isinstance(row, dict) else row.run.number
    return {
        "seq": get("seq"), "run": run, "conn": get("conn"), "index": get("conn_index"),
        "client": get("client"), "method": get("method") or None,
        "target": get("target") or None, "version": get("version") or None,
        "status": get("status"), "outcome": get("outcome"), "reason": get("reason") or None,
        "content_type": get("content_type") or None,
        "request_length": get("request_length"), "response_length": get("response_length"),
        "request_truncated": get("request_truncated"),
        "response_truncated": get("response_truncated"),
        "times": get("times"), "started_us": get("started_us"),
        "duration_us": get("duration_us"),
        # From the capture relay: what the learner's server did wrong (mistakes.py).
        "mistake": get("mistake") or None,
        # Sent by "Check my server": the check's label ("4.2"), else null.
        "check": get("check_label") or None,
        # Sent by the learner's teacher (a class broadcast): "teacher", else null.
        "sent_by": get("sent_by") or None,
    }


def client_port(client: str) -> int | None:
    """The port of an exchange's ``client`` ("127.0.0.1:54321", "[::1]:54321")."""
    port = client.rpartition(":")[2]
    return int(port) if port.isdigit() and len(port) <= 5 else None


def tag_checks(sandbox_id: int, rows: list[Exchange]) -> list[Exchange]:
    """Label the rows a check sent (``check_label``) or a teacher's broadcast sent
    (``sent_by``), from the ports the playground registered (CheckPort, before the
    connection's first byte, so before its exchange can arrive): one indexed query per
    batch. Returns ``rows``."""
    ports = {client_port(row.client) for row in rows} - {None}
    if not ports:
        return rows
    tags = {port: (label, sent_by) for port, label, sent_by in
            CheckPort.objects.filter(sandbox_id=sandbox_id, port__in=ports)
            .values_list("port", "label", "sent_by")}
    for row in rows:
        row.check_label, row.sent_by = tags.get(client_port(row.client), ("", ""))
    return rows


def page_after(sandbox_id: int, after: int, limit: int = PAGE_SIZE,
               run: int | None = None, upto: int | None = None) -> list[dict[str, Any]]:
    """Summaries with seq > ``after``, oldest first, at most ``limit`` (of run number
    ``run`` only, and with seq <= ``upto`` only, when given)."""
    where: dict[str, Any] = {} if run is None else {"run__number": run}
    if upto is not None:
        where["seq__lte"] = upto
    rows = (Exchange.objects.filter(sandbox_id=sandbox_id, seq__gt=after, **where)
            .order_by("seq").values(*SUMMARY_FIELDS)[:limit])
    return [summary(r) for r in rows]


def stats(sandbox: Sandbox, stored: int | None = None) -> dict[str, Any]:
    """Totals for the page: the server's exact counters plus how many rows are stored."""
    if stored is None:
        stored = Exchange.objects.filter(sandbox=sandbox).count()
    return {
        "requests": sandbox.requests, "errors": sandbox.errors,
        "bytes_in": sandbox.bytes_in, "bytes_out": sandbox.bytes_out,
        "connections": sandbox.connections, "stored": stored,
        "last_seq": sandbox.last_seq, "rate": None,
        "dropped": {"server": sandbox.events_dropped, "playground": sandbox.ingest_dropped},
        # served = stored + removed + not_recorded, for the current run and for all
        # (runs.py): what the page states in one sentence.
        "counts": runs.stats_counts(sandbox.pk),
    }


def totals_of(stats: dict[str, Any]) -> dict[str, int]:
    """The Sandbox row's totals from a henaserver ``server.stats`` event."""
    def num(name: str) -> int:
        value = stats.get(name)
        return value if isinstance(value, int) else 0

    return {"requests": num("exchanges"), "errors": num("errors"),
            "bytes_in": num("bytes_in"), "bytes_out": num("bytes_out"),
            "connections": num("connections"), "events_dropped": num("dropped")}
