from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "reading.ai"
    label = "ai"
    verbose_name = "AI models"
