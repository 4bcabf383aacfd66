from django.urls import path

from reading.worklist import views

app_name = "worklist"
urlpatterns = [
    path("worklist/open/<str:study_uid>/", views.open_study, name="open"),
    path("manage/", views.manage_users, name="manage_users"),
    path("manage/users/<int:user_id>/", views.manage_user_action, name="manage_user_action"),
    path("manage/worklists/", views.manage_worklists, name="manage_worklists"),
    path("manage/worklists/<int:worklist_id>/", views.manage_worklists, name="manage_worklist"),
    path("manage/assign/", views.manage_assign, name="manage_assign"),
]
