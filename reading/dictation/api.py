"""Stored dictation over REST: utterances, their segments and audio ("click a sentence,
hear it"). Access is the study's (``reading.dictation.access``)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.urls import reverse
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from reading.dictation import services
from reading.dictation.access import get_utterance_for_user, utterances_for_study


def _utterance(u, request, segments=None) -> dict:
    data = {
        "id": str(u.pk),
        "stream": str(u.stream_id),
        "user": services.user_ref(u.user),
        "session": str(u.session_id) if u.session_id else None,
        "study_instance_uid": u.study.study_instance_uid,
        "started_at": u.started_at.isoformat(),
        "ended_at": u.ended_at.isoformat() if u.ended_at else None,
        "duration_s": round(u.duration_s, 3),
        "audio_url": reverse("dictation:audio", args=[u.pk]) if u.audio else None,
        "segments_url": reverse("dictation:utterance", args=[u.pk]),
    }
    if segments is not None:
        data["segments"] = [
            {k: getattr(s, k) for k in ("id", "n", "segment", "text", "ops", "words", "start")}
            | {"end": s.end, "decoder": s.decoder, "random_weights": s.random_weights}
            for s in segments
        ]
        data["text"] = " ".join(s.text for s in segments if s.text)
    return data


class Utterances(APIView):
    """``GET ?study=<uid>``: the study's utterances, newest first (at most 200)."""

    def get(self, request):
        study_uid = request.query_params.get("study")
        if not study_uid:
            raise ValidationError({"study": "required"})
        qs = utterances_for_study(request.user, study_uid).select_related("study")[:200]
        return Response({"results": [_utterance(u, request) for u in qs]})


class UtteranceDetail(APIView):
    def get(self, request, utterance_id):
        utterance = get_utterance_for_user(request.user, utterance_id)
        segments = list(utterance.segments.order_by("start", "n"))
        return Response(_utterance(utterance, request, segments))


class UtteranceAudio(APIView):
    """The utterance's WAV (16 kHz mono int16), also while it is still being dictated."""

    def get(self, request, utterance_id):
        utterance = get_utterance_for_user(request.user, utterance_id)
        data = services.wav_bytes(utterance)
        if data is None:
            raise Http404("This utterance's audio is no longer kept.")
        response = HttpResponse(data, content_type="audio/wav")
        response["Content-Disposition"] = f'inline; filename="{utterance.pk}.wav"'
        response["Cache-Control"] = "private, no-store"
        return response
