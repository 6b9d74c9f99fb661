"""When a teacher's look ends while it is open (docs/classes.md, "A read-only look").

Who may see what is decided when a page, an API call or a websocket asks
(sandboxes/ownership.py, the board's views and consumer). HTTP asks at every request,
so a student who leaves a class, a class deleted or a teacher who loses the permission
is out at the next one. A websocket asks once, at its handshake: an open traffic viewer
or class board would go on showing a student to a teacher who may no longer see them.

So each of these changes sends ``{"type": "access.changed"}`` to the group of every
account whose access may have shrunk (accounts.user_group: each websocket of an account
joins it). Each socket of that account asks its question again and closes (4403) when
the answer is no. Telling too many is harmless: a socket still allowed stays open, for
the price of one query. The changes are rare (a lesson's end, an admin's edit), and
nothing here runs on the traffic's path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .. import accounts
from ..class_models import Classroom, Membership, whole_class_deleted

User = get_user_model()
CHANGED = {"type": "access.changed"}


def tell(user_ids: Iterable[int]) -> None:
    """After the change commits, tell the websockets of these accounts to ask again."""
    ids = sorted(set(user_ids))
    if ids:
        transaction.on_commit(lambda: [accounts.tell(accounts.user_group(pk), CHANGED)
                                       for pk in ids])


# ----- a student's teacher may no longer see them -------------------------------------


@receiver(post_delete, sender=Membership, dispatch_uid="access-member-left")
def _member_left(sender: Any, instance: Membership, **kwargs: Any) -> None:
    if whole_class_deleted(kwargs.get("origin")):
        return  # _class_deleted tells its teacher, once
    # Read now: the class's row may go in the same transaction (its teacher's account
    # deleted), after its memberships.
    tell(Classroom.objects.filter(pk=instance.classroom_id)
         .values_list("teacher_id", flat=True))


@receiver(post_delete, sender=Classroom, dispatch_uid="access-class-deleted")
def _class_deleted(sender: Any, instance: Classroom, **kwargs: Any) -> None:
    tell([instance.teacher_id])


# ----- a teacher may no longer be one -------------------------------------------------


def _members_of(groups: Iterable[Any]) -> list[int]:
    return list(User.objects.filter(groups__in=list(groups)).values_list("pk", flat=True))


def _after(action: str, instance: Any, who: Any) -> None:
    """Tell ``who()``'s accounts once a removal or a clear is done. A clear names no
    one afterwards: its accounts are read before it (pre_clear) and told after it."""
    if action == "post_remove":
        tell(who())
    elif action == "pre_clear":
        instance._access_cleared = list(who())
    elif action == "post_clear":
        tell(instance.__dict__.pop("_access_cleared", ()))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="access-user-groups")
@receiver(m2m_changed, sender=User.user_permissions.through,
          dispatch_uid="access-user-permissions")
def _rights_of_users(sender: Any, instance: Any, action: str, reverse: bool,
                     pk_set: set[int] | None, **kwargs: Any) -> None:
    """A user left a group or lost a permission, from either side of the relation:
    ``user.groups.remove(g)`` (the user is ``instance``) or ``g.user_set.remove(u)``
    (the users are ``pk_set``, or the group's members for a clear)."""
    if not reverse:
        _after(action, instance, lambda: [instance.pk])
    else:
        _after(action, instance, lambda: pk_set if pk_set is not None
               else instance.user_set.values_list("pk", flat=True))


@receiver(m2m_changed, sender=Group.permissions.through,
          dispatch_uid="access-group-permissions")
def _rights_of_groups(sender: Any, instance: Any, action: str, reverse: bool,
                      pk_set: set[int] | None, **kwargs: Any) -> None:
    """A group lost a permission (``group.permissions.remove(p)``, or
    ``p.group_set.remove(g)``): every member may have lost it."""
    if not reverse:
        _after(action, instance, lambda: _members_of([instance.pk]))
    else:
        _after(action, instance, lambda: _members_of(
            pk_set if pk_set is not None else instance.group_set.values_list("pk", flat=True)))


@receiver(post_save, sender=User, dispatch_uid="access-user-saved")
def _user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None,
                **kwargs: Any) -> None:
    """Deactivated, or no longer a superuser: any change of the account but a login's
    (which saves ``last_login`` alone, at every login)."""
    if not created and set(update_fields or ()) != {"last_login"}:
        tell([instance.pk])
