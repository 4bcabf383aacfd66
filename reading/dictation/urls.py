from django.urls import path

from reading.dictation import api

app_name = "dictation"
urlpatterns = [
    path("api/dictation/utterances/", api.Utterances.as_view(), name="utterances"),
    path(
        "api/dictation/utterances/<str:utterance_id>/",
        api.UtteranceDetail.as_view(),
        name="utterance",
    ),
    path(
        "api/dictation/utterances/<str:utterance_id>/audio.wav",
        api.UtteranceAudio.as_view(),
        name="audio",
    ),
]
