from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "reading.ai"
    label = "ai"
    verbose_name = "AI models"

    def ready(self) -> None:
        from reading.ai import receivers
        from reading.studies.signals import instance_stored

        instance_stored.connect(receivers.on_instance_stored, dispatch_uid="ai.instance_stored")
