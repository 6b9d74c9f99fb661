"""Django settings for the playground.

Every playground setting is read here, once, from the environment with a default, so a
fresh clone works with `make run` and a teacher can tune a classroom instance with
environment variables only. The PLAYGROUND_* limits are documented in docs/api.md.
"""

import ipaddress
import os
import secrets
import shutil
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from playground import deployment

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_bool(name: str, default: bool) -> bool:
    """A yes/no variable; a typo (``ture``) is ImproperlyConfigured, never silently off."""
    return deployment.env_bool(os.environ, name, default)


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    return [v.strip() for v in value.split(",") if v.strip()] if value else default


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    first, last = int(low), int(high or low)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"PLAYGROUND_PORT_RANGE {text!r} is not like 8000-8999")
    return first, last


def _trusted_proxies(entries: list[str], header: str, count: int) -> list[str]:
    """PLAYGROUND_TRUSTED_PROXIES, checked: each an address or a network, and some proxy
    trusted when a header is named (else the header could never be honoured: a typo
    would silently count every client as the proxy's address, or the reverse)."""
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"PLAYGROUND_TRUSTED_PROXIES: {entry!r} is not an "
                                       "address like 10.0.0.5 (or a network that holds "
                                       "only proxies)") from None
    if header and not entries and count <= 0:
        raise ImproperlyConfigured("PLAYGROUND_CLIENT_ADDRESS_HEADER needs "
                                   "PLAYGROUND_TRUSTED_PROXY_COUNT or PLAYGROUND_TRUSTED_PROXIES")
    if count < 0:
        raise ImproperlyConfigured("PLAYGROUND_TRUSTED_PROXY_COUNT must be 0 or more")
    return entries


# ----- the playground's own knobs ------------------------------------------------------

# Sandboxes' document roots and the generated secret key live here.
PLAYGROUND_DATA_DIR = Path(os.environ.get("PLAYGROUND_DATA_DIR", BASE_DIR / "data")).resolve()
# Ports a learner may choose. The playground's own port is always refused; keep every
# other service of the host outside it (docs/deploy.md runs daphne on 7101-7103, and
# tests/playground/test_deploy_ports.py checks that the two agree).
PLAYGROUND_PORT_RANGE = _port_range(os.environ.get("PLAYGROUND_PORT_RANGE", "8000-8999"))
# Address the sandboxes bind. 127.0.0.1 keeps them private to this machine; a classroom
# host that serves other machines sets 0.0.0.0.
PLAYGROUND_BIND_HOST = os.environ.get("PLAYGROUND_BIND_HOST", "127.0.0.1")
# Host name in "Open" links. Empty: the opposite of the one the playground is reached on
# (localhost <-> 127.0.0.1) so a sandbox page never receives the playground's cookies.
PLAYGROUND_SANDBOX_HOST = os.environ.get("PLAYGROUND_SANDBOX_HOST", "")
# A class of 30 with a few sandboxes each stays far below the 1000 ports of the range.
PLAYGROUND_MAX_SANDBOXES_PER_OWNER = _env_int("PLAYGROUND_MAX_SANDBOXES_PER_OWNER", 5)
# A tutorial site is a few KiB; these leave room for photos without filling the disk.
PLAYGROUND_MAX_FILE_BYTES = _env_int("PLAYGROUND_MAX_FILE_BYTES", 5 * 1024 * 1024)
PLAYGROUND_MAX_SANDBOX_BYTES = _env_int("PLAYGROUND_MAX_SANDBOX_BYTES", 20 * 1024 * 1024)
PLAYGROUND_MAX_FILES = _env_int("PLAYGROUND_MAX_FILES", 200)
# Seconds a sandbox gets to report it is listening.
PLAYGROUND_START_TIMEOUT = float(os.environ.get("PLAYGROUND_START_TIMEOUT", "10"))
# Any request body above this is refused with 413 before Django reads it (under ASGI,
# Django would otherwise spool the whole body to disk first). Room for one full sandbox
# of files plus multipart headers.
PLAYGROUND_MAX_REQUEST_BYTES = PLAYGROUND_MAX_SANDBOX_BYTES + 1024 * 1024

