"""The URLs of classes (pages, API; the board's websocket is in routing.py)."""

from django.urls import path

from . import board_views

# Pages: /classes/..., API: /api/classes/... (each part adds its own lines).
urlpatterns: list = [
    path("classes/<int:class_id>/", board_views.board_page, name="class-board"),
    path("api/classes/<int:class_id>/board/", board_views.board_api, name="api-class-board"),
]
