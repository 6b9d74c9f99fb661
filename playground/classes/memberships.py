"""Classes and who is in them: create a class, join one with its code, leave it
(docs/classes.md, "Roles and classes"). The pages, the API and the management commands
all go through here, so one set of rules holds for each.

Rules: only a teacher (``ownership.is_teacher``: the permission playground.teach)
creates a class; joining needs an account (a membership is a user's, never a browser
session's); joining twice is fine (the second time changes nothing); a teacher does not
join their own class. Refusals are messages as data (refusals.py), worded where shown.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils.translation import gettext_noop

from ..accounts import shown_name
from ..class_models import TEACH_PERMISSION, TEACHERS_GROUP, Classroom, Membership
from ..refusals import Refusal
from ..sandboxes.ownership import is_teacher
from . import codes

MAX_NAME = Classroom._meta.get_field("name").max_length or 80
# A new code colliding with an existing one is rare (3.8e10 codes); a few tries make a
# failure practically impossible, and a bounded loop never spins.
CODE_TRIES = 10

NOT_A_TEACHER = gettext_noop("only a teacher can create a class")
NAME_NEEDED = gettext_noop("a class needs a name (1 to %(max)s characters)")
NAME_CONTROL = gettext_noop("a class name cannot hold control characters (a tab, a line "
                            "break, a NUL)")
NO_SUCH_CLASS = gettext_noop("no class has the join code %(code)s: check it with "
                             "your teacher")
NOT_A_CODE = gettext_noop("%(code)s is not a join code: a join code is 8 letters and "
                          "digits, like ACEF-3467")
NO_CODE = gettext_noop("type the join code your teacher gave you: 8 letters and digits, "
                       "like ACEF-3467")
LOG_IN_TO_JOIN = gettext_noop("log in first: joining a class needs an account")
OWN_CLASS = gettext_noop("you teach this class: your students join it, you need not")
NOT_A_MEMBER = gettext_noop("you are not in this class")


@dataclass(frozen=True)
class Joined:
    """The outcome of a join: the class, and whether this call added the student."""

    classroom: Classroom
    added: bool


def make_teacher(user: Any) -> None:
    """``user`` becomes a teacher: a member of the group TEACHERS_GROUP. Migration 0014
    makes the group; it is made again here (with its permission) if it was deleted."""
    group, _ = Group.objects.get_or_create(name=TEACHERS_GROUP)
    app_label, codename = TEACH_PERMISSION.split(".")
    group.permissions.add(Permission.objects.get(codename=codename,
                                                 content_type__app_label=app_label))
    user.groups.add(group)


def create_class(teacher: Any, name: object) -> Classroom:
    """A new class taught by ``teacher``, with a fresh join code."""
    if not is_teacher(teacher):
        raise Refusal(NOT_A_TEACHER).answer(403)
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > MAX_NAME:
        raise Refusal(NAME_NEEDED, max=MAX_NAME).answer(400, field="name")
    # Shown on a projector and in a title; and PostgreSQL refuses a NUL (a 500).
    if any(unicodedata.category(char) == "Cc" for char in clean):
        raise Refusal(NAME_CONTROL).answer(400, field="name")
    for _ in range(CODE_TRIES):
        try:
            with transaction.atomic():  # a taken code rolls back this insert only
                return Classroom.objects.create(name=clean, teacher=teacher,
                                                join_code=codes.generate())
        except IntegrityError:
            continue
    raise RuntimeError(f"no free join code after {CODE_TRIES} tries")


def find_class(text: object) -> Classroom:
    """The class a typed or linked code names; a 404 refusal otherwise."""
    code = codes.normalize(text)
    shown = str(text)[:codes.MAX_INPUT] if isinstance(text, str) else ""
    if code is None and not shown.strip():  # an empty form, or no text at all
        raise Refusal(NO_CODE).answer(404, field="code")  # as for any bad code
    if code is None:
        raise Refusal(NOT_A_CODE, code=shown).answer(404, field="code")
    try:
        return Classroom.objects.select_related("teacher").get(join_code=code)
    except Classroom.DoesNotExist:
        raise Refusal(NO_SUCH_CLASS, code=codes.display(code)).answer(
            404, field="code") from None


def join(user: Any, classroom: Classroom) -> Joined:
    """``user`` joins ``classroom``. A second join (a double click, two tabs, a rerun of
    add_students) finds the first one: the unique constraint decides, not a check
    before the insert, so concurrent joins cannot make two rows or fail."""
    if user is None or not user.is_authenticated:
        raise Refusal(LOG_IN_TO_JOIN).answer(401)
    if classroom.teacher_id == user.pk:
        raise Refusal(OWN_CLASS).answer(400)
    try:
        with transaction.atomic():
            _, added = Membership.objects.get_or_create(classroom=classroom, user=user)
    except IntegrityError:  # another request inserted it between get and create
        added = False
    return Joined(classroom, added)


def leave(user: Any, classroom_id: int) -> Classroom:
    """``user`` leaves the class; a 404 refusal when they are not in it."""
    membership = Membership.objects.select_related("classroom").filter(
        classroom_id=classroom_id, user_id=getattr(user, "pk", None)).first()
    if membership is None:
        raise Refusal(NOT_A_MEMBER).answer(404)
    membership.delete()
    return membership.classroom


def taught_by(user: Any) -> QuerySet[Classroom]:
    """The classes ``user`` teaches, each with ``student_count``."""
    if not is_teacher(user):
        return Classroom.objects.none()
    return Classroom.objects.filter(teacher=user).annotate(
        student_count=Count("memberships"))


def joined_by(user: Any) -> QuerySet[Classroom]:
    """The classes ``user`` is a student of (with their teachers; never the other
    students: students do not see each other)."""
    if user is None or not user.is_authenticated:
        return Classroom.objects.none()
    return Classroom.objects.filter(memberships__user=user).select_related("teacher")


def teacher_name(classroom: Classroom) -> str:
    """How a class's teacher is named to students."""
    return shown_name(classroom.teacher)


def shows_classes_link(user: Any) -> bool:
    """The header's "Classes" link: for teachers and for members of a class."""
    if user is None or not user.is_authenticated:
        return False
    return is_teacher(user) or Membership.objects.filter(user=user).exists()
