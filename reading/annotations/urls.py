from django.urls import path

from reading.annotations import api

app_name = "annotations"
urlpatterns = [
    path(
        "api/studies/<str:study_uid>/annotations/",
        api.StudyAnnotations.as_view(),
        name="study-annotations",
    ),
    path("api/annotations/<str:annotation_id>/", api.AnnotationDetail.as_view(), name="detail"),
    path(
        "api/annotations/<str:annotation_id>/review/",
        api.AnnotationReview.as_view(),
        name="review",
    ),
    path(
        "api/annotations/<str:annotation_id>/export-sr/",
        api.AnnotationExportSR.as_view(),
        name="export-sr",
    ),
]
