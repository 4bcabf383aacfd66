from django.urls import re_path

from reading.ai.consumers import StudyAIConsumer

websocket_urlpatterns = [
    re_path(r"^ws/ai/studies/(?P<study_uid>[0-9.]{1,64})/$", StudyAIConsumer.as_asgi()),
]
