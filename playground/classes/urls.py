"""The URLs of classes (pages, API; the board's websocket is in routing.py)."""

from django.urls import path

from . import broadcast_api

# Pages: /classes/..., API: /api/classes/... (each part adds its own lines).
urlpatterns: list = [
    path("api/classes/<int:class_id>/broadcast/", broadcast_api.broadcast,
         name="api-class-broadcast"),
]
