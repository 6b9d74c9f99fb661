"""Websocket URLs (the HTTP ones are in urls.py)."""

from django.urls import path

from .traffic import consumer

websocket_urlpatterns = [
    path("ws/sandboxes/<int:sandbox_id>/", consumer.TrafficConsumer.as_asgi()),
]
