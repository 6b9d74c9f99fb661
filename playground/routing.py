"""Websocket URLs (the HTTP ones are in urls.py)."""

from django.urls import path

from .classes import consumer as board
from .traffic import consumer

websocket_urlpatterns = [
    path("ws/sandboxes/<int:sandbox_id>/", consumer.TrafficConsumer.as_asgi()),
    path("ws/classes/<int:class_id>/", board.BoardConsumer.as_asgi()),
]
