"""``manage.py add_students CODE FILE.csv [--output CREDENTIALS.csv]``: accounts for a
class from a CSV file, and everyone added to the class (classes/roster.py says the
file's format and rules; docs/classes.md). The accounts it creates are printed as CSV
(username,password), or written to --output (readable by its owner only): hand them out.
A bad file changes nothing and every bad row is reported with its line number; running
the same file again changes nothing."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from playground.classes import memberships, roster
from playground.refusals import Refusal


class Command(BaseCommand):
    help = "Create the accounts of a CSV file (as needed) and add them to a class."

    def add_arguments(self, parser):
        parser.add_argument("code", help="the class's join code")
        parser.add_argument("file", type=Path, help="CSV with a header row: username "
                            "and optionally password, first_name, last_name, email")
        parser.add_argument("--output", type=Path, help="write the new accounts' "
                            "credentials to this CSV file instead of printing them")

    def handle(self, *args, code: str, file: Path, output: Path | None, **options):
        try:
            classroom = memberships.find_class(code)
        except Refusal as refusal:
            raise CommandError(str(refusal)) from None
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        try:
            done = roster.enroll(classroom, roster.read(text, classroom))
        except roster.RosterError as exc:
            raise CommandError(f"{file}: nothing was changed:\n{exc}") from None
        credentials = io.StringIO()
        writer = csv.writer(credentials, lineterminator="\n")
        writer.writerow(["username", "password"])
        writer.writerows(done.created)
        if output is not None:
            # Passwords: readable by whoever ran the command, nobody else.
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(credentials.getvalue())
        elif done.created:
            self.stdout.write(credentials.getvalue(), ending="")
        self.stderr.write(
            f"class {classroom.name!r}: {len(done.created)} account(s) created, "
            f"{len(done.added)} student(s) added, {len(done.already)} already in it"
            + (f"; credentials written to {output}" if output is not None else ""))
