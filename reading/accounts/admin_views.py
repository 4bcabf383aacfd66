"""Department admins' page for people (``/manage/``): list, create, change role, reset a
password, deactivate and reactivate; a user's API tokens, seen and revoked. The writes are
``reading.accounts.services``'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from reading.accounts import services
from reading.accounts.access import is_department_admin
from reading.accounts.forms import CreateUserForm, ResetPasswordForm
from reading.accounts.models import ApiToken, Role, User


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
    usable = Q(api_tokens__revoked_at__isnull=True, api_tokens__expires_at__gt=timezone.now())
    users = User.objects.annotate(usable_tokens=Count("api_tokens", filter=usable)).order_by(
        "-is_active", "username"
    )
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


@require_http_methods(["GET"])
def manage_user_tokens(request, user_id: int):
    """A user's API tokens: name, dates, state; never the key (only its digest is stored)."""
    _admin_only(request)
    target = get_object_or_404(User, pk=user_id)
    tokens = ApiToken.objects.filter(user=target).only(
        "id", "user_id", "name", "created_at", "expires_at", "revoked_at", "last_used_at"
    )
    return render(request, "accounts/manage_user_tokens.html", {"target": target, "tokens": tokens})


@require_POST
def manage_token_revoke(request, user_id: int, token_id: int):
    _admin_only(request)
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id, user=user_id)
    label = token.name or f"token of {token.created_at:%Y-%m-%d %H:%M}"
    if services.revoke_api_token(request.user, token):
        messages.success(request, f"Revoked {label} of {token.user.username}.")
    else:
        messages.info(request, f"{label} of {token.user.username} was revoked already.")
    return redirect("accounts_manage:user_tokens", user_id=token.user_id)
