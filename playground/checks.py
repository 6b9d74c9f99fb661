"""System checks (``manage.py check``): deployment mistakes Django cannot see itself."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register()
def shared_proxy_budget(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Production behind a reverse proxy (PLAYGROUND_BEHIND_PROXY, on by default), open
    to anonymous visitors, and no client address header: every request comes from the
    proxy's address, so all visitors share one address's budgets (budgets.py) and a
    few of them use up everyone's."""
    if not getattr(settings, "PLAYGROUND_PRODUCTION", False) \
            or not getattr(settings, "SECURE_PROXY_SSL_HEADER", None) \
            or settings.PLAYGROUND_CLIENT_ADDRESS_HEADER or settings.PLAYGROUND_REQUIRE_LOGIN:
        return []
    return [Warning(
        "Behind a reverse proxy without PLAYGROUND_CLIENT_ADDRESS_HEADER, every visitor "
        "shares the proxy's address, and so one per-address budget: a few anonymous "
        "visitors use up everyone's sandboxes.",
        hint="Set PLAYGROUND_CLIENT_ADDRESS_HEADER (e.g. X-Forwarded-For) and "
             "PLAYGROUND_TRUSTED_PROXIES to the proxy's exact address, or "
             "PLAYGROUND_REQUIRE_LOGIN=true, or PLAYGROUND_BEHIND_PROXY=false if there is "
             "no proxy (docs/deploy.md).",
        id="playground.W001")]
