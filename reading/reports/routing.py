from django.urls import re_path

from reading.reports.consumers import ReportConsumer

websocket_urlpatterns = [
    re_path(r"^ws/reports/(?P<report_id>[0-9a-f-]{36})/$", ReportConsumer.as_asgi()),
]
