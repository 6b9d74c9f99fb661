"""Class members for the tests against real playground processes: a class made with
the ORM in a playground's database (``make_class``), its users (password "pw") logged
in in a real browser (``login``) or in a urllib cookie jar against a real daphne
process (``session``)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from typing import Any

from .playgrounds import REPO, Browser, Daphne

# Run in the playground's own environment (its database), as a management command would.
_MAKE_CLASS = """
import django, json, sys; django.setup()
from django.contrib.auth.models import Group, User
from playground.class_models import Classroom, Membership, TEACHERS_GROUP
plan = json.loads(sys.argv[1])
def user(name):
    return User.objects.create_user(name, password="pw",
                                    first_name=plan["first_names"].get(name, ""))
teachers = Group.objects.get(name=TEACHERS_GROUP)
room = Classroom.objects.create(name="HTTP 1", teacher=user(plan["teacher"]),
                                join_code=plan["code"])
room.teacher.groups.add(teachers)
for name in plan["other_teachers"]:
    user(name).groups.add(teachers)
ids = {"class": room.pk}
for name in plan["students"]:
    ids[name] = user(name).pk
    Membership.objects.create(classroom=room, user_id=ids[name])
for name in plan["outsiders"]:
    user(name)
print(json.dumps(ids))
"""


def make_class(env: dict[str, str], students: tuple[str, ...], *, teacher: str = "sato",
               code: str = "ABCD2345", other_teachers: tuple[str, ...] = (),
               outsiders: tuple[str, ...] = (),
               first_names: dict[str, str] | None = None) -> dict[str, int]:
    """A class "HTTP 1" of ``teacher`` with ``students`` in it, made in the database of
    the playground ``env`` belongs to; also teachers without it and users outside it.
    Returns {"class": its id, each student: their user id}."""
    plan = {"teacher": teacher, "code": code, "students": students,
            "other_teachers": other_teachers, "outsiders": outsiders,
            "first_names": first_names or {}}
    made = subprocess.run([sys.executable, "-c", _MAKE_CLASS, json.dumps(plan)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    ids: dict[str, int] = json.loads(made.stdout)
    return ids


def login(browser: Any, site: Any, username: str,
          locale: str = "en-US") -> tuple[Any, Any, list[str]]:
    """(context, page, errors): a new browser context logged in as ``username``;
    ``errors`` collects the page's uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click(".login-page button[type=submit]")
    page.wait_for_selector("form.account")  # logged in: the header's "Log out"
    return context, page, errors


def session(site: Daphne, username: str) -> Browser:
    """A testkit Browser logged in as ``username`` through the login form of ``site``
    (its session works on every process of the same database)."""
    browser = Browser()
    browser.opener.open(site.base + "/accounts/login/", timeout=30).read()
    form = urllib.parse.urlencode({"username": username, "password": "pw", "next": "/",
                                   "csrfmiddlewaretoken": browser.cookie("csrftoken")})
    browser.opener.open(site.base + "/accounts/login/", form.encode(), timeout=30).read()
    assert browser.cookie("sessionid")
    return browser
