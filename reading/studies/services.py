"""Writes to the archive. ``ingest_instance`` is the one path every ingest takes
(STOW-RS, browser upload, import_dicom, the C-STORE listener, demo seeding)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from reading.studies import storage
from reading.studies.dicomio import (
    DicomInputError,
    ParsedInstance,
    add_missing_preamble,
    parse_dicom_date,
    parse_dicom_time,
    read_instance,
)
from reading.studies.models import Instance, Patient, Series, Study
from reading.studies.signals import instance_stored

log = logging.getLogger(__name__)


class IngestStatus:
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass
class IngestResult:
    status: str
    reason: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    instance_id: int | None = None
    name: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (IngestStatus.STORED, IngestStatus.DUPLICATE)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


def _text(ds, keyword: str, limit: int) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _floats(ds, keyword: str) -> list[float] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return [float(v) for v in (value if hasattr(value, "__iter__") else [value])]
    except (TypeError, ValueError):
        return None


def _float(ds, keyword: str) -> float | None:
    value = ds.get(keyword)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _int(ds, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _existing_result(
    existing: Instance, parsed: ParsedInstance, result: IngestResult
) -> IngestResult:
    if existing.sha256 == parsed.sha256:
        result.status = IngestStatus.DUPLICATE
        result.reason = "identical instance already stored"
    else:
        result.status = IngestStatus.CONFLICT
        result.reason = (
            "conflict: an instance with this SOP Instance UID and different content is "
            "already stored; the stored copy was kept"
        )
    result.instance_id = existing.pk
    return result


def _upsert_hierarchy(ds) -> tuple[Study, Series, bool]:
    patient, _ = Patient.objects.get_or_create(
        patient_id=_text(ds, "PatientID", 64),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID", 64),
        defaults={
            "patient_name": _text(ds, "PatientName", 324),
            "patient_birth_date": parse_dicom_date(ds.get("PatientBirthDate")),
            "patient_sex": _text(ds, "PatientSex", 16),
        },
    )
    study, created_study = Study.objects.get_or_create(
        study_instance_uid=str(ds.StudyInstanceUID),
        defaults={
            "patient": patient,
            "accession_number": _text(ds, "AccessionNumber", 64),
            "study_id": _text(ds, "StudyID", 64),
            "study_date": parse_dicom_date(ds.get("StudyDate")),
            "study_time": parse_dicom_time(ds.get("StudyTime")),
            "study_description": _text(ds, "StudyDescription", 256),
            "body_part_examined": _text(ds, "BodyPartExamined", 64),
            "referring_physician_name": _text(ds, "ReferringPhysicianName", 324),
            "institution_name": _text(ds, "InstitutionName", 128),
        },
    )
    modality = _text(ds, "Modality", 16)
    series, created_series = Series.objects.get_or_create(
        series_instance_uid=str(ds.SeriesInstanceUID),
        defaults={
            "study": study,
            "modality": modality,
            "series_number": _int(ds, "SeriesNumber"),
            "series_description": _text(ds, "SeriesDescription", 256),
            "body_part_examined": _text(ds, "BodyPartExamined", 64),
            "series_date": parse_dicom_date(ds.get("SeriesDate")),
            "frame_of_reference_uid": _text(ds, "FrameOfReferenceUID", 64),
        },
    )
    if created_series:
        updates = {"number_of_study_related_series": F("number_of_study_related_series") + 1}
        if modality and modality not in study.modalities:
            study.modalities_in_study = "\\".join(sorted({*study.modalities, modality}))
            updates["modalities_in_study"] = study.modalities_in_study
        if not study.body_part_examined and series.body_part_examined:
            updates["body_part_examined"] = series.body_part_examined
        Study.objects.filter(pk=study.pk).update(**updates)
    return study, series, created_study


def ingest_instance(raw: bytes, *, name: str = "") -> IngestResult:
    """Validate and store one DICOM Part 10 file, exactly as received.

    Identical re-sends are no-ops; the same SOP Instance UID with different
    content is a conflict and leaves the stored copy alone. The file and the
    row both exist or neither does (an orphan file is removed on failure).
    A file sent without its 128-byte preamble (some DICOMweb clients do) is
    stored with a zeroed one, so that every stored file is valid Part 10.
    """
    result = IngestResult(status=IngestStatus.FAILED, name=name)
    raw = add_missing_preamble(raw)
    try:
        parsed = read_instance(raw, max_bytes=settings.DICOM_MAX_INSTANCE_BYTES)
    except DicomInputError as exc:
        result.reason = str(exc)
        return result
    ds = parsed.dataset
    result.sop_instance_uid = str(ds.SOPInstanceUID)
    result.sop_class_uid = str(ds.SOPClassUID)
    result.study_instance_uid = str(ds.StudyInstanceUID)
    result.series_instance_uid = str(ds.SeriesInstanceUID)

    existing = Instance.objects.filter(sop_instance_uid=result.sop_instance_uid).first()
    if existing is not None:
        return _existing_result(existing, parsed, result)

    relpath = storage.instance_relpath(
        result.study_instance_uid,
        result.series_instance_uid,
        result.sop_instance_uid,
        parsed.sha256,
    )
    try:
        storage.write_atomic(relpath, raw)
    except OSError as exc:
        result.reason = f"storage error: {exc}"
        return result
    try:
        with transaction.atomic():
            study, series, created_study = _upsert_hierarchy(ds)
            instance = Instance.objects.create(
                sop_instance_uid=result.sop_instance_uid,
                series=series,
                sop_class_uid=result.sop_class_uid,
                instance_number=_int(ds, "InstanceNumber"),
                transfer_syntax_uid=parsed.transfer_syntax_uid,
                rows=_int(ds, "Rows"),
                columns=_int(ds, "Columns"),
                number_of_frames=_int(ds, "NumberOfFrames") or 1,
                image_position_patient=_floats(ds, "ImagePositionPatient"),
                image_orientation_patient=_floats(ds, "ImageOrientationPatient"),
                pixel_spacing=_floats(ds, "PixelSpacing"),
                slice_thickness=_float(ds, "SliceThickness"),
                slice_location=_float(ds, "SliceLocation"),
                photometric_interpretation=_text(ds, "PhotometricInterpretation", 32),
                bits_allocated=_int(ds, "BitsAllocated"),
                pixel_data_offset=parsed.pixel_data_offset,
                pixel_data_length=parsed.pixel_data_length,
                frame_offsets=parsed.frame_offsets,
                metadata=parsed.metadata,
                file_path=relpath,
                file_size=parsed.size,
                sha256=parsed.sha256,
            )
            Series.objects.filter(pk=series.pk).update(
                number_of_series_related_instances=F("number_of_series_related_instances") + 1
            )
            Study.objects.filter(pk=study.pk).update(
                number_of_study_related_instances=F("number_of_study_related_instances") + 1
            )
            transaction.on_commit(
                lambda: instance_stored.send(
                    sender=Instance, study_id=study.pk, created_study=created_study
                )
            )
    except IntegrityError:
        # Lost a race with a concurrent ingest of the same SOP Instance UID.
        existing = Instance.objects.filter(sop_instance_uid=result.sop_instance_uid).first()
        if existing is None:
            storage.remove(relpath)
            result.reason = "database integrity error while storing"
            return result
        if existing.file_path != relpath:
            storage.remove(relpath)
        return _existing_result(existing, parsed, result)
    except BaseException:
        storage.remove(relpath)
        raise
    result.status = IngestStatus.STORED
    result.instance_id = instance.pk
    return result
