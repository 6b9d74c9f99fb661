"""The playground's runserver: daphne's, made to behave on the literal path (docs/deploy.md).

``manage.py runserver`` runs this command. It is not a management command module: daphne
stays first in INSTALLED_APPS (its runserver replaces Django's), and a command can only
override another from an app listed before it. Three changes to daphne's:

* the worker migrates the embedded SQLite database instead of warning that it is not
  migrated (startup.migrate_embedded_database; asgi.py does the same for plain daphne);
* the worker ends with the runserver parent, even on ``kill -9`` (startup.die_with_parent);
* a port already in use ends runserver with status 1 and one clear line. Daphne logs
  "Listen failure" and stops its reactor, but under the autoreloader the worker's main
  thread keeps watching files: runserver stayed alive without listening.
"""

from __future__ import annotations

import os
import sys
import threading

from daphne.management.commands.runserver import Command as DaphneRunserver
from daphne.server import Server

from . import startup


class _Server(Server):
    """Daphne's server, remembering why it could not listen."""

    listen_failure: str | None = None

    def listen_error(self, failure):
        self.listen_failure = failure.getErrorMessage()
        super().listen_error(failure)


class Command(DaphneRunserver):
    def handle(self, *args, **options):
        startup.remember_parent()  # in the parent; the worker reads it
        super().handle(*args, **options)

    def inner_run(self, *args, **options):
        startup.die_with_parent()
        servers: list[_Server] = []

        def make_server(**kwargs) -> _Server:  # daphne calls server_cls(...)
            servers.append(_Server(**kwargs))
            return servers[-1]

        self.server_cls = make_server
        super().inner_run(*args, **options)
        failure = next((s.listen_failure for s in servers if s.listen_failure), None)
        if failure is None:
            return  # stopped normally (Ctrl-C without the autoreloader)
        self.stderr.write(
            f"Error: {failure}\nIs another program (perhaps another playground) using "
            f"port {self.port}? Stop it, or choose another port: python manage.py "
            f"runserver {int(self.port) + 1}")
        self.stderr.flush()
        sys.stdout.flush()
        if threading.current_thread() is threading.main_thread():
            sys.exit(1)
        # Under the autoreloader this runs in a side thread while the main thread
        # watches files: only leaving the whole process ends it (status 1, so the
        # parent runserver exits with it instead of restarting it).
        os._exit(1)

    def check_migrations(self):
        startup.migrate_embedded_database(self.stdout)
        super().check_migrations()  # still warns for PostgreSQL, which migrates explicitly
