"""REST API for annotations. Access goes through the study access functions."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from reading.annotations import services
from reading.annotations.access import annotations_qs, get_annotation_for_user
from reading.annotations.serializers import (
    AnnotationCreateSerializer,
    AnnotationSerializer,
    AnnotationUpdateSerializer,
    ReviewSerializer,
    annotation_payload,
)
from reading.studies.access import get_study_for_user


def _service_errors(exc: Exception):
    if isinstance(exc, DjangoValidationError):
        return ValidationError({"detail": exc.messages})
    return ValidationError({"detail": [str(exc)]})


class StudyAnnotations(ListAPIView):
    """``GET`` the study's annotations (``?sop_instance_uid=``, ``?include_deleted=1``);
    ``POST`` a new one."""

    serializer_class = AnnotationSerializer

    def get_queryset(self):
        study = get_study_for_user(self.request.user, self.kwargs["study_uid"])
        qs = annotations_qs().filter(study=study)
        params = self.request.query_params
        if params.get("include_deleted") not in ("1", "true"):
            qs = qs.filter(deleted_at__isnull=True)
        if params.get("sop_instance_uid"):
            qs = qs.filter(sop_instance_uid=params["sop_instance_uid"])
        return qs.order_by("created_at", "id")

    def post(self, request, study_uid: str):
        study = get_study_for_user(request.user, study_uid)
        incoming = AnnotationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            annotation = services.create_annotation(
                study=study,
                author=request.user,
                data=dict(incoming.validated_data),
                request=request,
            )
        except (DjangoValidationError, services.AnnotationError) as exc:
            raise _service_errors(exc) from exc
        return Response(annotation_payload(annotation), status=status.HTTP_201_CREATED)


class AnnotationDetail(APIView):
    def get(self, request, annotation_id):
        return Response(annotation_payload(get_annotation_for_user(request.user, annotation_id)))

    def patch(self, request, annotation_id):
        annotation = get_annotation_for_user(request.user, annotation_id)
        incoming = AnnotationUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        try:
            annotation = services.update_annotation(
                annotation,
                actor=request.user,
                changes=dict(incoming.validated_data),
                request=request,
            )
        except (DjangoValidationError, services.AnnotationError) as exc:
            raise _service_errors(exc) from exc
        return Response(annotation_payload(annotation))

    def delete(self, request, annotation_id):
        annotation = get_annotation_for_user(request.user, annotation_id)
        services.delete_annotation(annotation, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationReview(APIView):
    def post(self, request, annotation_id):
        annotation = get_annotation_for_user(request.user, annotation_id)
        incoming = ReviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = incoming.validated_data.get("changes")
        try:
            annotation = services.review_annotation(
                annotation,
                reviewer=request.user,
                decision=incoming.validated_data["decision"],
                changes=dict(changes) if changes else None,
                request=request,
            )
        except (DjangoValidationError, services.AnnotationError) as exc:
            raise _service_errors(exc) from exc
        return Response(annotation_payload(annotation))


class AnnotationExportSR(APIView):
    def post(self, request, annotation_id):
        annotation = get_annotation_for_user(request.user, annotation_id)
        try:
            result = services.export_annotation_sr(annotation, actor=request.user, request=request)
        except (services.AnnotationError, ValueError) as exc:
            raise _service_errors(exc) from exc
        return Response(
            {
                "annotation": annotation_payload(annotation),
                "sop_instance_uid": result.sop_instance_uid,
                "series_instance_uid": result.series_instance_uid,
                "study_instance_uid": result.study_instance_uid,
                "sop_class_uid": result.sop_class_uid,
            },
            status=status.HTTP_201_CREATED,
        )
