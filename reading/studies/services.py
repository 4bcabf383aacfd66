"""Writes to the archive. ``ingest_instance`` is the one path every ingest takes
(STOW-RS, browser upload, import_dicom, the C-STORE listener, demo seeding)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from reading.studies import storage
from reading.studies.dicomio import (
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
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


# Failure statuses an ingest itself decides (PS3.4 B.2.3: Cxxx is "Error: Cannot
# understand", the low bits naming the cause); C-STORE and STOW-RS answer them as is.
PATIENT_MISMATCH = 0xC409  # the study (or series) belongs to another patient
HIERARCHY_MISMATCH = 0xC40A  # the series belongs to another study


class HierarchyError(Exception):
    """An instance that contradicts what the archive holds; refused, nothing stored."""

    status = HIERARCHY_MISMATCH


class PatientMismatch(HierarchyError):
    """The instance's Patient ID (0010,0020) / Issuer (0010,0021) are not its study's."""

    status = PATIENT_MISMATCH


@dataclass
class IngestResult:
    status: str
    reason: str = ""
    # The DICOM failure status of a refused instance (PS3.4 B.2.3); None when not refused.
    failure_status: int | None = None
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


def same_patient(patient: Patient, patient_id: str, issuer: str) -> bool:
    """Whether an instance's Patient ID and Issuer of Patient ID name ``patient``.

    IDs are only unique within their issuer (PS3.3 C.7.1.1): two different
    issuers mean two patients; an issuer missing on either side does not tell
    them apart, so the ID alone decides.
    """
    if patient.patient_id != patient_id:
        return False
    return not (issuer and patient.issuer_of_patient_id and issuer != patient.issuer_of_patient_id)


def _check_existing_study(study: Study, ds) -> None:
    patient = study.patient
    patient_id, issuer = _text(ds, "PatientID", 64), _text(ds, "IssuerOfPatientID", 64)
    if not same_patient(patient, patient_id, issuer):
        theirs = f"{patient_id}" + (f" (issuer {issuer})" if issuer else "")
        ours = patient.patient_id + (
            f" (issuer {patient.issuer_of_patient_id})" if patient.issuer_of_patient_id else ""
        )
        raise PatientMismatch(
            f"patient mismatch: study {study.study_instance_uid} belongs to Patient ID "
            f"{ours!r}, this instance says {theirs!r}; refused"
        )


def _create_study(ds) -> tuple[Study, bool]:
    """The study row (and its patient's) for an instance of a study not seen before."""
    patient_fields = {
        "patient_name": _text(ds, "PatientName", 324),
        "patient_birth_date": parse_dicom_date(ds.get("PatientBirthDate")),
        "patient_sex": _text(ds, "PatientSex", 16),
    }
    patient, _ = Patient.objects.get_or_create(
        patient_id=_text(ds, "PatientID", 64),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID", 64),
        defaults=patient_fields,
    )
    study, created = Study.objects.get_or_create(
        study_instance_uid=str(ds.StudyInstanceUID),
        defaults={
            "patient": patient,
            **patient_fields,
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
    if not created:
        _check_existing_study(study, ds)  # created meanwhile by a concurrent ingest
    return study, created


def _upsert_hierarchy(ds) -> tuple[Study, Series, bool]:
    """Patient, study and series rows for ``ds``, refusing contradictions.

    Raises
    ------
    PatientMismatch
        The study exists under another patient.
    HierarchyError
        The series exists in another study.
    """
    existing = (
        Study.objects.select_related("patient")
        .filter(study_instance_uid=str(ds.StudyInstanceUID))
        .first()
    )
    if existing is not None:
        _check_existing_study(existing, ds)
        study, created_study = existing, False
    else:
        study, created_study = _create_study(ds)
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
    if not created_series and series.study_id != study.pk:
        raise HierarchyError(
            f"series {series.series_instance_uid} belongs to another study than "
            f"{study.study_instance_uid}; refused"
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


_batch = threading.local()


def _arrived(study_id: int, created_study: bool) -> None:
    pending = getattr(_batch, "pending", None)
    if pending is None:
        instance_stored.send(sender=Instance, study_id=study_id, created_study=created_study)
    else:
        pending[study_id] = pending.get(study_id, False) or created_study


@contextmanager
def coalesced_arrivals() -> Iterator[None]:
    """Within the block, ``instance_stored`` goes out once per study, when it ends.

    For batches whose receivers care about the study, not each instance (the
    worklist refreshes its row, the AI rules look at a new study): a STOW-RS
    request or an upload of 200 slices sends one signal instead of 200.
    ``created_study`` is True when any instance of the batch created the study.
    """
    if getattr(_batch, "pending", None) is not None:
        yield  # nested: the outer block sends
        return
    _batch.pending = {}
    try:
        yield
    finally:
        pending, _batch.pending = _batch.pending, None
        for study_id, created in pending.items():
            instance_stored.send(sender=Instance, study_id=study_id, created_study=created)


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
        result.failure_status = exc.status
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
        result.failure_status = OUT_OF_RESOURCES
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
            transaction.on_commit(lambda: _arrived(study.pk, created_study))
    except HierarchyError as exc:
        storage.remove(relpath)
        result.reason = str(exc)
        result.failure_status = exc.status
        return result
    except IntegrityError:
        # Lost a race with a concurrent ingest of the same SOP Instance UID.
        existing = Instance.objects.filter(sop_instance_uid=result.sop_instance_uid).first()
        if existing is None:
            storage.remove(relpath)
            result.reason = "database integrity error while storing"
            result.failure_status = CANNOT_UNDERSTAND
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
