"""REST representation of AI jobs and reviews; the same dicts are the payloads of ``ai.*`` events."""

from __future__ import annotations

from rest_framework import serializers

from reading.ai.models import AIJob, AIReview, Task
from reading.annotations.serializers import UserRefSerializer, annotation_payload


class AIJobSerializer(serializers.ModelSerializer):
    job_id = serializers.UUIDField(source="pk")
    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    prior_study_instance_uid = serializers.CharField(
        source="prior_study.study_instance_uid", allow_null=True, default=None
    )
    requested_by = UserRefSerializer(allow_null=True)
    session_id = serializers.UUIDField(source="session.pk", allow_null=True, default=None)
    progress = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()

    class Meta:
        model = AIJob
        fields = [
            "job_id",
            "study_instance_uid",
            "series_instance_uid",
            "prior_study_instance_uid",
            "task",
            "input_text",
            "parameters",
            "requested_by",
            "trigger",
            "session_id",
            "status",
            "stage",
            "progress",
            "text",
            "tokens",
            "result",
            "error_kind",
            "error",
            "model_id",
            "model_revision",
            "device",
            "random_weights",
            "attempts",
            "images_used",
            "created_at",
            "started_at",
            "first_token_at",
            "finished_at",
            "findings",
        ]
        read_only_fields = fields

    def get_progress(self, job: AIJob) -> dict:
        return {
            "stage": job.stage,
            "done": job.progress_done,
            "total": job.progress_total,
            "eta_seconds": (job.provenance or {}).get("eta_seconds"),
            "estimate": (job.provenance or {}).get("estimate"),
        }

    def get_findings(self, job: AIJob) -> list[str]:
        links = getattr(job, "_prefetched_objects_cache", {}).get("findings")
        if links is None:
            links = job.findings.all()
        return [str(link.annotation_id) for link in links]


class AIReviewSerializer(serializers.ModelSerializer):
    annotation_id = serializers.CharField()
    reviewer = UserRefSerializer(allow_null=True)

    class Meta:
        model = AIReview
        fields = [
            "id",
            "annotation_id",
            "reviewer",
            "reviewer_role",
            "decision",
            "kind",
            "previous_state",
            "changes",
            "comment",
            "created_at",
        ]
        read_only_fields = fields


class AIRequestSerializer(serializers.Serializer):
    study_instance_uid = serializers.CharField(max_length=64)
    series_instance_uid = serializers.CharField(max_length=64, required=False, allow_blank=True)
    task = serializers.ChoiceField(choices=Task.choices)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    text = serializers.CharField(max_length=8000, required=False, allow_blank=True)
    parameters = serializers.DictField(required=False)


class AIEstimateRequestSerializer(serializers.Serializer):
    study = serializers.CharField(max_length=64)
    series = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    task = serializers.ChoiceField(choices=Task.choices, default=Task.FINDINGS)
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=1024, required=False)


class AIReviewRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "edit", "reject"])
    changes = serializers.DictField(required=False)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True)
    session_id = serializers.UUIDField(required=False, allow_null=True)


def job_payload(job: AIJob) -> dict:
    return dict(AIJobSerializer(job).data)


def finding_payload(annotation, reviews=None, job=None) -> dict:
    """An AI finding: the annotation, its job id and its whole review history."""
    if reviews is None:
        reviews = AIReview.objects.select_related("reviewer").filter(annotation=annotation)
    link = getattr(annotation, "ai_link", None)
    return {
        "job_id": str(job.pk if job is not None else (link.job_id if link else "")),
        "index": link.index if link else None,
        "annotation": annotation_payload(annotation),
        "reviews": [dict(AIReviewSerializer(r).data) for r in reviews],
    }
