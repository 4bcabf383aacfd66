from django.urls import path

from reading.reading_sessions import api, views

app_name = "reading_sessions"
urlpatterns = [
    path("sessions/join/<str:token>/", views.join_by_link, name="join"),
    path("api/sessions/", api.SessionList.as_view(), name="list"),
    path("api/sessions/join/<str:token>/", api.SessionJoin.as_view(), name="api-join"),
    path("api/sessions/<uuid:session_id>/", api.SessionDetail.as_view(), name="detail"),
    path("api/sessions/<uuid:session_id>/invite/", api.SessionInvite.as_view(), name="invite"),
    path("api/sessions/<uuid:session_id>/end/", api.SessionEnd.as_view(), name="end"),
    path("api/sessions/<uuid:session_id>/events", api.SessionEvents.as_view(), name="events"),
    path("api/sessions/<uuid:session_id>/events/", api.SessionEvents.as_view()),
    path("api/sessions/<uuid:session_id>/chat/", api.SessionChat.as_view(), name="chat"),
    path("api/studies/<str:study_uid>/chat/", api.StudyChat.as_view(), name="study-chat"),
]
