"""Every socket of a user closes when they log out or lose access, however that happens.

Consumers join the channel-layer group ``user.<id>`` and close on
``user.disconnect`` (docs/realtime.md). Department admin actions in
``/manage/`` (``reading.accounts.services``) send it themselves, with
``access_lost`` so that other apps let go of what the user held; these receivers
cover logout (any session, including the automatic logoff) and saves from
anywhere else (the Django admin, a shell, a management command) that deactivate
a user or take the clinical role away.
"""

from __future__ import annotations

import time

from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal, receiver

from reading.accounts.models import CLINICAL_ROLES, User

USER_DISCONNECT = "user.disconnect"

# Sent with ``user_id`` when a department admin deactivates a user or takes their
# clinical role away (the worklist releases their claims).
access_lost = Signal()


def user_group(user_id) -> str:
    return f"user.{user_id}"


def close_user_sockets_on_commit(user_id) -> None:
    from reading.realtime import send_on_commit

    send_on_commit(user_group(user_id), {"type": USER_DISCONNECT})


def sign_out(request) -> None:
    """``logout`` as one transaction. Django sends ``user_logged_out`` before it deletes
    the session: the sockets then close on commit, once the session row is gone, so a
    page that its closing socket reloads is already signed out (sent at once, the close
    could overtake the deletion and the page reload signed in)."""
    with transaction.atomic():
        logout(request)


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    from reading.accounts.middleware import LAST_ACTIVITY_KEY

    session = getattr(request, "session", None)
    if session is not None:
        session[LAST_ACTIVITY_KEY] = time.time()  # the idle clock starts at login


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None and user.pk is not None:
        close_user_sockets_on_commit(user.pk)


@receiver(pre_save, sender=User)
def _note_access_before_save(sender, instance: User, update_fields=None, **kwargs):
    if instance.pk is None:
        return
    if update_fields is not None and not {"is_active", "role"} & set(update_fields):
        return  # e.g. last_login on every login: nothing that changes access
    before = User.objects.filter(pk=instance.pk).values("is_active", "role").first()
    instance._access_before = before


@receiver(post_save, sender=User)
def _lost_access(sender, instance: User, created, **kwargs):
    before = getattr(instance, "_access_before", None)
    instance._access_before = None
    if created or before is None:
        return
    deactivated = before["is_active"] and not instance.is_active
    lost_role = before["role"] in CLINICAL_ROLES and instance.role not in CLINICAL_ROLES
    if deactivated or lost_role:
        close_user_sockets_on_commit(instance.pk)
