"""The JSON of a class, one shape for the API and the pages (docs/api.md): what a
teacher sees of their class, and the little a student sees of one they joined."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from ..class_models import Classroom
from . import codes
from .memberships import teacher_name


def join_path(classroom: Classroom) -> str:
    """The join link's path, with the code as it is shown (XXXX-XXXX)."""
    return reverse("playground:class-join", args=[codes.display(classroom.join_code)])


def taught_json(request: HttpRequest, classroom: Classroom) -> dict[str, Any]:
    """A class as its teacher sees it (``classroom`` from memberships.taught_by, which
    counts its students)."""
    return {
        "id": classroom.pk,
        "name": classroom.name,
        "join_code": codes.display(classroom.join_code),
        "join_link": request.build_absolute_uri(join_path(classroom)),
        "students": _student_count(classroom),
        "created_at": classroom.created_at.isoformat(),
        # The class board's page (classes/board.py; docs/classes.md, "The class board").
        "links": {"board": reverse("playground:class-board", args=[classroom.pk])},
    }


def _student_count(classroom: Classroom) -> int:
    """Counted by the list's query when it has, else here (a class just created)."""
    counted = getattr(classroom, "student_count", None)
    return counted if counted is not None else classroom.memberships.count()


def joined_json(classroom: Classroom) -> dict[str, Any]:
    """A class as a student sees it: its name and teacher, never the other students."""
    return {
        "id": classroom.pk,
        "name": classroom.name,
        "teacher": teacher_name(classroom),
        "links": {"leave": reverse("playground:api-class-leave", args=[classroom.pk])},
    }
