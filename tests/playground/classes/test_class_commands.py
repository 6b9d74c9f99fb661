"""The management commands for a teacher preparing a lesson (docs/classes.md):
make_teacher, create_class (prints the join code and link) and add_students (a CSV
file: accounts created as needed, everyone added; a bad row reported by line number
with nothing half-done; a rerun changes nothing)."""

import csv
import io
import os
import stat

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from playground.class_models import Classroom, Membership
from playground.classes import codes
from playground.sandboxes.ownership import is_teacher

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def lesson() -> Classroom:
    User.objects.create_user("sato")
    _run("make_teacher", "sato")
    out, _ = _run("create_class", "--teacher", "sato", "--site", "https://pg.example",
                  "HTTP Monday")
    code = next(line.split(": ")[1] for line in out.splitlines()
                if line.startswith("join code"))
    assert f"join link: https://pg.example/classes/join/{code}/" in out
    return Classroom.objects.get(join_code=codes.normalize(code))


def test_make_teacher_and_create_class():
    with pytest.raises(CommandError, match="no account named 'nobody'"):
        _run("make_teacher", "nobody")
    User.objects.create_user("sato")
    with pytest.raises(CommandError, match="only a teacher can create a class"):
        _run("create_class", "--teacher", "sato", "Too early")
    out, _ = _run("make_teacher", "sato")
    assert "sato is a teacher" in out
    _run("make_teacher", "sato")  # again: nothing changes
    assert is_teacher(User.objects.get(username="sato"))
    out, _ = _run("create_class", "--teacher", "sato", "HTTP Monday")
    made = Classroom.objects.get()
    assert made.name == "HTTP Monday" and made.teacher.username == "sato"
    assert f"join code: {codes.display(made.join_code)}" in out
    assert "join link: http://127.0.0.1:8000/classes/join/" in out


def _write(tmp_path, text: str):
    path = tmp_path / "students.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_add_students_creates_accounts_and_is_idempotent(lesson, tmp_path):
    User.objects.create_user("mio", password="mio's own")
    path = _write(tmp_path, "\ufeffUsername,Password,first_name,last_name,email\n"
                            "ken,ken-chosen-pw,Ken,Ito,ken@example.org\n"
                            "aiko,,Aiko,,\n"
                            "mio,,,,\n\n")
    out, err = _run("add_students", codes.display(lesson.join_code), str(path))
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["username", "password"]
    created = dict(rows[1:])
    assert set(created) == {"ken", "aiko"} and created["ken"] == "ken-chosen-pw"
    assert len(created["aiko"]) == 14 and codes.normalize(created["aiko"][:9])
    assert authenticate(username="aiko", password=created["aiko"]) is not None
    assert authenticate(username="mio", password="mio's own") is not None  # untouched
    ken = User.objects.get(username="ken")
    assert (ken.first_name, ken.last_name, ken.email) == ("Ken", "Ito", "ken@example.org")
    assert sorted(Membership.objects.filter(classroom=lesson)
                  .values_list("user__username", flat=True)) == ["aiko", "ken", "mio"]
    assert "2 account(s) created, 3 student(s) added, 0 already in it" in err
    # Again: nothing new.
    out, err = _run("add_students", lesson.join_code.lower(), str(path))
    assert out == "" and "0 account(s) created, 0 student(s) added, 3 already in it" in err
    assert Membership.objects.count() == 3 and User.objects.count() == 4


def test_add_students_writes_the_credentials_to_a_private_file(lesson, tmp_path):
    path = _write(tmp_path, "username\nken\n")
    output = tmp_path / "credentials.csv"
    out, err = _run("add_students", lesson.join_code, str(path), "--output", str(output))
    assert out == "" and str(output) in err
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    (header, (name, password)) = list(csv.reader(output.open()))
    assert name == "ken" and authenticate(username="ken", password=password)


def test_a_bad_row_changes_nothing_and_says_where(lesson, tmp_path):
    path = _write(tmp_path, "username,email\n"
                            "ken,ken@example.org\n"
                            "bad name!,\n"
                            "aiko,not-an-email\n"
                            "ken,\n"
                            "sato,\n"
                            ",x@example.org\n"
                            "mio,a@example.org,extra\n")
    with pytest.raises(CommandError) as raised:
        _run("add_students", lesson.join_code, str(path))
    text = str(raised.value)
    assert "nothing was changed" in text
    for line, words in ((3, "is not a username"), (4, "is not an email"),
                        (5, "already on line 2"), (6, "teaches this class"),
                        (7, "no username"), (8, "3 cells")):
        assert f"line {line}: " in text and words in text, (line, text)
    assert "line 2:" not in text
    assert User.objects.count() == 1 and not Membership.objects.exists()


@pytest.mark.parametrize("header", ["name,email", "username,role", "username,username"])
def test_a_bad_header_is_refused(lesson, tmp_path, header):
    with pytest.raises(CommandError, match="line 1: "):
        _run("add_students", lesson.join_code, str(_write(tmp_path, header + "\nken,x\n")))
    assert User.objects.count() == 1


def test_a_bad_code_or_file(lesson, tmp_path):
    with pytest.raises(CommandError, match="no class has the join code"):
        _run("add_students", "ACEF-GHJK", str(_write(tmp_path, "username\nken\n")))
    with pytest.raises(CommandError, match="cannot read"):
        _run("add_students", lesson.join_code, str(tmp_path / "missing.csv"))
    (tmp_path / "latin1.csv").write_bytes(b"username\nk\xe9n\n")
    with pytest.raises(CommandError, match="cannot read"):
        _run("add_students", lesson.join_code, str(tmp_path / "latin1.csv"))
