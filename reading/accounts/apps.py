from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "reading.accounts"
    label = "accounts"
    verbose_name = "Users and roles"

    def ready(self):
        from reading.accounts import signals  # noqa: F401 - registers receivers
