"""pydicom's bundled sample files, filed as one demo study.

The files ship inside the installed pydicom package (``pydicom/data/test_files``);
nothing is downloaded. Many of them share UIDs and patients, so each copy gets
the demo patient, one study, its own series and a fixed SOP Instance UID.
Pixel data and transfer syntax are kept exactly as they are.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pydicom.data

from reading.studies.demo.writers import StudyInfo

# File name, and why it is here: one file per transfer syntax the viewer must decode.
SAMPLE_FILES = (
    ("CT_small.dcm", "CT, Explicit VR Little Endian"),
    ("MR_small_implicit.dcm", "MR, Implicit VR Little Endian"),
    ("MR_small_RLE.dcm", "MR, RLE Lossless"),
    ("JPGExtended.dcm", "NM, JPEG Extended (12-bit)"),
    ("SC_rgb_jpeg_dcmtk.dcm", "RGB, JPEG Baseline"),
    ("SC_rgb_jpeg_gdcm.dcm", "RGB, JPEG Lossless SV1"),
    ("MR_small_jpeg_ls_lossless.dcm", "MR, JPEG-LS Lossless"),
    ("MR_small_jp2klossless.dcm", "MR, JPEG 2000 Lossless"),
    ("JPEG2000.dcm", "NM, JPEG 2000"),
    ("examples_ybr_color.dcm", "US cine, JPEG Baseline, 30 frames"),
)


@dataclass(frozen=True)
class SampleFile:
    name: str
    description: str
    path: Path


def sample_dir() -> Path:
    return Path(pydicom.data.__file__).resolve().parent / "test_files"


def available_samples() -> list[SampleFile]:
    """The sample files present in the installed pydicom (never downloaded)."""
    root = sample_dir()
    return [
        SampleFile(name, description, root / name)
        for name, description in SAMPLE_FILES
        if (root / name).is_file()
    ]


def sample_instance(study: StudyInfo, index: int, sample: SampleFile) -> bytes:
    """The sample file re-filed under the demo patient and study (series ``index + 1``)."""
    ds = pydicom.dcmread(sample.path)
    series = index + 1
    sop_uid = study.sop_uid(series, 1)
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = study.series_uid(series)
    if "FrameOfReferenceUID" in ds:
        ds.FrameOfReferenceUID = study.frame_of_reference_uid(series)
    ds.PatientName = study.patient.name
    ds.PatientID = study.patient.patient_id
    ds.IssuerOfPatientID = "RRTH"
    ds.PatientBirthDate = study.patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = study.patient.sex
    ds.AccessionNumber = study.accession
    ds.StudyID = study.accession[-6:]
    ds.StudyDate = study.when.strftime("%Y%m%d")
    ds.StudyTime = study.when.strftime("%H%M%S")
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = study.referring
    ds.InstitutionName = "Reading Room Teaching Hospital"
    ds.SeriesNumber = series
    ds.InstanceNumber = 1
    ds.SeriesDescription = f"{sample.description} ({sample.name})"
    if not str(ds.get("Modality", "") or "").strip():
        ds.Modality = "OT"
    buffer = io.BytesIO()
    # Written in the file's own transfer syntax; encapsulated pixel data is copied as is.
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
