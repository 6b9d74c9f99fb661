#!/usr/bin/env python
"""Django's command-line utility for the playground (`python manage.py runserver`)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    if sys.argv[1:2] == ["runserver"]:
        # The playground's runserver (playground/devserver.py): daphne's, made to migrate
        # SQLite, end with its parent and exit on a taken port. The autoreloader's worker
        # runs this file again, so it takes the same path. `django-admin runserver` and
        # `python -m django runserver` do not come here: they run daphne's plain one
        # (asgi.py still migrates; no die-with-parent, no exit on a taken port).
        # docs/deploy.md says so.
        import django

        django.setup()
        from playground.devserver import Command

        Command().run_from_argv(sys.argv)
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
