"""Websocket URLs (the HTTP ones are in urls.py)."""

from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/sandboxes/<int:sandbox_id>/", consumers.TrafficConsumer.as_asgi()),
]
