"""``manage.py make_teacher USERNAME``: the account becomes a teacher (joins the group
"teachers", which holds the permission playground.teach; docs/classes.md). Running it
again changes nothing. Not a superuser: a teacher need not administer the site."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from playground.class_models import TEACHERS_GROUP
from playground.classes import memberships


class Command(BaseCommand):
    help = "Make an existing account a teacher (the group 'teachers')."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no account named {username!r}: create it first "
                               "(in the admin, or with manage.py add_students)")
        memberships.make_teacher(user)
        self.stdout.write(f"{username} is a teacher (group {TEACHERS_GROUP!r}).")
