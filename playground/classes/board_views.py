"""The class board's page, ``/classes/<id>/``, and its JSON, ``GET
/api/classes/<id>/board/`` (docs/api.md). Only the class's teacher: anyone else who is
not a teacher gets 403, another teacher (or a class that does not exist) 404, so a
class's existence is never told to someone who does not teach it. The page renders the
board's first JSON into itself; static/playground/js/board.js keeps it live over
``/ws/classes/<id>/`` (classes/consumer.py)."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import ensure_csrf_cookie

from ..checking.present import stage_count
from ..class_models import Classroom
from ..errors import api
from ..refusals import Refusal
from ..sandboxes.ownership import is_teacher
from . import board, codes, present

NOT_A_TEACHER = gettext_noop("only the teacher of a class sees its board")
NO_SUCH_CLASS = gettext_noop("no such class (or it is another teacher's)")


def _taught(request: HttpRequest, class_id: int) -> Classroom | None:
    """The class if this user teaches it; None for another teacher's, or none."""
    return Classroom.objects.filter(pk=class_id, teacher=request.user).first()


@api("GET")
def board_api(request: HttpRequest, class_id: int) -> JsonResponse:
    if not is_teacher(request.user):
        raise Refusal(NOT_A_TEACHER).answer(403)
    classroom = _taught(request, class_id)
    if classroom is None:
        raise Refusal(NO_SUCH_CLASS).answer(404)
    return JsonResponse(board.board_json(classroom))


@ensure_csrf_cookie  # the broadcast panel on this page posts with it
def board_page(request: HttpRequest, class_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_teacher(request.user):
        raise PermissionDenied(NOT_A_TEACHER)
    classroom = _taught(request, class_id)
    if classroom is None:
        raise Http404(NO_SUCH_CLASS)
    return render(request, "playground/classes/board.html", {
        "classroom": classroom, "initial": board.board_json(classroom),
        "join_code": codes.display(classroom.join_code),
        "join_link": request.build_absolute_uri(present.join_path(classroom)),
        "stages": range(1, stage_count() + 1)})
