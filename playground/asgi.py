"""ASGI entry point: daphne (and `manage.py runserver`, which is daphne's) load this.

* ``migrate_embedded_database()`` (startup.py): a SQLite database is migrated here, in the
  process that serves, before anything reads a table; never in AppConfig.ready(), which
  also runs in runserver's parent and in every management command.

* ``LoopCapture`` (traffic/live.py) records the loop daphne runs us on, so the ingest writer
  thread can hand messages to the channel layer on that loop with
  ``asyncio.run_coroutine_threadsafe`` (async_to_sync from a thread arrives seconds
  late, NOTES.md).
* ``boot.begin()`` (sandboxes/boot.py): this is a serving process (only those import this
  module), so it starts its heartbeat, reconciles, and resumes what an autoreload stopped,
  without waiting for a request.
* ``gc.freeze()`` once everything is imported: under a flood the ingest threads make
  tens of thousands of short-lived dicts a second, which triggers full garbage
  collections; each walked Django's whole startup heap while holding the GIL, and the
  event loop stalled 50-100 ms (bench/flood.py). Frozen, the startup objects are left
  out of those walks (worst lag measured 20-30 ms); everything created later is still
  collected as usual.
* Websockets get the session and user (``AuthMiddlewareStack``); the consumer then
  checks the Origin exactly (origins.py: AllowedHostsOriginValidator ignores ports) and
  that the sandbox belongs to this session.
"""

import gc
import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
django_asgi_app = get_asgi_application()  # before importing anything that uses models

from playground.startup import migrate_embedded_database  # noqa: E402

migrate_embedded_database()

from playground.middleware import BodySizeLimitMiddleware, StreamBodyFromDisk, install_daphne_guard  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402
from playground.traffic.live import LoopCapture  # noqa: E402

install_daphne_guard()

application = LoopCapture(ProtocolTypeRouter({
    "http": StreamBodyFromDisk(BodySizeLimitMiddleware(django_asgi_app)),
    "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
}))

from playground.sandboxes import boot  # noqa: E402

boot.begin()

gc.freeze()
