"""What the playground remembers about each sandbox.

The process itself lives in the supervisor; this row is what the page shows and what
survives a restart of the playground (reconciled by sandboxes/runtime.py on first use).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Sandbox(models.Model):
    class Status(models.TextChoices):
        STOPPED = "stopped"
        STARTING = "starting"
        RUNNING = "running"
        CRASHED = "crashed"

    # A process is (or is about to be) behind the row: what reconcile and the limits count.
    LIVE_STATUSES = (Status.STARTING, Status.RUNNING)

    # Owner: the logged-in user, else a random token kept in the browser session
    # (a token rather than the session key, which Django rotates on login).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="sandboxes")
    owner_token = models.CharField(max_length=64, blank=True, db_index=True)

    name = models.CharField(max_length=60)
    # A sandbox keeps its port while it exists, so two can never fight over one.
    port = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STOPPED)
    pid = models.IntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stderr_tail = models.TextField(blank=True)
    # Last thing worth telling the learner, kept as data: a msgid ("stopped: the
    # playground restarted") and its parameters (refusals.Message; shown translated by
    # sandboxes/presenters.py).
    message = models.CharField(max_length=500, blank=True)
    message_params = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    # Copied from the child's `server.stats` events (exact counters since it started).
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    connections = models.BigIntegerField(default=0)
    # Events henaserver itself dropped (its `server.stats` `dropped`), and events the
    # playground's ingest queue dropped at its bound: both shown on the traffic page.
    events_dropped = models.BigIntegerField(default=0)
    ingest_dropped = models.BigIntegerField(default=0)
    # The last Exchange.seq handed out; kept across restarts of the server so a seq is
    # never reused and a reconnecting viewer never mistakes new exchanges for old ones.
    last_seq = models.BigIntegerField(default=0)

    # How the server answers (henaserver --mode; docs/modes.md), the raw bytes of the
    # "fixed" mode and the response rules: written to files outside the document root
    # by sandboxes/modes.py and passed to henaserver on start.
    mode = models.CharField(max_length=20, default="full")
    fixed_response = models.BinaryField(default=b"", blank=True)
    rules = models.JSONField(default=list, blank=True)

    # Who runs the server (sandboxes/claims.py, docs/architecture.md "Claims"): the
    # PlaygroundProcess.name that claimed it, and the claim's token. A start claims the
    # row in one short transaction, starts the child outside it, and finishes only if
    # the claim is still its own; a stop clears the claim first. ``resume``: running
    # when the autoreloader restarted the playground, to be started again by the new
    # worker (sandboxes/boot.py).
    run_by = models.CharField(max_length=100, blank=True, db_index=True)
    claim = models.CharField(max_length=40, blank=True)
    resume = models.BooleanField(default=False)

    # Budgets and culling (sandboxes/budgets.py, sandboxes/culling.py): the client
    # address that created it (an IPv4 address or an IPv6 /64; what an anonymous
    # owner's per-address budget counts), when a viewer last had its traffic page open
    # (refreshed while one does: sandboxes/presence.py), and when its owner was last
    # seen (anonymous owners: any request of their session; an abandoned one's
    # sandboxes are deleted). client_network: the wider budget's block (an IPv6 /48).
    # db_default: a process of the previous release, still running during a rolling
    # upgrade, inserts rows without these columns (PostgreSQL: NOT NULL).
    client_address = models.CharField(max_length=64, blank=True, db_index=True,
                                      default="", db_default="")
    client_network = models.CharField(max_length=64, blank=True, db_index=True,
                                      default="", db_default="")
    viewed_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    # What serves the port (docs/program-sandboxes.md): henaserver, or the learner's own
    # program behind the capture relay. A program's source is a file of the sandbox
    # (``main_file``, its working directory's main file), so the files API, the quota and
    # atomic writes cover it; ``starter`` is the starter it began from (blank: none).
    # A program sandbox has no henaserver mode: its ``mode`` is "program" (what its runs
    # record). db_default: rows inserted by the previous release (see above).
    class Kind(models.TextChoices):
        HENASERVER = "henaserver"
        PROGRAM = "program"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.HENASERVER,
                            db_default=Kind.HENASERVER)
    main_file = models.CharField(max_length=255, default="main.py", db_default="main.py")
    starter = models.CharField(max_length=40, blank=True, default="", db_default="")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} (:{self.port}, {self.status})"

    @property
    def key(self) -> str:
        """The supervisor's name for this sandbox's process."""
        return str(self.pk)

    @property
    def is_program(self) -> bool:
        return self.kind == self.Kind.PROGRAM

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    def uptime_seconds(self) -> float | None:
        if self.status != self.Status.RUNNING or self.started_at is None:
            return None
        return max(0.0, (timezone.now() - self.started_at).total_seconds())


class PlaygroundProcess(models.Model):
    """One serving playground process (a daphne, or runserver's worker) and its
    heartbeat (sandboxes/heartbeat.py). A process whose ``beat_at`` is older than
    heartbeat.STALE_AFTER has ended: the others stop what it ran."""

    name = models.CharField(max_length=100, unique=True)  # host:pid:random
    pid = models.IntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One start of a sandbox's server, from start to stop, crash or once-mode exit.

    Starting a sandbox begins a new run; earlier runs' exchanges stay (retention removes
    only the oldest, across runs). The counters make one formula hold, per run and summed
    over runs (traffic/runs.py): served = stored + removed + not recorded. Only the
    ingest writer (traffic/ingest.py) creates runs and changes their counters.
    """

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()  # 1, 2, 3... per sandbox, never reused
    mode = models.CharField(max_length=20)  # the sandbox's mode when the run started
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)  # null while it runs
    # How it ended, as data like Sandbox.message (refusals.Message), worded where shown.
    message = models.CharField(max_length=500, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    # Exchanges the server answered in this run: henaserver's own count (its
    # `server.stats`, or the highest exchange number received when that is higher,
    # e.g. after a crash). Exact at the source, whatever capture dropped.
    served = models.BigIntegerField(default=0)
    stored = models.BigIntegerField(default=0)  # rows of this run in the table now
    removed = models.BigIntegerField(default=0)  # rows removed by retention
    # Exchanges the playground knows it could not record, by reason code
    # (traffic/runs.py REASONS) other than capture_queue_full, which is what remains.
    lost = models.JSONField(default=dict, blank=True)
    # The highest henaserver exchange number received (docs/events.md `number`), and the
    # sandbox's last seq before the run began: exchange number n of the run gets seq
    # seq_base + n, so an exchange henaserver could not record leaves a visible gap in
    # seq, and stored seqs are contiguous when nothing was lost.
    last_number = models.BigIntegerField(default=0)
    seq_base = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["sandbox", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sandbox", "number"], name="run_number_unique"),
        ]

    def __str__(self) -> str:
        return f"run {self.number} of sandbox {self.sandbox_id}"


class Exchange(models.Model):
    """One request and its response as henaserver recorded them (an ``exchange`` event).

    Summaries are columns so the list can be filtered and paged in SQL; the exact bytes
    are BinaryFields in the same row rather than files under the data dir: one
    transaction writes both, one DELETE evicts both (no orphan files after a crash), and
    each is small because henaserver caps recorded bodies (``body_cap``, 64 KiB by
    default). Retention (settings PLAYGROUND_RETENTION_*) bounds the total per sandbox.
    Only ``playground/ingest.py``'s writer thread creates or deletes these rows.
    """

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="exchanges")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="exchanges")
    # Per-sandbox, strictly increasing, never reused (Sandbox.last_seq): what a
    # reconnecting websocket resumes from.
    seq = models.BigIntegerField()
    conn = models.IntegerField()
    conn_index = models.IntegerField()  # 0 = first on its connection; > 0 = keep-alive reuse
    client = models.CharField(max_length=80, blank=True)
    method = models.CharField(max_length=40, blank=True)
    target = models.TextField(blank=True)
    version = models.CharField(max_length=20, blank=True)
    status = models.IntegerField(null=True)
    outcome = models.CharField(max_length=20)
    reason = models.CharField(max_length=300, blank=True)
    # From the capture relay only (docs/events.md ``mistake``): what the learner's own
    # server did wrong, a name of traffic/mistakes.py; "" from henaserver. db_default:
    # rows inserted by the release before (a rolling upgrade) get "".
    mistake = models.CharField(max_length=40, blank=True, default="", db_default="")
    # Sent by "Check my server" (playground/checking): the check's label ("4.2"), set by
    # ingest from the run's CheckPort rows (the checker's port on that connection).
    # Not named ``check``: that is Model.check(), Django's system checks.
    check_label = models.CharField(max_length=12, blank=True, default="", db_default="")
    # Sent by a teacher's broadcast (classes/), "teacher"; "" otherwise. Set by ingest
    # like check_label, from the CheckPort row the broadcast registered.
    sent_by = models.CharField(max_length=20, blank=True, default="", db_default="")
    content_type = models.CharField(max_length=200, blank=True)  # of the response
    request_length = models.BigIntegerField()
    response_length = models.BigIntegerField()
    request_truncated = models.BooleanField(default=False)
    response_truncated = models.BooleanField(default=False)
    # henaserver's `times`: integer microseconds since the epoch, null = never happened.
    times = models.JSONField(default=dict)
    started_us = models.BigIntegerField()  # first_byte, else accepted: the row's time
    duration_us = models.BigIntegerField(null=True)  # response_end - first_byte
    request_raw = models.BinaryField()
    response_raw = models.BinaryField()
    stored_bytes = models.IntegerField()  # len(request_raw) + len(response_raw)

    class Meta:
        ordering = ["sandbox", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["sandbox", "seq"], name="exchange_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.method} {self.target} -> {self.status}"


class StreamRecord(models.Model):
    """Bytes the capture relay forwarded that belong to no exchange (its ``stream``
    event, docs/events.md): what followed a request that is not HTTP, what a server
    sent after an answer with no status line. Kept as they came, the newest
    traffic/streams.KEEP per sandbox; written only by the ingest writer."""

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="streams")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="streams")
    conn = models.IntegerField()
    direction = models.CharField(max_length=10)  # to_server | to_client
    reason = models.CharField(max_length=300, blank=True)
    data = models.BinaryField()  # up to the relay's body_cap bytes
    length = models.BigIntegerField()  # how many bytes there were
    truncated = models.BooleanField(default=False)
    time_us = models.BigIntegerField()  # when the relay recorded them

    class Meta:
        ordering = ["sandbox", "id"]

    def __str__(self) -> str:
        return f"stream {self.direction} conn {self.conn} ({self.length} B)"


