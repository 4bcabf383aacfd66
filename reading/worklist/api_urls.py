from django.urls import path

from reading.worklist import api

app_name = "worklist_api"
urlpatterns = [
    path("", api.worklist, name="list"),
    path("studies/<str:study_uid>/", api.study_row, name="row"),
    path("studies/<str:study_uid>/claim/", api.claim, name="claim"),
    path("studies/<str:study_uid>/release/", api.release, name="release"),
    path("studies/<str:study_uid>/status/", api.set_status, name="status"),
    path("studies/<str:study_uid>/priority/", api.set_priority, name="priority"),
    path("studies/<str:study_uid>/break/", api.break_claim, name="break"),
    path("studies/<str:study_uid>/reassign/", api.reassign, name="reassign"),
    path("assign/", api.bulk_assign, name="assign"),
    path("saved/", api.saved_worklists, name="saved"),
    path("saved/<int:saved_id>/", api.saved_worklist, name="saved_detail"),
    path("worklists/", api.department_worklists, name="worklists"),
    path("readers/", api.readers, name="readers"),
]
