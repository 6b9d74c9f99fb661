"""ASGI entry point: daphne (and `manage.py runserver`, which is daphne's) load this.

Only HTTP for now; the live-traffic issue adds a "websocket" route here, behind an
exact-origin check (AllowedHostsOriginValidator ignores ports, see NOTES.md).
"""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
django_asgi_app = get_asgi_application()  # before importing anything that uses models

from playground.limits import BodySizeLimitMiddleware, install_daphne_guard  # noqa: E402

install_daphne_guard()

application = ProtocolTypeRouter({
    "http": BodySizeLimitMiddleware(django_asgi_app),
})
