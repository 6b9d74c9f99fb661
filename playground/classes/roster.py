"""A class's roster from a CSV file, for a teacher preparing a lesson
(``manage.py add_students CODE FILE.csv``; docs/classes.md, "Roles and classes").

The file has a header row: ``username`` and, optionally, ``password``, ``first_name``,
``last_name``, ``email`` (any order and case; a spreadsheet's UTF-8 BOM is fine). The
whole file is checked before anything is written (``read``): every bad row is reported
with its line number and nothing is done. Then ``enroll`` creates the missing accounts
(a row without a password gets a generated one) and adds everyone to the class, in one
transaction. An account that exists already is left as it is (its password is not
changed), so running the same file again changes nothing and reports nothing new.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from ..class_models import Classroom, Membership
from . import codes

COLUMNS = ("username", "password", "first_name", "last_name", "email")
# A class, or a whole year group, is well under this; a bigger file is most likely the
# wrong file, and every row is checked and written in one transaction.
MAX_ROWS = 2000
# Generated passwords: three groups of four from the join codes' alphabet (no
# look-alikes: copied from paper by a student), 21^12, about 52 bits.
PASSWORD_GROUPS = 3


@dataclass(frozen=True)
class Row:
    line: int
    username: str
    password: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass
class Enrolled:
    """What ``enroll`` did: accounts created (with their passwords, to hand out),
    students added to the class, and those who were in it already."""

    created: list[tuple[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


class RosterError(ValueError):
    """The file cannot be used; ``problems`` are ``(line, text)``, every bad row's."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"line {line}: {text}" for line, text in problems))


def generate_password() -> str:
    """Shown like a join code, in groups of four: "ACEF-3467-KMNP"."""
    return codes.display(codes.generate(codes.GROUP * PASSWORD_GROUPS))


def read(text: str, classroom: Classroom) -> list[Row]:
    """Every row of the file, checked; RosterError with every problem otherwise."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in next(reader, [])]
    if "username" not in header:
        raise RosterError([(1, "the header row must name a username column "
                               f"(columns: {', '.join(COLUMNS)})")])
    unknown = [name for name in header if name not in COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise RosterError([(1, f"unknown or repeated columns {unknown or header}: "
                               f"use {', '.join(COLUMNS)}")])
    rows: list[Row] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as spreadsheets leave at the end
        if len(rows) >= MAX_ROWS:
            raise RosterError([(line, f"more than {MAX_ROWS} students in one file")])
        if len(cells) > len(header):
            problems.append((line, f"{len(cells)} cells, but the header has {len(header)}"))
            continue
        values = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        row = Row(line=line, **{name: values.get(name, "") for name in COLUMNS})
        problem = _problem(row, seen, classroom)
        if problem:
            problems.append((line, problem))
        else:
            seen[row.username.lower()] = line
            rows.append(row)
    if problems:
        raise RosterError(problems)
    return rows


def _problem(row: Row, seen: dict[str, int], classroom: Classroom) -> str | None:
    """What is wrong with one row, or None."""
    users = get_user_model()
    max_length = users._meta.get_field("username").max_length or 150
    if not row.username:
        return "no username"
    try:
        UnicodeUsernameValidator()(row.username)
    except ValidationError:
        return (f"{row.username!r} is not a username (letters, digits and @ . + - _ "
                "only)")
    if len(row.username) > max_length:
        return f"the username is longer than {max_length} characters"
    if row.username.lower() in seen:
        return f"{row.username} is already on line {seen[row.username.lower()]}"
    if row.email:
        try:
            validate_email(row.email)
        except ValidationError:
            return f"{row.email!r} is not an email address"
    if row.username == classroom.teacher.get_username():
        return f"{row.username} teaches this class"
    for name in ("first_name", "last_name"):
        limit = users._meta.get_field(name).max_length or 150
        if len(getattr(row, name)) > limit:
            return f"the {name} is longer than {limit} characters"
    return None


def enroll(classroom: Classroom, rows: list[Row]) -> Enrolled:
    """Create the missing accounts and add every row's user to the class: all of it
    or, on any error, none of it."""
    users = get_user_model()
    done = Enrolled()
    with transaction.atomic():
        for row in rows:
            user = users.objects.filter(username=row.username).first()
            if user is None:
                password = row.password or generate_password()
                user = users.objects.create_user(
                    row.username, email=row.email, password=password,
                    first_name=row.first_name, last_name=row.last_name)
                done.created.append((row.username, password))
            _, added = Membership.objects.get_or_create(classroom=classroom, user=user)
            (done.added if added else done.already).append(row.username)
    return done
