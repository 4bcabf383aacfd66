"""Department admins' page for people (``/manage/``): list, create, change role, reset a
password, deactivate and reactivate. The writes are ``reading.accounts.services``'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from reading.accounts import services
from reading.accounts.access import is_department_admin
from reading.accounts.forms import CreateUserForm, ResetPasswordForm
from reading.accounts.models import Role, User


def _admin_only(request) -> None:
    if not is_department_admin(request.user):
        raise PermissionDenied("Only department admins manage users.")


@require_http_methods(["GET", "POST"])
def manage_users(request):
    _admin_only(request)
    form = CreateUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.add_user(
                request.user,
                form.cleaned_data["username"],
                form.cleaned_data["password"],
                form.cleaned_data["role"],
                form.cleaned_data["display_name"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created {user.username}.")
            return redirect("accounts_manage:users")
    users = User.objects.order_by("-is_active", "username")
    return render(
        request,
        "accounts/manage_users.html",
        {"form": form, "users": users, "roles": Role.choices, "reset_form": ResetPasswordForm()},
    )


@require_POST
def manage_user_action(request, user_id: int):
    _admin_only(request)
    target = get_object_or_404(User, pk=user_id)
    action = request.POST.get("action")
    try:
        if action == "role":
            services.set_role(request.user, target, request.POST.get("role", ""))
            messages.success(request, f"{target.username} is now {target.get_role_display()}.")
        elif action == "deactivate":
            n = services.deactivate_user(request.user, target)
            messages.success(request, f"Deactivated {target.username}; {n} session(s) ended.")
        elif action == "reactivate":
            services.reactivate_user(request.user, target)
            messages.success(request, f"Reactivated {target.username}.")
        elif action == "password":
            form = ResetPasswordForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["password"])
            services.reset_password(request.user, target, form.cleaned_data["password"])
            messages.success(request, f"Password of {target.username} reset.")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("accounts_manage:users")
