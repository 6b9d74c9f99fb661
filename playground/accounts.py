"""Accounts for a shared playground (PLAYGROUND_REQUIRE_LOGIN=true).

With the setting on, every page and API call needs a Django login: pages redirect to
``/accounts/login/`` (Django's LoginView with our template), the API answers 401 JSON
(a script should not follow a redirect to an HTML form). Sandboxes then belong to the
user (``Sandbox.user``; sandboxes/ownership.owned_by), and the websocket consumer refuses an
anonymous handshake the same way, because ``owned_by`` finds nothing for it.

With it off (the local default) nothing here does anything: ownership is the browser
session's random token, as before. Users are created by the teacher
(``manage.py createsuperuser`` / the admin); there is no public sign-up on purpose.

Either way, logging in carries the browser session's sandboxes into the account, as a
shop carries a cart (``_carry_sandboxes``), and logging out closes the session's open
websockets (``_close_websockets``: every traffic websocket joins its session's group,
``session_group``). Every websocket of an account also joins the account's group
(``user_group``), which classes/access.py tells when what the account may see shrinks.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.dispatch import receiver
from django.urls import path
from django.utils.translation import gettext as _

from .errors import error_response
from .models import CheckRun, Sandbox

log = logging.getLogger(__name__)

# Reachable without a login: the login page itself, the admin (it has its own login
# form), the CSS/JS those pages load, and the language switcher and JS translations the
# login page uses (docs/i18n.md).
PUBLIC_PREFIXES = ("/accounts/", "/admin/", "/static/", "/i18n/", "/jsi18n/")


def login_required_everywhere() -> bool:
    return bool(getattr(settings, "PLAYGROUND_REQUIRE_LOGIN", False))


class LoginRequiredMiddleware:
    """Refuse anonymous requests when PLAYGROUND_REQUIRE_LOGIN is on (read per request,
    so tests can switch it). After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (login_required_everywhere() and not request.user.is_authenticated
                and not request.path.startswith(PUBLIC_PREFIXES)):
            if request.path.startswith("/api/"):
                return error_response(401, _("log in first: this playground needs an account "
                                             "(%(url)s)") % {"url": settings.LOGIN_URL})
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


def session_group(session_key: str | None) -> str | None:
    """The channel-layer group of one browser session's websockets (a hash: a group
    name is visible to every process on the layer, a session key is a credential)."""
    if not session_key:
        return None
    return "session-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def user_group(user_id: int | None) -> str | None:
    """The channel-layer group of one account's websockets, in all its browsers: told
    to ask again what they may show when the account's access changes
    (classes/access.py). None for an anonymous visitor (no id)."""
    return f"user-{user_id}" if user_id else None


def shown_name(user: Any) -> str:
    """How a person is named to the others of a class (a teacher to students, a
    student on the board): their full name, else their username."""
    return user.get_full_name() or user.get_username()


def as_now(user: Any) -> Any:
    """The account as it is in the database now, or None when it is gone. A
    websocket's ``scope["user"]`` is the one of its handshake, permissions cached
    (Django's ModelBackend keeps them on the object): a later check reads it again."""
    if user is None or not user.is_authenticated:
        return None
    return get_user_model().objects.filter(pk=user.pk).first()


def tell(group: str | None, message: dict[str, Any]) -> None:
    """Send ``message`` to a group of websockets from synchronous code (a view, a
    signal). Never raises: what changed is stored, and a logout or a leave must work
    even when the channel layer does not."""
    layer = get_channel_layer()
    if group is None or layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001 - logged; the sockets ask again when they reconnect
        log.exception("could not tell the websockets of %s", group)


@receiver(user_logged_in, dispatch_uid="playground-carry-sandboxes")
def _carry_sandboxes(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The anonymous session's sandboxes become the account's. All of them, even past
    PLAYGROUND_MAX_SANDBOXES_PER_OWNER: a sandbox left behind would run on unseen; the
    quota then refuses new ones until the account is back under it."""
    token = request.session.get("owner_token") if request is not None else None
    if not token:
        return
    with transaction.atomic():
        moved = Sandbox.objects.filter(user=None, owner_token=token) \
            .update(user=user, owner_token="")
        # Their check runs' owner too (progress is per owner and sandbox).
        CheckRun.objects.filter(user=None, owner_token=token) \
            .update(user=user, owner_token="")
    if moved:
        log.info("%d sandbox(es) of a browser session carried into account %s", moved,
                 user.pk)


@receiver(user_logged_out, dispatch_uid="playground-close-websockets")
def _close_websockets(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Sent before the session is flushed: its websockets are told to close."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    tell(session_group(session_key), {"type": "session.ended"})


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
