"""Exact Origin checks for the websocket handshake.

Browsers send cookies to every port of a host name, and a websocket is not protected by
CORS: a page served by a sandbox on ``localhost:8123`` could open the playground's
websocket on ``localhost:8000`` with the learner's session. Channels'
``AllowedHostsOriginValidator`` compares host names only and let that through (NOTES.md),
so we compare scheme, host and port exactly: the Origin must be the playground's own
origin (the scheme and Host of this very request) or one listed, exactly, in
``settings.CSRF_TRUSTED_ORIGINS`` (for a TLS-terminating proxy). Wildcard entries there
are ignored here on purpose. A handshake without an Origin header is refused: browsers
always send one, so its absence means a non-browser client, which can use the HTTP API.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) origin, with the default port filled in;
    None for anything else (``null``, other schemes, paths, credentials)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def _header(scope: dict, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", []) if k.lower() == name]
    if len(values) != 1:  # missing or ambiguous: refuse rather than guess which counts
        return None
    return values[0].decode("latin-1")


def origin_allowed(scope: dict) -> bool:
    """True if the handshake's Origin is exactly this site's origin or a trusted one."""
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if origin is None or host is None:
        return False
    wanted = normalize(origin)
    if wanted is None:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    if wanted == normalize(f"{scheme}://{host}"):
        return True
    trusted = {normalize(o) for o in settings.CSRF_TRUSTED_ORIGINS if "*" not in o}
    return wanted in trusted
