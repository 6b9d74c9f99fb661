"""The classes' JSON API (docs/api.md, "Classes"): a teacher's classes and a new one;
joining with a code; leaving. Thin views over memberships.py; refusals become
``{"error": ...}`` in errors.api. Every call needs a login (a membership is an
account's), with or without PLAYGROUND_REQUIRE_LOGIN: 401 JSON otherwise."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_noop

from ..errors import api, json_body
from ..refusals import Refusal
from ..sandboxes.ownership import is_teacher
from . import memberships
from .present import joined_json, taught_json

LOG_IN_FOR_CLASSES = gettext_noop("log in first: classes need an account")


def _logged_in(request: HttpRequest) -> None:
    if not request.user.is_authenticated:
        raise Refusal(LOG_IN_FOR_CLASSES).answer(401)


def list_payload(request: HttpRequest) -> dict:
    """What ``GET /api/classes/`` answers (the page /classes/ shows the same)."""
    user = request.user
    return {
        "is_teacher": is_teacher(user),
        "teaching": [taught_json(request, c) for c in memberships.taught_by(user)],
        "joined": [joined_json(c) for c in memberships.joined_by(user)],
    }


@api("GET", "POST")
def class_list(request: HttpRequest) -> JsonResponse:
    _logged_in(request)
    if request.method == "GET":
        return JsonResponse(list_payload(request))
    classroom = memberships.create_class(request.user, json_body(request).get("name"))
    return JsonResponse(taught_json(request, classroom), status=201)


@api("POST")
def class_join(request: HttpRequest) -> JsonResponse:
    _logged_in(request)
    classroom = memberships.find_class(json_body(request).get("code"))
    joined = memberships.join(request.user, classroom)
    # 201 when this call added the student, 200 when they were in it already.
    return JsonResponse({"class": joined_json(classroom), "added": joined.added},
                        status=201 if joined.added else 200)


@api("POST")
def class_leave(request: HttpRequest, class_id: int) -> JsonResponse:
    _logged_in(request)
    classroom = memberships.leave(request.user, class_id)
    return JsonResponse({"left": classroom.pk})
