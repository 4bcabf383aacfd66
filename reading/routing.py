"""WebSocket routes; each app contributes its own ``websocket_urlpatterns``."""

from reading.ai.routing import websocket_urlpatterns as ai_ws
from reading.dictation.routing import websocket_urlpatterns as dictation_ws
from reading.reading_sessions.routing import websocket_urlpatterns as session_ws
from reading.reports.routing import websocket_urlpatterns as report_ws
from reading.worklist.routing import websocket_urlpatterns as worklist_ws

websocket_urlpatterns: list = [*worklist_ws, *session_ws, *dictation_ws, *report_ws, *ai_ws]
