from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "reading.annotations"
    label = "annotations"
    verbose_name = "Annotations and measurements"
