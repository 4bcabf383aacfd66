from django.urls import path

from reading.reports import views

app_name = "report_pages"
urlpatterns = [
    path("reports/<str:report_id>/", views.report_page, name="page"),
]
