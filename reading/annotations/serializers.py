"""REST representation of annotations; the same dict is the payload of realtime events."""

from __future__ import annotations

from rest_framework import serializers

from reading.annotations.models import Annotation, Tool


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    username = serializers.CharField()
    display_name = serializers.CharField(source="__str__")
    role = serializers.CharField()


class AnnotationSerializer(serializers.ModelSerializer):
    """Output of every annotation endpoint and of ``annotation.*`` session events."""

    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    author = UserRefSerializer(allow_null=True)
    reviewed_by = UserRefSerializer(allow_null=True)
    updated_by = UserRefSerializer(allow_null=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "study_instance_uid",
            "series_instance_uid",
            "sop_instance_uid",
            "frame_number",
            "tool",
            "geometry",
            "label",
            "text",
            "measurements",
            "source",
            "author",
            "provenance",
            "review_state",
            "reviewed_by",
            "reviewed_at",
            "updated_by",
            "version",
            "sr_sop_instance_uid",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


class AnnotationCreateSerializer(serializers.Serializer):
    """Input shape for creating; the service does the checks that need the database."""

    id = serializers.UUIDField(required=False)
    series_instance_uid = serializers.CharField(max_length=64, required=False)
    sop_instance_uid = serializers.CharField(max_length=64)
    frame_number = serializers.IntegerField(min_value=1, default=1)
    tool = serializers.ChoiceField(choices=Tool.choices)
    geometry = serializers.JSONField()
    label = serializers.CharField(max_length=256, required=False, allow_blank=True)
    text = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    measurements = serializers.JSONField(required=False)


class AnnotationUpdateSerializer(serializers.Serializer):
    geometry = serializers.JSONField(required=False)
    label = serializers.CharField(max_length=256, required=False, allow_blank=True)
    text = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    measurements = serializers.JSONField(required=False)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "edit", "reject"])
    changes = AnnotationUpdateSerializer(required=False)


def annotation_payload(annotation: Annotation) -> dict:
    """The JSON-ready dict clients get over REST and in session events."""
    return dict(AnnotationSerializer(annotation).data)
