"""Reading a deployment from the environment: the parsers settings.py uses.

Plain functions, no Django imports beyond ImproperlyConfigured, so settings.py can call
them at import time and tests can call them with a dict instead of ``os.environ``.

* ``database_from_url()``: ``DATABASE_URL`` -> a ``DATABASES["default"]`` dict, for
  ``postgres://`` / ``postgresql://`` and ``sqlite://`` URLs. Twenty lines instead of a
  dependency (dj-database-url): these two schemes are all the playground supports.
* ``production_settings()``: what production mode (``PLAYGROUND_PRODUCTION=true``) adds:
  secure cookies, HSTS, the HTTPS redirect and trusting nginx's X-Forwarded-Proto.
  ``python manage.py check --deploy`` is clean with them (tests/playground/
  test_production_settings.py runs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
# Django's check W009 wants 50+ characters with 5+ distinct ones; so do we.
MIN_SECRET_KEY_LENGTH = 50
# A year: what check --deploy and hstspreload.org ask for.
DEFAULT_HSTS_SECONDS = 31_536_000
# channels_redis's RedisChannelLayer waits for a message with BZPOPMIN for this long
# (``brpop_timeout``, 5 s in the pinned 4.3), then asks again.
REDIS_BLOCKING_READ = 5.0
# redis-py 8 gives up on any read after ``socket_timeout``, 5 s by default (it was None
# before 8.0): equal to the blocking read, so the two raced and an idle viewer's receive
# raised TimeoutError, closing its websocket with 1011 every 5-10 s (NOTES.md, issue 12).
# Three times the blocking read: a healthy Redis always answers first, and a connection
# that went dead is still noticed within 15 s (its viewers are closed, and reconnect),
# where None would wait on it for ever.
REDIS_SOCKET_TIMEOUT = 3 * REDIS_BLOCKING_READ


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value (use true or false)")


def database_from_url(url: str, *, sqlite_options: dict[str, Any] | None = None,
                      base_dir: Path | None = None) -> dict[str, Any]:
    """``DATABASES["default"]`` for a ``DATABASE_URL``.

    ``postgres://user:password@host:5432/name?sslmode=require`` (query parameters become
    OPTIONS, for psycopg); ``sqlite:///relative.db`` (relative to ``base_dir``) or
    ``sqlite:////absolute/path.db``. Anything else is ImproperlyConfigured with the reason.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ImproperlyConfigured("DATABASE_URL for SQLite is sqlite:///relative/path.db "
                                       "or sqlite:////absolute/path.db (three or four /)")
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path or path == ":memory:":
            raise ImproperlyConfigured("DATABASE_URL sqlite:// needs a file path: the "
                                       "sandboxes' server processes share the database")
        name = Path(path) if Path(path).is_absolute() else (base_dir or Path.cwd()) / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name,
                "OPTIONS": dict(sqlite_options or {})}
    if scheme in POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL has no database name "
                                       "(postgres://user:password@host:5432/NAME)")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
            # Reuse connections for a minute; check them before use after a DB restart.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {scheme!r} is not supported: use "
                               "postgres:// (pip install '.[postgres]') or sqlite://")


def channel_layers(redis_url: str) -> dict[str, Any]:
    """CHANNEL_LAYERS: Redis when ``REDIS_URL`` is set (several processes), else in-memory
    (one process only: its groups are invisible to any other process).

    The Redis layer waits for messages with a blocking read of ``REDIS_BLOCKING_READ``
    seconds, so its connections get a read timeout longer than that (``hosts`` entries
    are redis-py connection arguments, channels_redis's README). A ``socket_timeout`` in
    the URL's query wins over ours (redis-py's ``from_url``), so one too short for the
    blocking read is refused here rather than closing every idle viewer."""
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL {redis_url!r} is not a redis:// URL")
    for name, value in parse_qsl(urlsplit(redis_url).query):
        if name == "socket_timeout" and not _longer_than_blocking_read(value):
            raise ImproperlyConfigured(
                f"REDIS_URL sets socket_timeout={value}: the channel layer's blocking read "
                f"takes {REDIS_BLOCKING_READ:g} s, so it must be more than that (or left out: "
                f"the playground uses {REDIS_SOCKET_TIMEOUT:g} s)")
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [{"address": redis_url,
                                              "socket_timeout": REDIS_SOCKET_TIMEOUT}]}}}


def _longer_than_blocking_read(value: str) -> bool:
    try:
        return float(value) > REDIS_BLOCKING_READ
    except ValueError:
        return False


def require_secret_key(env: Mapping[str, str]) -> str:
    """Production mode: the key must come from the environment, and be strong."""
    key = env.get("DJANGO_SECRET_KEY") or env.get("SECRET_KEY") or ""
    if not key:
        raise ImproperlyConfigured(
            "PLAYGROUND_PRODUCTION is on, so DJANGO_SECRET_KEY must be set in the "
            "environment (generate one with: python -c \"import secrets; "
            "print(secrets.token_urlsafe(50))\")")
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5 or key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random "
            "characters")
    return key


def production_settings(env: Mapping[str, str], allowed_hosts: list[str]) -> dict[str, Any]:
    """The settings production mode adds. Cookies only over HTTPS, HSTS, HTTP -> HTTPS.

    Behind nginx, TLS ends at nginx and daphne sees plain HTTP: Django learns the
    original scheme from ``X-Forwarded-Proto`` (PLAYGROUND_BEHIND_PROXY, on by default;
    nginx must *set* the header, never pass the client's through, docs/deploy.md).
    """
    if env_bool(env, "DJANGO_DEBUG", False):
        raise ImproperlyConfigured("PLAYGROUND_PRODUCTION is on: DJANGO_DEBUG must be off")
    if not allowed_hosts or "*" in allowed_hosts:
        raise ImproperlyConfigured(
            "PLAYGROUND_PRODUCTION is on: set PLAYGROUND_ALLOWED_HOSTS to the site's host "
            "name(s), e.g. playground.school.example")
    hsts = int(env.get("PLAYGROUND_HSTS_SECONDS", "").strip() or DEFAULT_HSTS_SECONDS)
    out: dict[str, Any] = {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": env_bool(env, "PLAYGROUND_SSL_REDIRECT", True),
        "SECURE_HSTS_SECONDS": hsts,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": env_bool(env, "PLAYGROUND_HSTS_SUBDOMAINS", True),
        "SECURE_HSTS_PRELOAD": env_bool(env, "PLAYGROUND_HSTS_PRELOAD", True),
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
    }
    if env_bool(env, "PLAYGROUND_BEHIND_PROXY", True):
        out["SECURE_PROXY_SSL_HEADER"] = ("HTTP_X_FORWARDED_PROTO", "https")
    return out
