from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reading.reports"
    label = "reports"
    verbose_name = "Reports"
