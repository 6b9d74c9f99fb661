"""The people of the read-only look's tests (issue 15, point 3), made with the ORM: a
teacher (a user in the group "teachers") and their class with two students, and an
outsider of each kind: another teacher with a class of their own and a student in it."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from playground.class_models import TEACH_PERMISSION, TEACHERS_GROUP, Classroom, Membership


@dataclass
class People:
    teacher: Client
    student: Client
    classmate: Client
    other_teacher: Client
    other_student: Client
    teacher_user: User
    student_user: User


def teacher(username: str, first_name: str = "") -> User:
    user = User.objects.create_user(username, password="pw", first_name=first_name)
    user.groups.add(teachers_group())
    return user


def teachers_group() -> Group:
    """The group migration 0014 makes (a transactional test's flush empties it)."""
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    app, codename = TEACH_PERMISSION.split(".")
    group.permissions.add(Permission.objects.get(content_type__app_label=app,
                                                 codename=codename))
    return group


def student_of(classroom: Classroom, username: str) -> User:
    user = User.objects.create_user(username, password="pw")
    Membership.objects.create(classroom=classroom, user=user)
    return user


def logged_in(user: User, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def make_people(language: str = "en") -> People:
    sato = teacher("sato", "Sato")
    ours = Classroom.objects.create(name="HTTP 1", teacher=sato, join_code="AAAABBBB")
    theirs = Classroom.objects.create(name="HTTP 2", teacher=teacher("suzuki"),
                                      join_code="CCCCDDDD")
    student = student_of(ours, "hana")
    return People(
        teacher=logged_in(sato), student=logged_in(student, language),
        classmate=logged_in(student_of(ours, "ken")),
        other_teacher=logged_in(theirs.teacher),
        other_student=logged_in(student_of(theirs, "yui")),
        teacher_user=sato, student_user=student)
