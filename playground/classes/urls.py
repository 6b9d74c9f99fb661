"""The URLs of classes (pages, API; the board's websocket is in routing.py)."""

from django.urls import path

from . import api, board_views, pages

# Pages: /classes/..., API: /api/classes/... (each part adds its own lines).
urlpatterns: list = [
    # Roles and classes (memberships.py): the list, joining, leaving.
    path("classes/", pages.class_list, name="class-list"),
    path("classes/join/", pages.join_form, name="class-join-form"),
    path("classes/join/<str:code>/", pages.join_link, name="class-join"),
    path("classes/<int:class_id>/leave/", pages.leave, name="class-leave"),
    path("api/classes/", api.class_list, name="api-classes"),
    path("api/classes/join/", api.class_join, name="api-class-join"),
    path("api/classes/<int:class_id>/leave/", api.class_leave, name="api-class-leave"),
    # The class board (board.py, consumer.py).
    path("classes/<int:class_id>/", board_views.board_page, name="class-board"),
    path("api/classes/<int:class_id>/board/", board_views.board_api, name="api-class-board"),
]
