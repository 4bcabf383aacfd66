"""REST shapes of the worklist. ``WorklistRowSerializer`` is also every event's payload."""

from __future__ import annotations

from datetime import date

from rest_framework import serializers

from reading.worklist.models import Priority, ReadingItem, ReadingStatus, SavedWorklist, Worklist


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": str(user)}


def patient_age(birth: date | None, on: date | None) -> str:
    """Age at the study in DICOM Age String style (PS3.5 6.2 AS): 066Y, 011M, 020D."""
    if birth is None or on is None or on < birth:
        return ""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years >= 2:
        return f"{years:03d}Y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 1:
        return f"{months:03d}M"
    return f"{(on - birth).days:03d}D"


class WorklistRowSerializer(serializers.Serializer):
    """One worklist row, from a ReadingItem with study, patient and people selected."""

    def to_representation(self, item: ReadingItem) -> dict:
        study = item.study
        own = study.display_patient()  # the study's own Patient module (PS3.3 C.7.1.1)
        dt = item.study_datetime
        return {
            "study_instance_uid": study.study_instance_uid,
            "priority": item.priority,
            "priority_label": Priority(item.priority).label,
            "patient_name": own["name"],
            "patient_id": own["id"],
            "patient_age": patient_age(own["birth_date"], study.study_date),
            "patient_sex": own["sex"],
            "accession_number": study.accession_number,
            "modality": " ".join(study.modalities),
            "body_part": study.body_part_examined,
            "description": study.study_description,
            "study_datetime": dt.isoformat() if dt else None,
            "images": study.number_of_study_related_instances,
            "reading_status": item.reading_status,
            "reading_status_label": ReadingStatus(item.reading_status).label,
            "claimed_by": _person(item.claimed_by),
            "claimed_at": item.claimed_at.isoformat() if item.claimed_at else None,
            "assigned_to": _person(item.assigned_to),
            "ai_status": item.ai_status,
            "report_status": item.report_status,
            # An unacknowledged critical result (annotated by queries.with_rows).
            "critical": bool(getattr(item, "critical_open", False)),
            "version": item.version,
            "viewer_url": f"/viewer/{study.study_instance_uid}/",
        }


class SavedWorklistSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavedWorklist
        fields = ["id", "name", "query"]


class DepartmentWorklistSerializer(serializers.ModelSerializer):
    class Meta:
        model = Worklist
        fields = ["id", "name", "description", "modalities", "body_parts", "priorities"]
        fields += ["referring_location"]


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReadingStatus.choices)


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


class ReassignSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()


class BulkAssignSerializer(serializers.Serializer):
    study_instance_uids = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=1000
    )
    user_id = serializers.IntegerField(allow_null=True, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)


class SaveWorklistSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    query = serializers.CharField(max_length=1000, allow_blank=True)
