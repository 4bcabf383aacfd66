from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm

from reading.accounts.models import ApiToken, User
from reading.accounts.services import revoke_api_token


class ConfirmedRoleChangeForm(UserChangeForm):
    """A role change takes or gives access to patient data at once: it must be confirmed."""

    confirm_role_change = forms.BooleanField(
        required=False,
        label="Confirm role change",
        help_text="Tick to apply a new role; the user's open pages and sockets close at once.",
    )

    def clean(self):
        cleaned = super().clean()
        if "role" in self.changed_data and not cleaned.get("confirm_role_change"):
            self.add_error(
                "confirm_role_change", "Confirm the role change: it changes access at once."
            )
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = ConfirmedRoleChangeForm
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "display_name", "first_name", "last_name", "email")
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Reading Room", {"fields": ("role", "confirm_role_change", "display_name")}),
    )
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
