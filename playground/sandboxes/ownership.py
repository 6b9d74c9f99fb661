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
READ_ONLY = gettext_noop("read-only: you are looking at a student's sandbox; only its "
                         "owner may change it (a teacher may only stop it)")

# What a request may do with a sandbox it can see (the sandbox JSON's "viewer").
OWNER, TEACHER = "owner", "teacher"
# Methods that change nothing: a teacher may use them on a watched sandbox.
READS = ("GET", "HEAD", "OPTIONS")


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


def readable_by(user: Any, session: Any) -> QuerySet[Sandbox]:
    """What a visitor may look at: their own sandboxes and those they watch as a
    teacher (the websocket consumer asks this, having no HttpRequest)."""
    mine = owned_by(user, session)
    if not is_teacher(user):
        return mine
    return mine | Sandbox.objects.filter(pk__in=watched_by(user).values("pk"))


def viewer(request: HttpRequest, sandbox: Sandbox) -> str:
    """OWNER or TEACHER: who this request is to ``sandbox`` (one it may read). Decided
    from the row's owner columns, without a query."""
    user = request.user
    if user.is_authenticated:
        return OWNER if sandbox.user_id == user.pk else TEACHER
    return OWNER  # an anonymous session reads only what it owns


def get_readable(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """The sandbox if this session owns it or its teacher watches it; otherwise a 404
    refusal, exactly as if it did not exist. For reads only."""
    try:
        return readable_by(request.user, request.session).get(pk=sandbox_id)
    except Sandbox.DoesNotExist:
        raise Refusal(NO_SUCH_SANDBOX).answer(404) from None


def get_owned(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """The sandbox if this session owns it: the rule for every change. A teacher who
    watches it gets a 403 saying the look is read-only (they can see it, so a 404
    would be a lie); anyone else the same 404 as a sandbox that does not exist."""
    sandbox = get_readable(request, sandbox_id)
    if viewer(request, sandbox) != OWNER:
        raise Refusal(READ_ONLY).answer(403)
    return sandbox


def get_for_method(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """For a view that both shows and changes (GET and PUT on one URL): a read takes
    ``get_readable``, anything else ``get_owned``."""
    if request.method in READS:
        return get_readable(request, sandbox_id)
    return get_owned(request, sandbox_id)


def page_sandbox(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """``get_readable`` for HTML pages: anyone else gets the site's friendly 404 page."""
    try:
        return readable_by(request.user, request.session).get(pk=sandbox_id)
    except Sandbox.DoesNotExist:
        raise Http404("no such sandbox") from None
