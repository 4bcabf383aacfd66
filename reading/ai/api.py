"""REST API of AI jobs and the review of their findings. Access goes through the study."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from reading.ai import reviews, services
from reading.ai.access import get_job_for_user, jobs_for_user
from reading.ai.errors import AIRequestError
from reading.ai.models import AIReview
from reading.ai.serializers import (
    AIEstimateRequestSerializer,
    AIRequestSerializer,
    AIReviewRequestSerializer,
    finding_payload,
    job_payload,
)
from reading.annotations.access import annotations_qs, get_annotation_for_user
from reading.annotations.services import AnnotationError
from reading.studies.access import get_study_for_user

MAX_LISTED = 50


def _refused(exc: Exception):
    if isinstance(exc, DjangoValidationError):
        return ValidationError({"detail": exc.messages})
    return ValidationError({"detail": [str(exc)]})


class Jobs(APIView):
    """``GET ?study=<uid>``: the study's latest jobs; ``POST``: request an analysis."""

    def get(self, request):
        study = get_study_for_user(request.user, request.query_params.get("study", ""))
        jobs = jobs_for_user(request.user).filter(study=study).order_by("-created_at")
        return Response({"results": [job_payload(j) for j in jobs[:MAX_LISTED]]})

    def post(self, request):
        incoming = AIRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            job = services.request_analysis(
                request.user,
                data["study_instance_uid"],
                data.get("series_instance_uid", ""),
                data["task"],
                session=data.get("session_id"),
                text=data.get("text", ""),
                parameters=data.get("parameters"),
                request=request,
            )
        except AIRequestError as exc:
            raise _refused(exc) from exc
        job = get_job_for_user(request.user, job.pk)
        return Response(job_payload(job), status=status.HTTP_201_CREATED)


class Estimate(APIView):
    """``GET ?study=&series=&task=[&max_new_tokens=]``: how long it would take, before asking."""

    def get(self, request):
        from reading.ai.estimate import estimate

        incoming = AIEstimateRequestSerializer(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        study = get_study_for_user(request.user, data["study"])
        tokens = data.get("max_new_tokens") or services.DEFAULT_NEW_TOKENS[data["task"]]
        return Response(estimate(study, data["series"], data["task"], tokens))


class JobDetail(APIView):
    def get(self, request, job_id):
        return Response(job_payload(get_job_for_user(request.user, job_id)))


class JobCancel(APIView):
    def post(self, request, job_id):
        job = services.cancel_job(get_job_for_user(request.user, job_id), by=request.user)
        return Response(job_payload(get_job_for_user(request.user, job.pk)))


class JobFindings(APIView):
    """The job's findings with their review histories (one query each, not per finding)."""

    def get(self, request, job_id):
        job = get_job_for_user(request.user, job_id)
        ids = [link.annotation_id for link in job.findings.all()]
        annotations = {
            a.pk: a for a in annotations_qs().select_related("ai_link").filter(pk__in=ids)
        }
        history: dict = {}
        for review in AIReview.objects.select_related("reviewer").filter(annotation_id__in=ids):
            history.setdefault(review.annotation_id, []).append(review)
        return Response(
            {
                "job": job_payload(job),
                "findings": [
                    finding_payload(annotations[i], history.get(i, []), job)
                    for i in ids
                    if i in annotations
                ],
            }
        )


class FindingReview(APIView):
    """``POST {decision, changes?, comment?, session_id?}`` on an AI finding."""

    def post(self, request, annotation_id):
        annotation = get_annotation_for_user(request.user, annotation_id)
        incoming = AIReviewRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        session = None
        if data.get("session_id"):
            from reading.reading_sessions.access import get_session_for_user

            session = get_session_for_user(request.user, data["session_id"])
        try:
            annotation, _ = reviews.review_finding(
                annotation,
                reviewer=request.user,
                decision=data["decision"],
                changes=data.get("changes") or None,
                comment=data.get("comment", ""),
                session=session,
                request=request,
            )
        except (DjangoValidationError, AnnotationError) as exc:
            raise _refused(exc) from exc
        return Response(finding_payload(annotation))


class JobExportSR(APIView):
    """Store the job's reviewed findings as a DICOM SR (TID 1500) in the study."""

    def post(self, request, job_id):
        from reading.ai.sr import export_job_sr

        job = get_job_for_user(request.user, job_id)
        try:
            result = export_job_sr(job, actor=request.user, request=request)
        except (AnnotationError, ValueError) as exc:
            raise _refused(exc) from exc
        return Response(
            {
                "sop_instance_uid": result.sop_instance_uid,
                "series_instance_uid": result.series_instance_uid,
                "study_instance_uid": result.study_instance_uid,
            },
            status=status.HTTP_201_CREATED,
        )
