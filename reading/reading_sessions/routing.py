from django.urls import re_path

from reading.reading_sessions.consumers import SessionConsumer

websocket_urlpatterns = [
    re_path(r"^ws/sessions/(?P<session_id>[0-9a-f-]{36})/$", SessionConsumer.as_asgi()),
]
