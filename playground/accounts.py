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
``session_group``).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import user_logged_in, user_logged_out
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
    group = session_group(getattr(getattr(request, "session", None), "session_key", None))
    layer = get_channel_layer()
    if group is None or layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "session.ended"})
    except Exception:  # a logout must work even when the channel layer does not
        log.exception("could not close the websockets of a session that logged out")


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
