"""REST representation of sessions; participant and chat dicts are also event payloads."""

from __future__ import annotations

from rest_framework import serializers

from reading.annotations.serializers import UserRefSerializer
from reading.reading_sessions.models import (
    ChatMessage,
    Participant,
    ReadingSession,
    SessionEvent,
)


class ParticipantSerializer(serializers.ModelSerializer):
    user = UserRefSerializer()

    class Meta:
        model = Participant
        fields = ["user", "role", "colour", "state", "joined_at", "left_at", "last_seen_at"]
        read_only_fields = fields


class SessionSummarySerializer(serializers.ModelSerializer):
    """Event payload of session.started/ended: no participants, no invite link."""

    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    host = UserRefSerializer()
    presenter = UserRefSerializer(allow_null=True)

    class Meta:
        model = ReadingSession
        fields = [
            "id",
            "study_instance_uid",
            "title",
            "host",
            "presenter",
            "status",
            "created_at",
            "ended_at",
        ]
        read_only_fields = fields


class SessionSerializer(SessionSummarySerializer):
    """A session as REST answers it: the summary plus participants, viewport and links."""

    participants = ParticipantSerializer(many=True)
    invite_url = serializers.SerializerMethodField()
    viewer_url = serializers.SerializerMethodField()

    class Meta(SessionSummarySerializer.Meta):
        fields = [
            *SessionSummarySerializer.Meta.fields,
            "last_seq",
            "viewport",
            "participants",
            "invite_url",
            "viewer_url",
        ]
        read_only_fields = fields

    def get_invite_url(self, session: ReadingSession) -> str:
        return f"/sessions/join/{session.invite_token}/"

    def get_viewer_url(self, session: ReadingSession) -> str:
        return viewer_url(session)


class ChatMessageSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(allow_null=True)
    session_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = ChatMessage
        fields = ["id", "session_id", "author", "text", "created_at"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionEvent
        fields = ["type", "seq", "payload"]
        read_only_fields = fields


class SessionCreateSerializer(serializers.Serializer):
    study_instance_uid = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    invite = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, max_length=50
    )


class InviteSerializer(serializers.Serializer):
    usernames = serializers.ListField(
        child=serializers.CharField(max_length=150), min_length=1, max_length=50
    )


def viewer_url(session: ReadingSession) -> str:
    return f"/viewer/{session.study.study_instance_uid}/?session={session.pk}"
