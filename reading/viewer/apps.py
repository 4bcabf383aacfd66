from django.apps import AppConfig


class ViewerConfig(AppConfig):
    name = "reading.viewer"
    label = "viewer"
    verbose_name = "Diagnostic viewer"
