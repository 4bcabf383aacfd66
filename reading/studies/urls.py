from django.urls import path

from reading.studies import views

app_name = "studies"
urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("studies/<str:study_uid>/", views.study_detail, name="detail"),
]
