from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from reading.accounts.models import ApiToken, User
from reading.accounts.services import revoke_api_token


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email")
    fieldsets = BaseUserAdmin.fieldsets + (("Reading Room", {"fields": ("role", "display_name")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        ("Reading Room", {"fields": ("role", "display_name")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see and revoke tokens; keys are never shown (only digests are stored)."""

    list_display = (
        "prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("user", "prefix", "name", "created_at", "expires_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # made by their user on the API token page, shown once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            revoke_api_token(request.user, token)
