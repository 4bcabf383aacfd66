from django.urls import re_path

from reading.dictation.consumers import DictationConsumer

websocket_urlpatterns = [
    re_path(r"^ws/dictation/(?P<study_uid>[0-9.]{1,64})/$", DictationConsumer.as_asgi()),
]
