"""What every page's header needs to know about classes: whether to show the
"Classes" link (teachers, and members of a class). A template context processor
(settings.TEMPLATES); evaluated only when the header asks, so a page that never
renders it costs no query."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .memberships import shows_classes_link


def classes(request: HttpRequest) -> dict[str, Any]:
    return {"show_classes_link": SimpleLazyObject(
        lambda: shows_classes_link(getattr(request, "user", None)))}
