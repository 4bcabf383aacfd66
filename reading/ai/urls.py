from django.urls import path

from reading.ai import api

app_name = "ai"
urlpatterns = [
    path("api/ai/jobs/", api.Jobs.as_view(), name="jobs"),
    path("api/ai/estimate/", api.Estimate.as_view(), name="estimate"),
    path("api/ai/jobs/<str:job_id>/", api.JobDetail.as_view(), name="job"),
    path("api/ai/jobs/<str:job_id>/cancel/", api.JobCancel.as_view(), name="cancel"),
    path("api/ai/jobs/<str:job_id>/findings/", api.JobFindings.as_view(), name="findings"),
    path("api/ai/jobs/<str:job_id>/export-sr/", api.JobExportSR.as_view(), name="export-sr"),
    path(
        "api/ai/findings/<str:annotation_id>/review/",
        api.FindingReview.as_view(),
        name="review",
    ),
]
