from django.urls import path

from reading.viewer import views

app_name = "viewer"
urlpatterns = [
    path("viewer/<str:study_uid>/", views.viewer, name="study"),
]
