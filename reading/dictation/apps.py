from django.apps import AppConfig


class DictationConfig(AppConfig):
    name = "reading.dictation"
    label = "dictation"
    verbose_name = "Dictation"
