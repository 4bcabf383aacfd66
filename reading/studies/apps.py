from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "reading.studies"
    label = "studies"
    verbose_name = "Study archive"
