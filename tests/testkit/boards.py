"""A class for the board's tests, made with the ORM: a teacher (a user in the group
"teachers", class_models.TEACHERS_GROUP), a class, students in it."""

from __future__ import annotations

from typing import Any


def teacher(username: str = "sato", **fields: Any) -> Any:
    from django.contrib.auth.models import Group, Permission, User

    from playground.class_models import TEACHERS_GROUP

    user = User.objects.create_user(username, password="pw", **fields)
    # Migration 0014 makes the group; a transactional test's flush removed it since.
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    group.permissions.add(Permission.objects.get(codename="teach",
                                                 content_type__app_label="playground"))
    user.groups.add(group)
    return user


def classroom(teacher: Any, name: str = "HTTP 1", code: str = "ABCD2345") -> Any:
    from playground.class_models import Classroom

    return Classroom.objects.create(name=name, teacher=teacher, join_code=code)


def student(classroom: Any, username: str, **fields: Any) -> Any:
    from django.contrib.auth.models import User

    from playground.class_models import Membership

    user = User.objects.create_user(username, password="pw", **fields)
    Membership.objects.create(classroom=classroom, user=user)
    return user
