from django.urls import path

from reading.worklist import views

app_name = "worklist"
urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/open/<str:study_uid>/", views.open_study, name="open"),
    path("manage/worklists/", views.manage_worklists, name="manage_worklists"),
    path("manage/worklists/<int:worklist_id>/", views.manage_worklists, name="manage_worklist"),
    path("manage/assign/", views.manage_assign, name="manage_assign"),
]
