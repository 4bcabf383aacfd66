from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "reading.accounts"
    label = "accounts"
    verbose_name = "Users and roles"
