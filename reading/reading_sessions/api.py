"""REST API for sessions: create/list, invite, join by link, end, event and chat history."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reading.reading_sessions import chat, eventlog, services
from reading.reading_sessions.access import (
    get_session_for_user,
    invited_or_joined,
    sessions_for_user,
)
from reading.reading_sessions.models import SessionStatus
from reading.reading_sessions.serializers import (
    ChatMessageSerializer,
    InviteSerializer,
    SessionCreateSerializer,
    SessionSerializer,
)
from reading.studies.access import get_study_for_user

MAX_EVENTS_PAGE = 1000


def _with_participants(qs):
    return qs.prefetch_related("participants__user")


class SessionList(ListAPIView):
    """``GET /api/sessions/?study=<uid>&status=active&mine=1``; ``POST`` starts one."""

    serializer_class = SessionSerializer

    def get_queryset(self):
        qs = _with_participants(sessions_for_user(self.request.user))
        params = self.request.query_params
        if params.get("study"):
            qs = qs.filter(study=get_study_for_user(self.request.user, params["study"]))
        if params.get("status") in SessionStatus.values:
            qs = qs.filter(status=params["status"])
        if params.get("mine") in ("1", "true"):
            qs = qs.filter(invited_or_joined(self.request.user)).distinct()
        return qs.order_by("-created_at")

    def post(self, request):
        incoming = SessionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        study = get_study_for_user(request.user, data["study_instance_uid"])
        try:
            session = services.create_session(
                study=study,
                host=request.user,
                title=data.get("title", ""),
                invite=data.get("invite"),
            )
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from exc
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetail(APIView):
    def get(self, request, session_id):
        return Response(SessionSerializer(get_session_for_user(request.user, session_id)).data)


class SessionInvite(APIView):
    """``POST {"usernames": [...]}``: the host or a participant invites colleagues."""

    def post(self, request, session_id):
        session = get_session_for_user(request.user, session_id)
        incoming = InviteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            users = services.invite_users(
                session, by=request.user, usernames=incoming.validated_data["usernames"]
            )
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from exc
        except services.SessionError as exc:
            raise ValidationError({"detail": [str(exc)]}) from exc
        return Response({"invited": sorted(u.username for u in users)})


class SessionJoin(APIView):
    """``POST /api/sessions/join/<token>/``: redeem an invite link."""

    def post(self, request, token):
        session = services.join_by_invite(request.user, token)
        return Response(SessionSerializer(session).data)


class SessionEnd(APIView):
    def post(self, request, session_id):
        session = get_session_for_user(request.user, session_id)
        try:
            session = services.end_session(session, by=request.user)
        except PermissionDenied:
            raise
        return Response(SessionSerializer(session).data)


class SessionEvents(APIView):
    """``GET ?after=N&limit=M``: stored events after ``N``, oldest first."""

    def get(self, request, session_id):
        session = get_session_for_user(request.user, session_id)
        try:
            after = max(int(request.query_params.get("after", 0)), 0)
            limit = min(
                max(int(request.query_params.get("limit", MAX_EVENTS_PAGE)), 1), MAX_EVENTS_PAGE
            )
        except ValueError as exc:
            raise ValidationError({"detail": ["after and limit are integers."]}) from exc
        events = eventlog.events_after(session.pk, after, limit=limit)
        return Response({"last_seq": session.last_seq, "events": events})


class SessionChat(ListAPIView):
    """Chat of the session's study, across all its sessions, oldest first."""

    serializer_class = ChatMessageSerializer

    def get_queryset(self):
        session = get_session_for_user(self.request.user, self.kwargs["session_id"])
        return chat.chat_for_study(self.request.user, session.study)


class StudyChat(ListAPIView):
    serializer_class = ChatMessageSerializer

    def get_queryset(self):
        study = get_study_for_user(self.request.user, self.kwargs["study_uid"])
        return chat.chat_for_study(self.request.user, study)
