"""The people of the read-only look's tests (issue 15, point 3), made with the ORM: a
teacher (a user in the group "teachers") and their class with two students, and an
outsider of each kind: another teacher with a class of their own and a student in it."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.test import Client
from testkit.boards import classroom, logged_in, student, teacher


@dataclass
class People:
    teacher: Client
    student: Client
    classmate: Client
    other_teacher: Client
    other_student: Client
    teacher_user: User
    student_user: User


def make_people(language: str = "en") -> People:
    sato = teacher("sato", first_name="Sato")
    ours = classroom(sato, code="AAAABBBB")
    theirs = classroom(teacher("suzuki"), "HTTP 2", "CCCCDDDD")
    hana = student(ours, "hana")
    return People(
        teacher=logged_in(sato, "en"), student=logged_in(hana, language),
        classmate=logged_in(student(ours, "ken"), "en"),
        other_teacher=logged_in(theirs.teacher, "en"),
        other_student=logged_in(student(theirs, "yui"), "en"),
        teacher_user=sato, student_user=hana)
