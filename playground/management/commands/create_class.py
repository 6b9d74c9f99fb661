"""``manage.py create_class --teacher USERNAME "NAME"``: a new class, taught by a
teacher; prints its join code and join link (docs/classes.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from playground.classes import codes, memberships
from playground.classes.present import join_path
from playground.refusals import Refusal

# Where the link points when nothing says: `manage.py runserver`'s address.
DEFAULT_SITE = "http://127.0.0.1:8000"


def site_url(given: str | None) -> str:
    """The playground's address for printed links: --site, else the first
    PLAYGROUND_CSRF_TRUSTED_ORIGINS (a deployment's public origin), else runserver's."""
    trusted = list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or [])
    return (given or (trusted[0] if trusted else DEFAULT_SITE)).rstrip("/")


class Command(BaseCommand):
    help = "Create a class taught by a teacher; print its join code and link."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--teacher", required=True, help="the teacher's username")
        parser.add_argument("--site", help=f"the playground's address for the link "
                                           f"(default: the first CSRF trusted origin, "
                                           f"else {DEFAULT_SITE})")

    def handle(self, *args, name: str, teacher: str, site: str | None, **options):
        user = get_user_model().objects.filter(username=teacher).first()
        if user is None:
            raise CommandError(f"no account named {teacher!r}")
        try:
            classroom = memberships.create_class(user, name)
        except Refusal as refusal:
            hint = " (manage.py make_teacher USERNAME)" if refusal.status == 403 else ""
            raise CommandError(f"{refusal}{hint}") from None
        self.stdout.write(f"class {classroom.name!r} (id {classroom.pk}), "
                          f"teacher {teacher}")
        self.stdout.write(f"join code: {codes.display(classroom.join_code)}")
        self.stdout.write(f"join link: {site_url(site)}{join_path(classroom)}")