# Django's own upload caps, in line with ours: a text file edited in the browser is sent
# as the raw body; multipart files above 1 MiB go to a temp file instead of memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = PLAYGROUND_MAX_FILE_BYTES + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = PLAYGROUND_MAX_FILES

# ----- Django --------------------------------------------------------------------------


def _secret_key() -> str:
    """From the environment, else generated once and kept in the data directory, so
    sessions (and with them the learner's sandboxes) survive a restart."""
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = PLAYGROUND_DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        PLAYGROUND_DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


# Production mode (docs/deploy.md): the secret key and host names must come from the
# environment, cookies are HTTPS-only, HSTS and the HTTPS redirect are on.
PLAYGROUND_PRODUCTION = deployment.env_bool(os.environ, "PLAYGROUND_PRODUCTION", False)
SECRET_KEY = (deployment.require_secret_key(os.environ) if PLAYGROUND_PRODUCTION
              else _secret_key())
# Off by default: learners must never see a traceback page (we serve friendly error
# pages), and static files are served by our own URL pattern either way.
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = _env_list("PLAYGROUND_ALLOWED_HOSTS",
                          [] if PLAYGROUND_PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("PLAYGROUND_CSRF_TRUSTED_ORIGINS", [])
if PLAYGROUND_PRODUCTION:
    globals().update(deployment.production_settings(os.environ, ALLOWED_HOSTS))

# The one loopback name the playground answers on (canonical.py): `localhost` and
# `[::1]` on its port redirect here, so they never become a second cookie session with
# its own sandboxes. 127.0.0.1 is what runserver prints. Empty: no redirect (the default
# in production, where the host is the deployment's own name).
PLAYGROUND_CANONICAL_HOST = os.environ.get(
    "PLAYGROUND_CANONICAL_HOST", "" if PLAYGROUND_PRODUCTION else "127.0.0.1").strip()
# A SQLite database (the embedded default or a sqlite:// DATABASE_URL) is migrated when
# the serving process starts (startup.py); PostgreSQL always needs `manage.py migrate`.
PLAYGROUND_AUTO_MIGRATE = _env_bool("PLAYGROUND_AUTO_MIGRATE", True)

# Accounts (docs/deploy.md): with PLAYGROUND_REQUIRE_LOGIN every page and API needs a
# Django login and sandboxes belong to users; without it, to the browser session.
PLAYGROUND_REQUIRE_LOGIN = _env_bool("PLAYGROUND_REQUIRE_LOGIN", False)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Per owner, across all their sandboxes (PLAYGROUND_MAX_SANDBOX_BYTES is per sandbox).
PLAYGROUND_MAX_OWNER_BYTES = _env_int("PLAYGROUND_MAX_OWNER_BYTES", 100 * 1024 * 1024)
# Sandboxes running on this host at once, whoever owns them: each is a process of
# ~20 MB, so 60 (a class of 30, two each) stays near 1-2 GB of memory.
PLAYGROUND_MAX_RUNNING_SANDBOXES = _env_int("PLAYGROUND_MAX_RUNNING_SANDBOXES", 60)
# Check runs one playground process runs at once; the others wait their turn, shown as
# waiting (docs/checks.md "Many runs at once"). Each run's checks are threads of daphne's
# process: a class starting 60 runs at once would starve its live views of the GIL
# (docs/benchmarks.md "A class of 60").
PLAYGROUND_CHECK_RUNS_AT_ONCE = _env_int("PLAYGROUND_CHECK_RUNS_AT_ONCE", 3)
# Resource limits each sandbox's server applies to itself (henaserver --limit-*).
# Address space, not resident memory: 512 MB is ~20x what a sandbox uses.
PLAYGROUND_CHILD_MEMORY_MB = _env_int("PLAYGROUND_CHILD_MEMORY_MB", 512)
# Open files and sockets; --max-connections is half of it (a connection may hold its
# socket and a file being sent), the rest is for pipes and the listening socket.
PLAYGROUND_CHILD_FILES = _env_int("PLAYGROUND_CHILD_FILES", 256)
# CPU seconds over the server's whole life (RLIMIT_CPU is not a rate): a lesson uses a
# few seconds, a wrk run a minute; an hour only ends a runaway. 0 = no limit.
PLAYGROUND_CHILD_CPU_SECONDS = _env_int("PLAYGROUND_CHILD_CPU_SECONDS", 3600)

# ----- program sandboxes (docs/program-sandboxes.md, sandboxes/program_kind.py) -------
# A learner's program runs under bubblewrap, as uid PLAYGROUND_PROGRAM_UID_BASE + the
# sandbox's id (one uid each: RLIMIT_NPROC counts per uid, so one fork bomb cannot starve
# the other sandboxes), with Debian's Python: the interpreter must live under /usr, the
# only system folder bound into the sandbox (pyenv's, under /root, cannot be bound).
# Without bwrap (or without root) programs run unisolated, offered only to a single
# local user: never with PLAYGROUND_REQUIRE_LOGIN or PLAYGROUND_PRODUCTION.
PLAYGROUND_BWRAP = (os.environ.get("PLAYGROUND_BWRAP", "").strip() or shutil.which("bwrap")
                    or "bwrap")
PLAYGROUND_PROGRAM_PYTHON = os.environ.get("PLAYGROUND_PROGRAM_PYTHON",
                                           "").strip() or "/usr/bin/python3"
PLAYGROUND_PROGRAM_UID_BASE = _env_int("PLAYGROUND_PROGRAM_UID_BASE", 200000)


def _limits(text: str) -> dict[str, int]:
    """``cpu_seconds=30,open_files=128``: overrides of programs.ProgramLimits, the one home
    of the defaults and their reasons (names checked by checks.program_limits)."""
    result = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if not value.strip().isdigit():
            raise ImproperlyConfigured(f"PLAYGROUND_PROGRAM_LIMITS: {item!r} is not like "
                                       "cpu_seconds=60")
        result[name.strip()] = int(value)
    return result


# The rlimits of a program (prlimit inside the sandbox), as overrides of the defaults in
# sandboxes/programs.py: cpu_seconds, data_bytes, stack_bytes, processes, open_files,
# file_bytes, address_bytes.
PLAYGROUND_PROGRAM_LIMITS = _limits(os.environ.get("PLAYGROUND_PROGRAM_LIMITS", ""))

# ----- budgets and culling (sandboxes/budgets.py, culling.py; docs/security.md) --------
# Dropping cookies makes a new anonymous owner: these budgets do not reset with it.
# No owner (a user, or an anonymous session) runs more than this at once: a share of
# PLAYGROUND_MAX_RUNNING_SANDBOXES, so one owner can never make everyone else get 503.
PLAYGROUND_MAX_RUNNING_PER_OWNER = _env_int("PLAYGROUND_MAX_RUNNING_PER_OWNER", 5)
# Anonymous sandboxes per client address (logged-in users are counted per account):
# running at once (a quarter of the host's 60), and created (ports and disk). A class
# behind one NAT address shares these: such a class logs in (docs/deploy.md), or the
# teacher raises them.
PLAYGROUND_MAX_RUNNING_PER_ADDRESS = _env_int("PLAYGROUND_MAX_RUNNING_PER_ADDRESS", 15)
PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS = _env_int("PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS", 40)
# An address is an IPv6 /64, and one ISP customer may hold a /48 of them: each /48 has
# these wider budgets too (an IPv4 address is its own network: the two above apply).
PLAYGROUND_MAX_RUNNING_PER_NETWORK = _env_int("PLAYGROUND_MAX_RUNNING_PER_NETWORK", 30)
PLAYGROUND_MAX_SANDBOXES_PER_NETWORK = _env_int("PLAYGROUND_MAX_SANDBOXES_PER_NETWORK", 120)
# Behind reverse proxies, the client's address is read from this header (e.g.
# X-Forwarded-For): the right-most entry that is not a trusted proxy, the proxies being
# the last PLAYGROUND_TRUSTED_PROXY_COUNT hops (the peer included) and/or those in
# PLAYGROUND_TRUSTED_PROXIES: the proxies' exact addresses (e.g. 127.0.0.1,10.0.0.5).
# A network listed there must never hold a client: any client in it chooses its own
# address. Count mode needs daphne reachable only through the proxies. A peer without
# an address (daphne -u, a Unix socket) counts as a proxy. Empty: REMOTE_ADDR.
PLAYGROUND_CLIENT_ADDRESS_HEADER = os.environ.get("PLAYGROUND_CLIENT_ADDRESS_HEADER",
                                                  "").strip()
PLAYGROUND_TRUSTED_PROXY_COUNT = _env_int("PLAYGROUND_TRUSTED_PROXY_COUNT", 0)
PLAYGROUND_TRUSTED_PROXIES = _trusted_proxies(
    _env_list("PLAYGROUND_TRUSTED_PROXIES", []), PLAYGROUND_CLIENT_ADDRESS_HEADER,
    PLAYGROUND_TRUSTED_PROXY_COUNT)
# Seconds with no traffic and no viewer before a running sandbox is stopped (30 min),
# and without its anonymous owner seen before its sandboxes are deleted: by default
# the session cookie's life (two weeks, Django's default), so no session that still
# works comes back to nothing. Time the playground was down is not counted as absence
# (culling.py). 0: never.
SESSION_COOKIE_AGE = 14 * 24 * 3600
PLAYGROUND_IDLE_STOP = float(os.environ.get("PLAYGROUND_IDLE_STOP", "").strip() or 1800)
PLAYGROUND_ABANDONED_DELETE = float(
    os.environ.get("PLAYGROUND_ABANDONED_DELETE", "").strip() or SESSION_COOKIE_AGE)

# Each serving process records a heartbeat in the database every second, so the others
# notice within seconds when it dies (sandboxes/heartbeat.py). The test suite turns it
# off for its own process only (tests/conftest.py).
PLAYGROUND_HEARTBEAT = _env_bool("PLAYGROUND_HEARTBEAT", True)

INSTALLED_APPS = [
    "daphne",  # first, so its ASGI runserver replaces Django's (manage.py runs ours on it)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "playground",
]

MIDDLEWARE = [
    # First: localhost and [::1] are sent to 127.0.0.1, one cookie jar (canonical.py).
    "playground.canonical.CanonicalHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the switcher's cookie, else Accept-Language (docs/i18n.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: CsrfViewMiddleware reads request.POST, and uploads must be parsed
    # with their folder paths kept.
    "playground.files.uploads.KeepUploadPathsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "playground.accounts.LoginRequiredMiddleware",  # a no-op unless REQUIRE_LOGIN
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An anonymous session's sandboxes are marked seen (sandboxes/presence.py): the
    # abandoned ones are deleted (sandboxes/culling.py).
    "playground.sandboxes.presence.OwnerSeenMiddleware",
    # This process's sandbox supervisor, made (and the database reconciled) before the
    # first request reads a sandbox's status.
    "playground.sandboxes.runtime.ReconcileMiddleware",
]

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"
CSRF_FAILURE_VIEW = "playground.errors.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The header's "Classes" link (docs/classes.md).
                "playground.classes.context.classes",
            ],
        },
    },
]

