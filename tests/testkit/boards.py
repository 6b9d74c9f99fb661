"""A class for the classes' tests, made with the ORM: a teacher (a user in the group
"teachers", class_models.TEACHERS_GROUP), a class, students in it, and a test client
logged in as any of them."""

from __future__ import annotations

from typing import Any


def teachers_group() -> Any:
    """The group migration 0014 makes, with its permission: a transactional test's flush
    removed both since, so they are made again here when missing."""
    from django.contrib.auth.models import Group, Permission

    from playground.class_models import TEACH_PERMISSION, TEACHERS_GROUP

    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    app, codename = TEACH_PERMISSION.split(".")
    group.permissions.add(Permission.objects.get(content_type__app_label=app,
                                                 codename=codename))
    return group


def teacher(username: str = "sato", **fields: Any) -> Any:
    from django.contrib.auth.models import User

    user = User.objects.create_user(username, password="pw", **fields)
    user.groups.add(teachers_group())
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


def logged_in(user: Any, language: str | None = None) -> Any:
    """A Django test client logged in as ``user``, sending ``Accept-Language:
    language`` when one is given."""
    from django.test import Client

    client = Client(**({"HTTP_ACCEPT_LANGUAGE": language} if language else {}))
    client.force_login(user)
    return client


def send_to_all(client: Any, klass: Any, request: bytes, **fields: Any) -> Any:
    """``client`` sends ``request`` to everyone in ``klass`` (POST
    /api/classes/<id>/broadcast/, docs/api.md); the response."""
    import base64

    return client.post(f"/api/classes/{klass.pk}/broadcast/",
                       {"request_b64": base64.b64encode(request).decode(), **fields},
                       content_type="application/json")
