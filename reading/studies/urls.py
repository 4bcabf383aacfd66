from django.urls import path

from reading.studies import views

app_name = "studies"
urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("api/uploads/", views.upload_api, name="upload_api"),
    path("studies/<str:study_uid>/", views.study_detail, name="detail"),
]
