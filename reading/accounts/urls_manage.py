"""The department admin's user pages, mounted at ``/manage/`` (the admin's start page)."""

from django.urls import path

from reading.accounts import admin_views

app_name = "accounts_manage"
urlpatterns = [
    path("", admin_views.manage_users, name="users"),
    path("users/<int:user_id>/", admin_views.manage_user_action, name="user_action"),
    path("users/<int:user_id>/tokens/", admin_views.manage_user_tokens, name="user_tokens"),
    path(
        "users/<int:user_id>/tokens/<int:token_id>/revoke/",
        admin_views.manage_token_revoke,
        name="token_revoke",
    ),
]
