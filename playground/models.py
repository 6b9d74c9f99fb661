"""What the playground remembers about each sandbox.

The process itself lives in the supervisor; this row is what the page shows and what
survives a restart of the playground (reconciled in sandboxes.py on first use).
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
    # Last thing worth telling the learner ("stopped: the playground restarted").
    message = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    # Copied from the child's `server.stats` events (exact counters since it started).
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} (:{self.port}, {self.status})"

    @property
    def key(self) -> str:
        """The supervisor's name for this sandbox's process."""
        return str(self.pk)

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.STARTING, self.Status.RUNNING)

    def uptime_seconds(self) -> float | None:
        if self.status != self.Status.RUNNING or self.started_at is None:
            return None
        return max(0.0, (timezone.now() - self.started_at).total_seconds())
