from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "reading.worklist"
    label = "worklist"
    verbose_name = "Worklist and reading workflow"

    def ready(self) -> None:
        from reading.accounts.signals import access_lost
        from reading.studies.signals import instance_stored
        from reading.worklist import receivers

        instance_stored.connect(
            receivers.on_instance_stored, dispatch_uid="worklist.instance_stored"
        )
        access_lost.connect(receivers.on_access_lost, dispatch_uid="worklist.access_lost")
