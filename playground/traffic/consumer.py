"""The traffic websocket, ``/ws/sandboxes/<id>/?after=<seq>`` (protocol in docs/api.md).

Thin on purpose: ``connect()`` checks the Origin exactly and that the sandbox belongs to
this session, joins the sandbox's group, replays history from the database, then
forwards the ingest writer's live batches. Raw bytes are never pushed; the page fetches
them over HTTP when an exchange is opened.

No gap, no duplicate: the group is joined *before* the history is read, so an exchange
committed during the replay is either in the replay or in a live batch queued behind it
(or both). Everything with ``seq <= self.sent`` is skipped, so "both" is sent once.
A reconnecting page passes the last seq it received as ``?after=``.

Leaving its groups however it ends, the account's groups, the JSON guard for a
client's message and the ping are the base's (sockets.py); the viewer also stops
counting when it leaves: a viewer counted for ever would keep its sandbox from ever
being culled.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils import translation

from .. import accounts, origins
from ..checking import present as checks
from ..checking import runs as check_runs
from ..models import CheckRun, Run, Sandbox
from ..sandboxes import presence, presenters, runtime
from ..sandboxes.ownership import readable_by
from ..sockets import PlaygroundConsumer
from . import exchanges, ingest, live, runs

# Closed by the server: this viewer may no longer read the sandbox (a teacher's look
# that ended, access_changed), HTTP's 403.
ACCESS_ENDED = 4403


class TrafficConsumer(PlaygroundConsumer):
    """One viewer of one sandbox's traffic."""

    sandbox_id: int = 0
    sent: int = 0  # the highest seq this client has (or was told it may skip)
    watching: bool = False  # counted by sandboxes/presence.py

    async def connect(self) -> None:
        """Origin, then ownership, then join, replay and the opening messages."""
        if not origins.origin_allowed(self.scope):
            await self.close()  # before accept(): the handshake is refused with 403
            return
        sandbox_id = int(self.scope["url_route"]["kwargs"]["sandbox_id"])
        sandbox = await database_sync_to_async(self._owned)(sandbox_id)
        if sandbox is None:
            await self.close()  # not yours or gone: the same answer, like the API's 404
            return
        self.sandbox_id = sandbox_id
        self.read_language()
        self.sent = _after(self.scope.get("query_string", b""))
        await self.join(live.group_name(sandbox_id))
        await self.join_account()  # closed at logout, asked again (access_changed)
        await self.accept()
        # Watched: not idle (sandboxes/culling.py) while this viewer is open. Counted on
        # the event loop, nothing between it and the flag __call__'s finally reads.
        presence.opened(sandbox_id)
        self.watching = True
        await database_sync_to_async(presence.mark_viewed)(sandbox_id)
        await self.replay()
        opening = await database_sync_to_async(self._opening)()
        for message in opening:
            await self.send_json(message)

    async def _leave(self) -> None:
        """Stop counting as a viewer, once, then leave the groups (sockets.py)."""
        if self.watching:
            self.watching = False
            presence.closed(self.sandbox_id)  # first, and on the loop: it cannot fail
            await database_sync_to_async(presence.mark_viewed)(self.sandbox_id)
        await super()._leave()

    async def access_changed(self, event: dict[str, Any]) -> None:
        """What this account may see shrank (classes/access.py: a student left the
        class, its teacher lost the permission): the handshake's answer is asked again,
        and a viewer who may no longer read the sandbox is closed."""
        if not await database_sync_to_async(self._still_readable)():
            await self.close(code=ACCESS_ENDED)

    # ----- history ----------------------------------------------------------------

    async def replay(self) -> None:
        """Everything stored after ``self.sent``, oldest first, a page at a time. The
        database holds at most the retention window, so this is bounded too."""
        first = True
        while True:
            rows = await database_sync_to_async(exchanges.page_after)(
                self.sandbox_id, self.sent)
            if not rows:
                break
            message: dict[str, Any] = {"type": "exchanges", "items": rows}
            if first and self.sent and rows[0]["seq"] > self.sent + 1:
                message["skipped"] = rows[0]["seq"] - self.sent - 1  # evicted meanwhile
            first = False
            await self.send_json(message)
            self.sent = rows[-1]["seq"]
            if len(rows) < exchanges.PAGE_SIZE:
                break

    # ----- live messages from the ingest writer (group_send "type" -> method) --------

    async def traffic_batch(self, event: dict[str, Any]) -> None:
        if "last_seq" in event:  # absent when the batch brought console lines only
            await self._exchanges(event)
        if "stats" in event:
            await self.send_json({"type": "stats", **event["stats"]})
        if event.get("console"):
            await self.send_json({"type": "console", "lines": event["console"],
                                  "skipped": event.get("console_skipped", 0)})
        # The capture relay: requests still unanswered (live only), and new stream
        # records (the page reads them from the streams API).
        if event.get("waiting"):
            await self.send_json({"type": "waiting", "items": event["waiting"]})
        if event.get("answered"):  # ended, even by an exchange not pushed (not_pushed)
            await self.send_json({"type": "answered", "items": event["answered"]})
        if event.get("streams"):
            await self.send_json({"type": "streams", "count": event["streams"]})

    async def _exchanges(self, event: dict[str, Any]) -> None:
        first, last = event["first_seq"], event["last_seq"]
        if self.sent < first - 1:  # whole batches went missing: from the database
            await self._fill_gap(first - 1)
        if last > self.sent:
            items = [item for item in event["items"] if item["seq"] > self.sent]
            # A flood's batch pushes only its newest rows: the older ones it stored are
            # in the history (not_pushed), not skipped. A batch is one transaction, so
            # the replay had all of it or none: when this viewer has none of it, every
            # seq of the range is new to it, and the rest were never stored (skipped).
            not_pushed = event.get("not_pushed", 0) if self.sent < first else 0
            skipped = max(0, last - self.sent - len(items) - not_pushed)
            message: dict[str, Any] = {"type": "exchanges", "items": items}
            if skipped:
                message["skipped"] = skipped
            if not_pushed:
                message["not_pushed"] = not_pushed
            await self.send_json(message)
            self.sent = last

    async def traffic_run(self, event: dict[str, Any]) -> None:
        """A run began or ended: ``{"type": "run", "run": RUN}`` in this viewer's
        language (runs.py). History is never reset: earlier runs' exchanges stay."""
        run = await database_sync_to_async(self._run_json)(event["run"])
        if run is not None:
            await self.send_json({"type": "run", "run": run})

    async def sandbox_status(self, event: dict[str, Any]) -> None:
        """A status change, as data (one group message for every viewer), worded in
        this viewer's language."""
        with translation.override(self.language):
            status = presenters.status_json(event["status"])
        await self.send_json({"type": "status", **status})

    async def checks_progress(self, event: dict[str, Any]) -> None:
        """A check of "Check my server" finished, or its run ended (checking/runs.py):
        the run as it was then, read from its row, in this viewer's language."""
        run = await database_sync_to_async(self._checks_json)(event)
        if run is not None:
            await self.send_json({"type": "checks", "run": run})

    async def _fill_gap(self, upto: int) -> None:
        """A viewer that missed whole batches (the channel layer drops messages for a
        channel that holds 100) catches up from the database: every stored row up to
        ``upto`` (retention bounds how many). Only seqs that are not stored, removed
        or never recorded, are counted as ``skipped``: nothing in the history is."""
        while self.sent < upto:
            rows = await database_sync_to_async(exchanges.page_after)(
                self.sandbox_id, self.sent, exchanges.PAGE_SIZE, None, upto)
            end = rows[-1]["seq"] if len(rows) == exchanges.PAGE_SIZE else upto
            skipped = (end - self.sent) - len(rows)
            message: dict[str, Any] = {"type": "exchanges", "items": rows}
            if skipped:
                message["skipped"] = skipped
            if rows or skipped:
                await self.send_json(message)
            self.sent = end

    # ----- database (run in a thread) ------------------------------------------------

    def _owned(self, sandbox_id: int) -> Sandbox | None:
        runtime.supervisor()  # first use reconciles the rows, before any status is read
        # Its owner, or a teacher watching it (read-only: the socket takes only pings).
        return readable_by(self.scope.get("user"), self.scope.get("session")) \
            .filter(pk=sandbox_id).first()

    def _still_readable(self) -> bool:
        user = accounts.as_now(self.scope.get("user"))
        return readable_by(user, self.scope.get("session")).filter(
            pk=self.sandbox_id).exists()

    def _run_json(self, run_id: int) -> dict[str, Any] | None:
        run = Run.objects.filter(pk=run_id, sandbox_id=self.sandbox_id).first()
        if run is None:  # deleted with its sandbox meanwhile
            return None
        with translation.override(self.language):
            return runs.to_json(run)

    def _checks_json(self, event: dict[str, Any]) -> dict[str, Any] | None:
        run = CheckRun.objects.filter(pk=event["run"], sandbox_id=self.sandbox_id).first()
        if run is None:  # deleted with its sandbox meanwhile
            return None
        with translation.override(self.language):
            return checks.run_json(checks.as_sent(run, event["state"], event.get("count")))

    def _opening(self) -> list[dict[str, Any]]:
        """Totals, status, the latest run (and check run), the relay's waiting requests
        and the console tail for a viewer that just arrived."""
        sandbox = Sandbox.objects.get(pk=self.sandbox_id)
        check_runs.interrupt_ended(sandbox.pk)  # not "running" if its process is gone
        lines = runtime.console_tail(sandbox)
        latest = sandbox.runs.order_by("-number").first()
        checked = CheckRun.objects.filter(sandbox=sandbox).order_by("-number").first()
        with translation.override(self.language):
            status = presenters.status_json(presenters.status_facts(sandbox))
            run = [{"type": "run", "run": runs.to_json(latest)}] if latest else []
            # The latest run of "Check my server", so the page shows it at once.
            run += [{"type": "checks", "run": checks.run_json(checks.run_facts(checked))}
                    ] if checked else []
        return [
            {"type": "stats", **exchanges.stats(sandbox)},
            {"type": "status", **status},
            *run,  # the latest run, so the page knows which is current without asking
            # The capture relay's requests unanswered now (traffic/waiting.py), the
            # whole set: a page that reconnects drops rows whose end it missed. After
            # the replay and the run (which clears the rows): an exchange stored
            # meanwhile ends its row in a live batch queued behind these.
            {"type": "waiting", "replace": True,
             "items": ingest.waiting_now(self.sandbox_id)},
            {"type": "console", "lines": lines, "skipped": 0, "tail": True},
        ]


def _after(query_string: bytes) -> int:
    """``?after=N`` from the query string; 0 (everything) when absent or malformed."""
    values = parse_qs(query_string.decode("latin-1")).get("after", [])
    try:
        return max(0, int(values[-1])) if values else 0
    except ValueError:
        return 0
