"""Production settings from the environment (playground/deployment.py, docs/deploy.md).

Settings are read once at import, so each case runs Django in a subprocess with its own
environment, as a real deployment would start it.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from playground.deployment import REDIS_BLOCKING_READ, channel_layers, database_from_url

REPO = Path(__file__).resolve().parents[2]
DUMP = ("import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({k: getattr(settings, k) for k in %r}, default=str))")


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAYGROUND_", "DJANGO_")) and k not in (
               "SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="playground.settings",
               PLAYGROUND_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO))
    env.update(extra)
    return env


def _production(tmp_path, **extra) -> dict[str, str]:
    return _env(tmp_path, **{
        "PLAYGROUND_PRODUCTION": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PLAYGROUND_ALLOWED_HOSTS": "playground.school.example",
        "PLAYGROUND_CSRF_TRUSTED_ORIGINS": "https://playground.school.example",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PLAYGROUND_CLIENT_ADDRESS_HEADER": "X-Forwarded-For",
        "PLAYGROUND_TRUSTED_PROXIES": "127.0.0.1", **extra})


def _run(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def _settings(env, *names) -> dict:
    result = _run(["-c", DUMP % (names,)], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                  _production(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize("change, warned", [
    # Behind the proxy (the default), open to anyone, no address header: warned.
    ({"PLAYGROUND_CLIENT_ADDRESS_HEADER": "", "PLAYGROUND_TRUSTED_PROXIES": ""}, True),
    ({"PLAYGROUND_CLIENT_ADDRESS_HEADER": "", "PLAYGROUND_TRUSTED_PROXIES": "",
      "PLAYGROUND_REQUIRE_LOGIN": "true"}, False),
    ({"PLAYGROUND_CLIENT_ADDRESS_HEADER": "", "PLAYGROUND_TRUSTED_PROXIES": "",
      "PLAYGROUND_BEHIND_PROXY": "false"}, False),
])
def test_a_proxy_without_an_address_header_is_warned_about(tmp_path, change, warned):
    """Every visitor would share the proxy's address, and so one address's budgets."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                  _production(tmp_path, **change))
    output = result.stdout + result.stderr
    assert ("playground.W001" in output) is warned, output
    if warned:
        assert "shares the proxy's address" in output


def test_check_deploy_warns_about_the_local_defaults(tmp_path):
    """The control case: the same check fails without production mode."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                  _env(tmp_path))
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


def test_production_mode_settings(tmp_path):
    got = _settings(_production(tmp_path), "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
                    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
                    "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "CHANNEL_LAYERS",
                    "DATABASES", "X_FRAME_OPTIONS")
    assert got["DEBUG"] is False
    assert got["ALLOWED_HOSTS"] == ["playground.school.example"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://playground.school.example"]
    assert got["SESSION_COOKIE_SECURE"] and got["CSRF_COOKIE_SECURE"]
    assert got["SECURE_SSL_REDIRECT"] and got["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert got["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [
        {"address": "redis://127.0.0.1:6379/0", "socket_timeout": 15.0}]
    assert got["DATABASES"]["default"]["NAME"] == f"{tmp_path}/prod.sqlite3"
    assert got["X_FRAME_OPTIONS"] == "DENY"


def test_behind_no_proxy_and_no_redirect(tmp_path):
    got = _settings(_production(tmp_path, PLAYGROUND_BEHIND_PROXY="false",
                                PLAYGROUND_SSL_REDIRECT="false"),
                    "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER")
    assert got == {"SECURE_SSL_REDIRECT": False, "SECURE_PROXY_SSL_HEADER": None}


@pytest.mark.parametrize("drop, change, words", [
    ("DJANGO_SECRET_KEY", {}, "DJANGO_SECRET_KEY must be set"),
    (None, {"DJANGO_SECRET_KEY": "short"}, "too weak"),
    ("PLAYGROUND_ALLOWED_HOSTS", {}, "PLAYGROUND_ALLOWED_HOSTS"),
    (None, {"PLAYGROUND_ALLOWED_HOSTS": "*"}, "PLAYGROUND_ALLOWED_HOSTS"),
    (None, {"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off"),
    (None, {"DATABASE_URL": "mysql://x/y"}, "not supported"),
    (None, {"REDIS_URL": "localhost:6379"}, "not a redis:// URL"),
])
def test_production_refuses_to_start_half_configured(tmp_path, drop, change, words):
    env = _production(tmp_path, **change)
    env.pop(drop, None)
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and words in result.stderr


def test_local_defaults_need_no_environment(tmp_path):
    got = _settings(_env(tmp_path), "DEBUG", "ALLOWED_HOSTS", "CHANNEL_LAYERS",
                    "SESSION_COOKIE_SECURE", "PLAYGROUND_REQUIRE_LOGIN")
    assert got["DEBUG"] is False and "localhost" in got["ALLOWED_HOSTS"]
    assert got["CHANNEL_LAYERS"]["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    assert got["SESSION_COOKIE_SECURE"] is False and got["PLAYGROUND_REQUIRE_LOGIN"] is False
    assert (tmp_path / "data" / "secret_key").exists()  # generated and kept


def test_database_url_postgres():
    db = database_from_url("postgres://app:p%40ss@db.internal:5433/play?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == \
        ("play", "app", "p@ss", "db.internal", "5433")
    assert db["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("postgresql://h/x")["PORT"] == ""


def test_database_url_sqlite(tmp_path):
    assert database_from_url("sqlite:////var/lib/pg.db")["NAME"] == Path("/var/lib/pg.db")
    assert database_from_url("sqlite:///rel.db", base_dir=tmp_path)["NAME"] == tmp_path / "rel.db"
    opts = {"timeout": 20}
    assert database_from_url("sqlite:////x.db", sqlite_options=opts)["OPTIONS"] == opts


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgres://h", "sqlite://host/x.db",
                                 "sqlite://", "sqlite:///:memory:", "postgres://h:notaport/x"])
def test_database_url_errors(url):
    with pytest.raises(ImproperlyConfigured):
        database_from_url(url)


def test_channel_layers():
    assert channel_layers("")["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    hosts = channel_layers("redis://r:6379/1")["default"]["CONFIG"]["hosts"]
    assert [host["address"] for host in hosts] == ["redis://r:6379/1"]


def test_the_redis_layer_reads_longer_than_its_blocking_read():
    """The installed channels_redis's own blocking read, against the read timeout the
    installed redis-py gets from our settings (tests/playground/traffic/
    test_live_over_redis.py shows what happens when they are equal: 1011 every ~5 s)."""
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(**channel_layers("redis://r:6379/1")["default"]["CONFIG"])
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert REDIS_BLOCKING_READ == RedisChannelLayer.brpop_timeout


@pytest.mark.parametrize("query", ["socket_timeout=5", "socket_timeout=2.5",
                                   "socket_timeout=never", "db=0&socket_timeout=1"])
def test_a_redis_url_whose_read_timeout_is_too_short_is_refused(query):
    with pytest.raises(ImproperlyConfigured, match="socket_timeout"):
        channel_layers(f"redis://r:6379/1?{query}")


def test_a_redis_url_may_set_a_longer_read_timeout():
    from channels_redis.core import RedisChannelLayer

    config = channel_layers("redis://r:6379/1?socket_timeout=30")["default"]["CONFIG"]
    pool = RedisChannelLayer(**config).create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] == 30  # the URL's own wins
