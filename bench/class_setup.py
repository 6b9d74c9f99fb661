"""The class of bench/class_bench.py, made with the ORM in the bench's own database:
a teacher (in the group ``teachers``), N students, their class and memberships, and a
logged-in session for each, printed as JSON on stdout.

    PLAYGROUND_DB=... PLAYGROUND_DATA_DIR=... python bench/class_setup.py 60

Run as its own process with the playground's environment (the bench never imports
Django itself: the site under test is another process). Sessions are made as Django's
login() makes them (the user's id, backend and session hash), so no password hashing is
timed and no login form is needed: accounts have no usable password.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def session_for(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def make_class(students: int) -> dict:
    from django.contrib.auth.models import Group, User

    from playground.class_models import TEACHERS_GROUP, Classroom, Membership

    teacher = User.objects.create_user("bench-teacher", first_name="Sato")
    teacher.groups.add(Group.objects.get(name=TEACHERS_GROUP))
    classroom = Classroom.objects.create(name="Bench class", teacher=teacher,
                                         join_code=secrets.token_hex(4).upper())
    rows = []
    for i in range(students):
        user = User.objects.create_user(f"student{i:02d}", first_name=f"Student {i:02d}")
        Membership.objects.create(classroom=classroom, user=user)
        rows.append({"id": user.pk, "username": user.username, "session": session_for(user)})
    return {"class_id": classroom.pk, "teacher": session_for(teacher), "students": rows}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django

    django.setup()
    print(json.dumps(make_class(int(sys.argv[1]))))


if __name__ == "__main__":
    main()
