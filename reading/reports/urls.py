from django.urls import path

from reading.reports import admin_views, api

app_name = "reports"
urlpatterns = [
    path("api/studies/<str:study_uid>/report/", api.StudyReport.as_view(), name="study-report"),
    path("api/reports/<str:report_id>/", api.ReportDetail.as_view(), name="detail"),
    path("api/reports/<str:report_id>/sign/", api.ReportSign.as_view(), name="sign"),
    path("api/reports/<str:report_id>/versions/", api.ReportVersions.as_view(), name="versions"),
    path("api/reports/<str:report_id>/diff/", api.ReportDiff.as_view(), name="diff"),
    path("api/reports/<str:report_id>/addenda/", api.ReportAddenda.as_view(), name="addenda"),
    path("api/reports/<str:report_id>/critical/", api.ReportCritical.as_view(), name="critical"),
    path(
        "api/reports/<str:report_id>/critical/communications/",
        api.ReportCommunications.as_view(),
        name="communications",
    ),
    path(
        "api/reports/<str:report_id>/impression/", api.ReportImpression.as_view(), name="impression"
    ),
    path(
        "api/reports/<str:report_id>/impression/<int:suggestion_id>/",
        api.ImpressionDecision.as_view(),
        name="impression-decision",
    ),
    path("api/reports/<str:report_id>/pdf", api.ReportPDF.as_view(), name="pdf"),
    path("api/reports/<str:report_id>/fhir", api.ReportFHIR.as_view(), name="fhir"),
    path("api/reports/<str:report_id>/sr/", api.ReportSR.as_view(), name="sr"),
    path("api/report-templates/", api.Templates.as_view(), name="templates"),
    path("api/macros/", api.Macros.as_view(), name="macros"),
    path("api/macros/<int:macro_id>/", api.MacroDetail.as_view(), name="macro"),
    path("manage/report-templates/", admin_views.manage_templates, name="manage_templates"),
    path(
        "manage/report-templates/<int:template_id>/",
        admin_views.manage_templates,
        name="manage_template",
    ),
]
