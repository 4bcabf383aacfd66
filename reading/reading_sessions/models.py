"""Live reading sessions: who reads which study together, and the numbered event log.

Every change in a session is a ``SessionEvent`` with a per-session ``seq``, stored
before it is broadcast; clients resume from the last ``seq`` they applied.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models

from reading.accounts.signals import user_group


def new_invite_token() -> str:
    return secrets.token_urlsafe(24)


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class PresenceState(models.TextChoices):
    ACTIVE = "active", "Active"
    IDLE = "idle", "Idle"
    OFFLINE = "offline", "Offline"


class ReadingSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey(
        "studies.Study", on_delete=models.CASCADE, related_name="reading_sessions"
    )
    title = models.CharField(max_length=200, blank=True)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hosted_sessions"
    )
    presenter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=8, choices=SessionStatus.choices, default=SessionStatus.ACTIVE, db_index=True
    )
    # A link invite: only works for logged-in users who may read the study.
    invite_token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    # The per-session event counter: incremented in the transaction that stores an event.
    last_seq = models.PositiveBigIntegerField(default=0)
    # The presenter's latest viewport (layout, series, slice, W/L, zoom/pan): kept as one
    # value, overwritten, not as an event per change (followers need only the latest).
    viewport = models.JSONField(default=dict, blank=True)
    viewport_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["study", "status"])]

    def __str__(self) -> str:
        return self.title or f"Session {self.pk}"

    @property
    def group_name(self) -> str:
        return group_for_session(self.pk)

    @property
    def is_active(self) -> bool:
        return self.status == SessionStatus.ACTIVE


def group_for_session(session_id) -> str:
    return f"session.{session_id}"


# Every consumer of a user joins this group, so logout and deactivation close it.
group_for_user = user_group


class SessionInvite(models.Model):
    """A user invited by name, or who came in through the invite link."""

    session = models.ForeignKey(ReadingSession, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    via_link = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="unique_session_invite")
        ]

    def __str__(self) -> str:
        return f"{self.user} invited to {self.session_id}"


class Participant(models.Model):
    session = models.ForeignKey(
        ReadingSession, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16)  # the user's role when they joined
    colour = models.CharField(max_length=7)  # "#rrggbb", stable per session
    state = models.CharField(
        max_length=8, choices=PresenceState.choices, default=PresenceState.OFFLINE
    )
    # Open WebSocket connections (tabs) of this user in this session, across processes.
    connections = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="unique_participant")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.session_id}"


class SessionEvent(models.Model):
    """One numbered change in a session; the envelope clients get is built from it."""

    session = models.ForeignKey(ReadingSession, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="unique_session_seq")
        ]

    def __str__(self) -> str:
        return f"{self.session_id} #{self.seq} {self.type}"

    def envelope(self) -> dict:
        return {"type": self.type, "seq": self.seq, "payload": self.payload}


class ChatMessage(models.Model):
    """Chat beside the images; kept with the study, so it outlives the session."""

    study = models.ForeignKey(
        "studies.Study", on_delete=models.CASCADE, related_name="chat_messages"
    )
    session = models.ForeignKey(
        ReadingSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"
