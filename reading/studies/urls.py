from django.urls import path

from reading.studies import views
from reading.worklist import views as worklist_views

app_name = "studies"
urlpatterns = [
    path("", worklist_views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("api/uploads/", views.upload_api, name="upload_api"),
    path("studies/<str:study_uid>/", views.study_detail, name="detail"),
]
