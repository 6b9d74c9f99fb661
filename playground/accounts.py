"""Accounts for a shared playground (PLAYGROUND_REQUIRE_LOGIN=true).

With the setting on, every page and API call needs a Django login: pages redirect to
``/accounts/login/`` (Django's LoginView with our template), the API answers 401 JSON
(a script should not follow a redirect to an HTML form). Sandboxes then belong to the
user (``Sandbox.user``; sandboxes/ownership.owned_by), and the websocket consumer refuses an
anonymous handshake the same way, because ``owned_by`` finds nothing for it.

With it off (the local default) nothing here does anything: ownership is the browser
session's random token, as before. Users are created by the teacher
(``manage.py createsuperuser`` / the admin); there is no public sign-up on purpose.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.urls import path
from django.utils.translation import gettext as _

from .errors import error_response

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


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
