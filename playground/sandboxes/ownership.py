"""Who owns a sandbox: a pure lookup, no side effects.

A sandbox belongs to a logged-in user, or else to an anonymous browser session through
a random token kept in it (not the session key, which Django rotates on login). Every
view, page and websocket asks here, so one rule decides what a visitor may see; another
session's sandbox answers exactly like one that does not exist.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_noop

from .. import accounts
from ..class_models import TEACH_PERMISSION
from ..models import Sandbox
from ..refusals import Refusal

NO_SUCH_SANDBOX = gettext_noop("no such sandbox (it may belong to another browser session)")


def owned(request: HttpRequest) -> QuerySet[Sandbox]:
    """The sandboxes of this request's user, or of its browser session."""
    return owned_by(request.user, request.session)


def owned_by(user: Any, session: Any) -> QuerySet[Sandbox]:
    """The sandboxes of ``user``, or of ``session`` when nobody is logged in (the
    websocket consumer has a user and a session but no HttpRequest)."""
    if user is not None and user.is_authenticated:
        return of_owner(user.pk, None)
    if accounts.login_required_everywhere():  # sessions own nothing then
        return Sandbox.objects.none()
    return of_owner(None, session.get("owner_token") if session is not None else None)


def of_owner(user_id: int | None, token: str | None) -> QuerySet[Sandbox]:
    """The sandboxes of a user (by id), else of an anonymous owner token."""
    if user_id is not None:
        return Sandbox.objects.filter(user_id=user_id)
    if not token:
        return Sandbox.objects.none()
    return Sandbox.objects.filter(user=None, owner_token=token)


def is_teacher(user: Any) -> bool:
    """A teacher holds the permission playground.teach (class_models.py)."""
    return bool(user is not None and user.is_authenticated
                and user.has_perm(TEACH_PERMISSION))


def watched_by(user: Any) -> QuerySet[Sandbox]:
    """The sandboxes a teacher may look at, read-only: those of the students of the
    classes ``user`` teaches. Nothing for anyone else (students never see each other)."""
    if not is_teacher(user):
        return Sandbox.objects.none()
    return Sandbox.objects.filter(user__memberships__classroom__teacher=user).distinct()


def owner_fields(request: HttpRequest) -> dict[str, Any]:
    """The owner columns for a new sandbox of this request (gives an anonymous session
    its token on first use)."""
    if request.user.is_authenticated:
        return {"user": request.user}
    token = request.session.get("owner_token")
    if not token:
        token = request.session["owner_token"] = secrets.token_urlsafe(24)
    return {"owner_token": token}


def get_owned(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """The sandbox if this session owns it; otherwise a 404 refusal, exactly as if it
    did not exist."""
    try:
        return owned(request).get(pk=sandbox_id)
    except Sandbox.DoesNotExist:
        raise Refusal(NO_SUCH_SANDBOX).answer(404) from None


def page_sandbox(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """``get_owned`` for HTML pages: another session gets the site's friendly 404 page."""
    try:
        return owned(request).get(pk=sandbox_id)
    except Sandbox.DoesNotExist:
        raise Http404("no such sandbox") from None