class CheckRun(models.Model):
    """One run of "Check my server" on a sandbox (playground/checking, docs/checks.md):
    stages 1..``through``, each check's outcome kept as data in ``results`` (worded
    where shown, checking/present.py). At most one runs per sandbox at a time (the
    partial unique constraint: a double click is refused by the database, from any
    process); the newest checking.runs.KEEP_RUNS per sandbox are kept."""

    class State(models.TextChoices):
        RUNNING = "running"
        PASSED = "passed"  # every check of stages 1..through passed
        FAILED = "failed"  # at least one failed (or the run could not begin)
        STOPPED = "stopped"  # Stop: the remaining checks were not run
        INTERRUPTED = "interrupted"  # the playground process running it ended

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="check_runs")
    # The sandbox's owner when the run began (moved with it at login, accounts.py):
    # progress is per owner and sandbox.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="check_runs")
    owner_token = models.CharField(max_length=64, blank=True, db_index=True)
    number = models.PositiveIntegerField()  # 1, 2, 3... per sandbox, never reused
    state = models.CharField(max_length=12, choices=State.choices, default=State.RUNNING)
    through = models.PositiveSmallIntegerField()  # the last stage asked for
    reached = models.PositiveSmallIntegerField(default=0)  # stages 1..reached all passed
    # One Outcome each, in the order they finished, as data (checking/present.py).
    results = models.JSONField(default=list, blank=True)
    # Why it ended without checking everything, as data (refusals.Message), or "".
    message = models.CharField(max_length=500, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    run_by = models.CharField(max_length=100, blank=True)  # heartbeat.me() of its process
    stop_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["sandbox", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sandbox", "number"],
                                    name="check_run_number_unique"),
            models.UniqueConstraint(fields=["sandbox"], condition=models.Q(state="running"),
                                    name="one_running_check_per_sandbox"),
        ]

    def __str__(self) -> str:
        return f"check run {self.number} of sandbox {self.sandbox_id} ({self.state})"


class CheckPort(models.Model):
    """A connection the playground itself opened to a sandbox: a check's (the checker's
    local port and the check's label) or a teacher's broadcast (``sent_by``, no run).
    Ingest tags the exchanges from that port (Exchange.check_label, Exchange.sent_by);
    the rows go when the run or the broadcast ends."""

    run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.CASCADE,
                            related_name="ports")
    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="+")
    port = models.PositiveIntegerField()
    label = models.CharField(max_length=12, blank=True)
    sent_by = models.CharField(max_length=20, blank=True, default="", db_default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["sandbox", "port"], name="check_port_lookup")]

    def __str__(self) -> str:
        return f"port {self.port}: check {self.label or self.sent_by}"


# The classes' models live beside these (class_models.py); imported here so Django
# registers them with the app.
from .class_models import Classroom, Membership, TeacherNotice  # noqa: E402, F401