# SQLite by default. The test database is a file (a live server in another thread or
# process must see it) with WAL and a lock timeout, as NOTES.md recommends.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("PLAYGROUND_DB", BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        },
        # PLAYGROUND_TEST_DB lets two test runs share one checkout without sharing a file.
        "TEST": {"NAME": Path(os.environ.get("PLAYGROUND_TEST_DB",
                                             BASE_DIR / "test-data" / "test.sqlite3"))},
    }
}
if os.environ.get("DATABASE_URL"):  # e.g. postgres://user:password@host:5432/playground
    DATABASES["default"] = {
        **deployment.database_from_url(
            os.environ["DATABASE_URL"], base_dir=BASE_DIR,
            sqlite_options=DATABASES["default"]["OPTIONS"]),
        "TEST": DATABASES["default"]["TEST"] if os.environ["DATABASE_URL"].startswith(
            "sqlite") else {},
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One process: the in-memory layer is enough. Several daphne processes need Redis
# (`pip install '.[redis]'`, REDIS_URL): docs/deploy.md, playground/sandboxes/control.py.
CHANNEL_LAYERS = deployment.channel_layers(os.environ.get("REDIS_URL", "").strip())

# English is the source language; Japanese comes from locale/ja (docs/i18n.md). The .mo
# files are compiled from the .po when missing or older, as the site starts
# (apps.py -> startup.compile_stale_translations, pure Python, no GNU gettext).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice (the django_language cookie) is kept for a year: without an age
# it is a session cookie, and a learner who closes the browser meets English again.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# The console is where runserver users look. Django's default sends "django" records to
# the console only with DEBUG on (and 500s to e-mail): with DEBUG off, as here, a 500
# left no trace and no request was logged. So, DEBUG or not:
# * django.request ERROR: every 500 page, with its traceback (API 500s are logged with
#   theirs by errors.py, under "playground"); its 4xx warnings stay out, as daphne's
#   access line already shows them;
# * django.channels.server INFO: daphne's runserver access lines ("HTTP GET / 200 ...");
# * the rest of "django" (the autoreloader's "changed, reloading") at INFO.
# Each record reaches one handler once: the named loggers do not propagate.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.channels.server": {"handlers": ["console"], "level": "INFO",
                                   "propagate": False},
        "playground": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# ----- live traffic (playground/traffic/ingest.py) --------------------------------------

