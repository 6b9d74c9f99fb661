"""Classes: a teacher, their students, and what a teacher did to a student's sandbox
(docs/classes.md). A core module beside models.py (which imports it, so Django sees
these models): the rest of the site asks who may watch what through
sandboxes/ownership.py; classes/ holds the pages, the board and the broadcast."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

# The permission that makes a teacher ("playground.teach"): given through the group
# TEACHERS_GROUP (migration 0014 creates it) or directly, never implied by staff or
# superuser status alone: a teacher need not administer the site.
TEACH_PERMISSION = "playground.teach"
TEACHERS_GROUP = "teachers"


class Classroom(models.Model):
    """A class: its teacher and the code students join it with."""

    name = models.CharField(max_length=80)
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="classes_taught")
    # Random, from an alphabet without look-alikes (classes/codes.py): read aloud in a
    # classroom or typed from a projector. Unique across the site.
    join_code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the broadcast now under way (classes/broadcast_claim.py) claimed the class,
    # renewed as its answers come; null when none is. In the database, not in a
    # process: a double click may land on two daphne processes.
    broadcast_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("teach", "Can create classes and watch their students' sandboxes")]

    def __str__(self) -> str:
        return f"{self.name} ({self.join_code})"


class Membership(models.Model):
    """A student in a class. A student may be in several classes; the teacher of each
    sees that student's sandboxes, read-only (sandboxes/ownership.watched_by)."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE,
                                  related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["classroom", "joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["classroom", "user"], name="one_membership"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in class {self.classroom_id}"


def whole_class_deleted(origin: Any) -> bool:
    """Whether a membership's ``post_delete`` comes from deleting its class (the
    signal's ``origin``: the class, or a queryset of classes). The class's own
    ``post_delete`` then says it once, not once per student of a class of 60."""
    return isinstance(origin, Classroom) or getattr(origin, "model", None) is Classroom


class TeacherNotice(models.Model):
    """Something a teacher did to a student's sandbox (stopped it, sent it a request),
    shown to the student on the sandbox's card: nothing a teacher does is hidden."""

    class Action(models.TextChoices):
        STOPPED = "stopped"
        BROADCAST = "broadcast"  # one request sent to every running sandbox of a class

    sandbox = models.ForeignKey("playground.Sandbox", on_delete=models.CASCADE,
                                related_name="teacher_notices")
    # Kept by name too: the notice stays true when the teacher's account goes.
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    teacher_name = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sandbox", "-at", "-id"]

    def __str__(self) -> str:
        return f"{self.teacher_name} {self.action} sandbox {self.sandbox_id}"
