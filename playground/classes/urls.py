"""The URLs of classes (pages, API; the board's websocket is in routing.py)."""

from django.urls import path  # noqa: F401

# Pages: /classes/..., API: /api/classes/... (each part adds its own lines).
urlpatterns: list = [
]
