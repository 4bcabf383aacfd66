from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from reading.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email")
    fieldsets = BaseUserAdmin.fieldsets + (("Reading Room", {"fields": ("role", "display_name")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        ("Reading Room", {"fields": ("role", "display_name")}),
    )
