"""Reviewed AI results of one job as a DICOM SR Measurement Report (PS3.16 TID 1500).

Each reviewed finding is one measurement group with the algorithm identification
(TID 4019: model name, revision, generation parameters) and its review state as a
qualitative evaluation: boxes as Planar ROI groups (TID 1410) on their image,
text findings as groups (TID 1501) whose source images are the images the model
read, the text in a TEXT content item. Stored through the normal ingest, so
DICOMweb serves it (OHIF and others read it). Reuses the annotation export's
geometry and observer helpers (``reading.annotations.sr``).
"""

from __future__ import annotations

import io
import json

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes

from reading.ai.models import AIJob
from reading.annotations.models import Annotation, ReviewState, Tool
from reading.annotations.services import AnnotationError
from reading.annotations.sr import (
    _observation_context,
    _uid_from_uuid,
    comprehensive_3d_sr_bytes,
    graphic_for,
)
from reading.studies import storage
from reading.studies.models import Instance

SR_SERIES_NUMBER = 9901
SCHEME = "99RRAI"  # private coding scheme (PS3.16 8.2): no standard code for review states
REVIEW_STATE = hd.sr.CodedConcept("RRAI-REVIEW", SCHEME, "AI result review state")
STATES = {
    ReviewState.ACCEPTED: hd.sr.CodedConcept("RRAI-ACCEPTED", SCHEME, "Accepted by reviewer"),
    ReviewState.EDITED: hd.sr.CodedConcept("RRAI-EDITED", SCHEME, "Edited and accepted"),
    ReviewState.REJECTED: hd.sr.CodedConcept("RRAI-REJECTED", SCHEME, "Rejected by reviewer"),
}
FINDING_TEXT = hd.sr.CodedConcept("121071", "DCM", "Finding")


def _algorithm(job: AIJob) -> hd.sr.AlgorithmIdentification:
    params = {**(job.parameters or {}), "task": job.task, "device": job.device}
    if job.random_weights:
        params["random_weights"] = True
    return hd.sr.AlgorithmIdentification(
        name=(job.model_id.rstrip("/").split("/")[-1] or "MedGemma")[:64],
        version=(job.model_revision or "unknown")[:64],
        parameters=[f"{k}={json.dumps(v)}"[:64] for k, v in sorted(params.items())],
    )


def _group(annotation: Annotation, instance: Instance, algorithm) -> hd.sr.Template:
    evaluation = [hd.sr.QualitativeEvaluation(REVIEW_STATE, STATES[annotation.review_state])]
    tracking = hd.sr.TrackingIdentifier(
        uid=_uid_from_uuid(annotation.pk),
        identifier=(annotation.label or annotation.get_tool_display())[:64],
    )
    frames = [annotation.frame_number] if (instance.number_of_frames or 1) > 1 else None
    if annotation.tool == Tool.AI_BOX:
        graphic_type, graphic_data = graphic_for(annotation)
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_region=hd.sr.ImageRegion(
                graphic_type=graphic_type,
                graphic_data=graphic_data,
                source_image=hd.sr.SourceImageForRegion(
                    referenced_sop_class_uid=instance.sop_class_uid,
                    referenced_sop_instance_uid=instance.sop_instance_uid,
                    referenced_frame_numbers=frames,
                ),
            ),
            finding_type=codes.SCT.Finding,
            algorithm_id=algorithm,
            qualitative_evaluations=evaluation,
        )
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        finding_type=codes.SCT.Finding,
        algorithm_id=algorithm,
        qualitative_evaluations=evaluation,
        source_images=[
            hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=instance.sop_class_uid,
                referenced_sop_instance_uid=instance.sop_instance_uid,
                referenced_frame_numbers=frames,
            )
        ],
    )
    group[0].ContentSequence.append(
        hd.sr.TextContentItem(
            name=FINDING_TEXT,
            value=(annotation.text or annotation.label)[:1024],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
    )
    return group


def build_job_report(job: AIJob, observer=None) -> bytes:
    """The job's reviewed findings as a Comprehensive 3D SR Part 10 file (bytes)."""
    annotations = list(
        Annotation.objects.filter(ai_link__job=job, deleted_at__isnull=True)
        .exclude(review_state__in=[ReviewState.PENDING, ReviewState.NONE])
        .order_by("ai_link__index")
    )
    if not annotations:
        raise AnnotationError("no reviewed findings to export: review them first.")
    instances = {
        i.sop_instance_uid: i
        for i in Instance.objects.filter(
            series__study_id=job.study_id,
            sop_instance_uid__in={a.sop_instance_uid for a in annotations},
        )
    }
    evidence = [
        pydicom.dcmread(io.BytesIO(storage.read_all(i.file_path)), stop_before_pixels=True)
        for i in instances.values()
    ]
    algorithm = _algorithm(job)
    groups = [
        _group(a, instances[a.sop_instance_uid], algorithm)
        for a in annotations
        if a.sop_instance_uid in instances
    ]
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(annotations[0], observer),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
    )
    return comprehensive_3d_sr_bytes(evidence, report, "AI results (reviewed)", SR_SERIES_NUMBER)


def export_job_sr(job: AIJob, *, actor, request=None):
    """Build and store the SR through the one ingest path; returns its ``IngestResult``."""
    from reading.audit.models import AuditAction
    from reading.audit.services import record_access
    from reading.studies.services import ingest_instance

    raw = build_job_report(job, observer=actor)
    result = ingest_instance(raw, name=f"ai-job-{job.pk}.dcm")
    if not result.ok:
        raise AnnotationError(f"storing the report failed: {result.reason}")
    record_access(
        actor,
        AuditAction.EXPORT,
        study=job.study,
        request=request,
        detail=f"ai-sr:{job.pk}:{result.sop_instance_uid}",
    )
    return result
