from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = "HenaServer Playground"
    # Nothing is started here on purpose: ready() also runs in the autoreloader's parent
    # process and in every management command. See sandboxes/runtime.supervisor().

    def ready(self) -> None:
        # Signal receivers only (nothing starts): deleting a sandbox's row anywhere ends
        # its server (sandboxes/lifecycle.py); logging in carries the session's
        # sandboxes into the account, logging out closes its websockets (accounts.py).
        from . import accounts  # noqa: F401
        from .sandboxes import lifecycle  # noqa: F401