# Bytes of events waiting for the ingest writer. At the bound the supervisor's reader
# waits (the pipe fills, henaserver drops at its own capture queue and counts it): the
# history never gets a hole in the middle. 64 MB is a few seconds of a flood of small
# exchanges, or ~500 exchanges with two 64 KiB bodies each.
PLAYGROUND_INGEST_QUEUE_BYTES = _env_int("PLAYGROUND_INGEST_QUEUE_BYTES", 64 * 1024 * 1024)
# Exchanges kept per sandbox (oldest evicted first): by count, and by stored bytes
# (henaserver records at most 64 KiB of each body, so 2,000 rows could reach ~260 MB
# without the byte bound). Totals stay exact: they come from the server's counters.
PLAYGROUND_RETENTION_EXCHANGES = _env_int("PLAYGROUND_RETENTION_EXCHANGES", 2000)
PLAYGROUND_RETENTION_BYTES = _env_int("PLAYGROUND_RETENTION_BYTES", 50 * 1024 * 1024)
# The same across all of one owner's sandboxes (traffic/retention.py): the oldest
# exchanges of any of them go first. 5 sandboxes at their own bounds would be 10,000.
PLAYGROUND_OWNER_RETENTION_EXCHANGES = _env_int("PLAYGROUND_OWNER_RETENTION_EXCHANGES", 10_000)
PLAYGROUND_OWNER_RETENTION_BYTES = _env_int("PLAYGROUND_OWNER_RETENTION_BYTES",
                                            200 * 1024 * 1024)
# Log the event loop's worst lag once a second (bench/flood.py reads it).
PLAYGROUND_LOOP_LAG_LOG = _env_bool("PLAYGROUND_LOOP_LAG_LOG", False)
