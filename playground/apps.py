from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = "HenaServer Playground"

    def ready(self) -> None:
        # Only what is safe in every process: ready() also runs in the autoreloader's
        # parent and in every management command, so no sandbox is started or reconciled
        # here (sandboxes/runtime.supervisor()) and no database is touched (asgi.py
        # migrates SQLite in the serving process). Compiling a stale .mo is a few stat
        # calls when nothing changed, and makes 日本語 work after `pip install -e .`.
        from . import startup

        startup.compile_stale_translations()
        # Signal receivers (nothing starts): deleting a sandbox's row anywhere ends its
        # server (sandboxes/lifecycle.py); logging in carries the session's sandboxes into
        # the account, logging out closes its websockets (accounts.py).
        # The class board hears of its students' changes (classes/notify.py); an open
        # look or board closes when its teacher's access ends (classes/access.py).
        from . import accounts, checks  # noqa: F401  (checks: registered on import)
        from .classes import access, notify  # noqa: F401  (signals, live's listener)
        from .sandboxes import lifecycle  # noqa: F401
