"""The classes' pages (docs/classes.md, "Roles and classes"): /classes/ (a teacher's
classes with their join codes and links, and the "New class" form; a student's classes;
the "Join a class" form for anyone logged in), the join link /classes/join/<code>/ and
leaving a class. Plain HTML forms, no script: they work before any JavaScript loads.

Every page needs a login, with or without PLAYGROUND_REQUIRE_LOGIN (there is no public
sign-up; accounts come from the teacher: ``manage.py add_students``): an anonymous
visitor is sent to the login page and comes back to the same link afterwards."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ..refusals import Refusal
from . import codes, memberships
from .api import list_payload

LIST = "playground/classes/list.html"


@login_required
@require_http_methods(["GET", "POST"])
def class_list(request: HttpRequest) -> HttpResponse:
    """The list; its POST is the "New class" form (a teacher's)."""
    if request.method == "GET":
        return _list(request)
    try:
        classroom = memberships.create_class(request.user, request.POST.get("name"))
    except Refusal as refusal:
        if refusal.status == 403:  # not a teacher: there is no form to show it beside
            return _problem(request, _("Forbidden"), refusal)
        return _list(request, status=refusal.status, new_class_error=refusal.translate(_),
                     name=request.POST.get("name", ""))
    messages.success(request, _("Class %(name)s created: its join code is %(code)s.")
                     % {"name": classroom.name, "code": _code(classroom)})
    return redirect("playground:class-list")  # a reload does not create it again


@login_required
@require_http_methods(["GET", "POST"])
def join_form(request: HttpRequest) -> HttpResponse:
    """The "Join a class" form: the code as typed. Its URL opened in the address bar
    (a join link without its code): the list, where the form is, not a blank 405."""
    if request.method == "GET":
        return redirect("playground:class-list")
    typed = request.POST.get("code", "")
    try:
        classroom = memberships.find_class(typed)
        return _joined(request, memberships.join(request.user, classroom))
    except Refusal as refusal:
        return _list(request, status=refusal.status, join_error=refusal.translate(_),
                     code=typed)


@login_required
@require_http_methods(["GET", "POST"])
def join_link(request: HttpRequest, code: str) -> HttpResponse:
    """GET: which class and teacher, and a Join button; POST joins. A code that names
    no class is a 404 page saying so."""
    try:
        classroom = memberships.find_class(code)
    except Refusal as refusal:
        return _problem(request, _("No such class"), refusal)
    if request.method == "POST":
        try:
            return _joined(request, memberships.join(request.user, classroom))
        except Refusal as refusal:
            messages.error(request, refusal.translate(_))
            return redirect(request.path)
    return render(request, "playground/classes/join.html", {
        "classroom": classroom, "teacher": memberships.teacher_name(classroom),
        "code": _code(classroom),
        "teaches_it": classroom.teacher_id == request.user.pk,
        "member": classroom.memberships.filter(user=request.user).exists(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, class_id: int) -> HttpResponse:
    """POST leaves; a GET (the URL opened, a link followed) leaves nothing and shows
    the list, where the Leave button is."""
    if request.method == "GET":
        return redirect("playground:class-list")
    try:
        classroom = memberships.leave(request.user, class_id)
    except Refusal as refusal:
        messages.error(request, refusal.translate(_))
    else:
        messages.success(request, _("You left the class %(name)s.")
                         % {"name": classroom.name})
    return redirect("playground:class-list")


def _joined(request: HttpRequest, joined: memberships.Joined) -> HttpResponse:
    """After a join: the home page, with a notice saying which class."""
    classroom = joined.classroom
    values = {"name": classroom.name, "teacher": memberships.teacher_name(classroom)}
    if joined.added:
        text = _("You joined the class %(name)s (teacher: %(teacher)s). Your teacher "
                 "can now see your sandboxes, read-only.") % values
    else:
        text = _("You are already in the class %(name)s (teacher: %(teacher)s).") % values
    messages.success(request, text)
    return redirect("playground:home")


def _problem(request: HttpRequest, title: str, refusal: Refusal) -> HttpResponse:
    """The site's friendly error page, with the refusal's status and words."""
    return render(request, "playground/error.html", {
        "status": refusal.status, "title": title, "message": refusal.translate(_)},
        status=refusal.status)


def _code(classroom: Any) -> str:
    return codes.display(classroom.join_code)


def _list(request: HttpRequest, status: int = 200, **form: Any) -> HttpResponse:
    return render(request, LIST, {"data": list_payload(request),
                                  "max_name": memberships.MAX_NAME, **form}, status=status)
