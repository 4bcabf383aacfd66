"""Patient, study and series rows for arriving instances, and the instance row itself.

Used by the ingest (``reading.studies.services``) inside its transaction; an
instance that contradicts what the archive holds (its study under another
patient, its series in another study) is refused and leaves no row behind.
"""

from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction
from django.db.models import F

from reading.studies.dicomio import ParsedInstance, parse_dicom_date, parse_dicom_time
from reading.studies.models import Instance, Patient, Series, Study

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


def text(ds, keyword: str, limit: int) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def floats(ds, keyword: str) -> list[float] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return [float(v) for v in (value if hasattr(value, "__iter__") else [value])]
    except (TypeError, ValueError):
        return None


def number(ds, keyword: str) -> float | None:
    value = ds.get(keyword)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def integer(ds, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def same_patient(patient: Patient, patient_id: str, issuer: str) -> bool:
    """Whether an instance's Patient ID and Issuer of Patient ID name ``patient``.

    IDs are only unique within their issuer (PS3.3 C.7.1.1): two different
    issuers mean two patients; an issuer missing on either side does not tell
    them apart, so the ID alone decides.
    """
    if patient.patient_id != patient_id:
        return False
    return not (issuer and patient.issuer_of_patient_id and issuer != patient.issuer_of_patient_id)


def check_existing_study(study: Study, ds) -> None:
    patient = study.patient
    patient_id, issuer = text(ds, "PatientID", 64), text(ds, "IssuerOfPatientID", 64)
    if not same_patient(patient, patient_id, issuer):
        theirs = f"{patient_id}" + (f" (issuer {issuer})" if issuer else "")
        ours = patient.patient_id + (
            f" (issuer {patient.issuer_of_patient_id})" if patient.issuer_of_patient_id else ""
        )
        raise PatientMismatch(
            f"patient mismatch: study {study.study_instance_uid} belongs to Patient ID "
            f"{ours!r}, this instance says {theirs!r}; refused"
        )


def check_existing_series(series: Series, study: Study) -> None:
    if series.study_id != study.pk:
        raise HierarchyError(
            f"series {series.series_instance_uid} belongs to another study than "
            f"{study.study_instance_uid}; refused"
        )


def _create_study(ds) -> tuple[Study, bool]:
    """The study row (and its patient's) for an instance of a study not seen before."""
    patient_fields = {
        "patient_name": text(ds, "PatientName", 324),
        "patient_birth_date": parse_dicom_date(ds.get("PatientBirthDate")),
        "patient_sex": text(ds, "PatientSex", 16),
    }
    patient, _ = Patient.objects.get_or_create(
        patient_id=text(ds, "PatientID", 64),
        issuer_of_patient_id=text(ds, "IssuerOfPatientID", 64),
        defaults=patient_fields,
    )
    study, created = Study.objects.get_or_create(
        study_instance_uid=str(ds.StudyInstanceUID),
        defaults={
            "patient": patient,
            **patient_fields,
            "accession_number": text(ds, "AccessionNumber", 64),
            "study_id": text(ds, "StudyID", 64),
            "study_date": parse_dicom_date(ds.get("StudyDate")),
            "study_time": parse_dicom_time(ds.get("StudyTime")),
            "study_description": text(ds, "StudyDescription", 256),
            "body_part_examined": text(ds, "BodyPartExamined", 64),
            "referring_physician_name": text(ds, "ReferringPhysicianName", 324),
            "institution_name": text(ds, "InstitutionName", 128),
        },
    )
    if not created:
        check_existing_study(study, ds)  # created meanwhile by a concurrent ingest
    return study, created


def upsert_hierarchy(ds) -> tuple[Study, Series, bool]:
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
        check_existing_study(existing, ds)
        study, created_study = existing, False
    else:
        study, created_study = _create_study(ds)
    modality = text(ds, "Modality", 16)
    series, created_series = Series.objects.get_or_create(
        series_instance_uid=str(ds.SeriesInstanceUID),
        defaults={
            "study": study,
            "modality": modality,
            "series_number": integer(ds, "SeriesNumber"),
            "series_description": text(ds, "SeriesDescription", 256),
            "body_part_examined": text(ds, "BodyPartExamined", 64),
            "series_date": parse_dicom_date(ds.get("SeriesDate")),
            "frame_of_reference_uid": text(ds, "FrameOfReferenceUID", 64),
        },
    )
    check_existing_series(series, study)  # one created just now is in this study
    if created_series:
        updates = {"number_of_study_related_series": F("number_of_study_related_series") + 1}
        if modality and modality not in study.modalities:
            study.modalities_in_study = "\\".join(sorted({*study.modalities, modality}))
            updates["modalities_in_study"] = study.modalities_in_study
        if not study.body_part_examined and series.body_part_examined:
            updates["body_part_examined"] = series.body_part_examined
        Study.objects.filter(pk=study.pk).update(**updates)
    return study, series, created_study


class Hierarchy:
    """``upsert_hierarchy`` for the instances of one transaction, each study and series
    looked up (or created) once: the second slice of a series is checked in memory
    against the rows the first one found, with the same refusals."""

    def __init__(self, *, savepoints: bool = True) -> None:
        self.savepoints = savepoints
        self._studies: dict[str, Study] = {}
        self._series: dict[str, Series] = {}
        self.created: set[int] = set()  # studies created in this transaction

    def resolve(self, ds) -> tuple[Study, Series]:
        study = self._studies.get(str(ds.StudyInstanceUID))
        series = self._series.get(str(ds.SeriesInstanceUID))
        if study is not None and series is not None:
            check_existing_study(study, ds)
            check_existing_series(series, study)
            return study, series
        # A savepoint: a refused instance leaves no row behind when the others are kept.
        with transaction.atomic() if self.savepoints else nullcontext():
            study, series, created = upsert_hierarchy(ds)
        self._studies[study.study_instance_uid] = study
        self._series[series.series_instance_uid] = series
        if created:
            self.created.add(study.pk)
        return study, series


def instance_row(parsed: ParsedInstance, series: Series, relpath: str) -> Instance:
    """The (unsaved) row of a parsed instance stored at ``relpath``."""
    ds = parsed.dataset
    return Instance(
        sop_instance_uid=str(ds.SOPInstanceUID),
        series=series,
        sop_class_uid=str(ds.SOPClassUID),
        instance_number=integer(ds, "InstanceNumber"),
        transfer_syntax_uid=parsed.transfer_syntax_uid,
        rows=integer(ds, "Rows"),
        columns=integer(ds, "Columns"),
        number_of_frames=integer(ds, "NumberOfFrames") or 1,
        image_position_patient=floats(ds, "ImagePositionPatient"),
        image_orientation_patient=floats(ds, "ImageOrientationPatient"),
        pixel_spacing=floats(ds, "PixelSpacing"),
        slice_thickness=number(ds, "SliceThickness"),
        slice_location=number(ds, "SliceLocation"),
        photometric_interpretation=text(ds, "PhotometricInterpretation", 32),
        bits_allocated=integer(ds, "BitsAllocated"),
        pixel_data_offset=parsed.pixel_data_offset,
        pixel_data_length=parsed.pixel_data_length,
        frame_offsets=parsed.frame_offsets,
        metadata=parsed.metadata,
        file_path=relpath,
        file_size=parsed.size,
        sha256=parsed.sha256,
    )
