"""DICOM test data built in code (write, then read back in the tests)."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)


def make_dataset(
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    modality: str = "CT",
    sop_class_uid: str = CTImageStorage,
    rows: int = 32,
    columns: int = 32,
    instance_number: int = 1,
    z: float = 0.0,
    patient_id: str = "MRN0001",
    patient_name: str = "Test^Patient",
    accession: str = "ACC0001",
    study_date: date = date(2026, 11, 20),
    pixels: np.ndarray | None = None,
    study_description: str = "CT CHEST W/O CONTRAST",
    series_description: str = "Axial 1mm",
    body_part: str = "CHEST",
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class_uid
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.AccessionNumber = accession
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.StudyDescription = study_description
    ds.SeriesDescription = series_description
    ds.ReferringPhysicianName = "Ref^Doctor"
    ds.BodyPartExamined = body_part
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [-100.0, -100.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.0
    ds.SliceLocation = z
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    if pixels is None:
        yy, xx = np.mgrid[0:rows, 0:columns]
        pixels = ((xx + yy + instance_number) % 256 * 8).astype(np.int16)
    ds.PixelData = pixels.astype(np.int16).tobytes()
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def make_ct_series(n: int = 5, **kwargs) -> list[Dataset]:
    study_uid = kwargs.pop("study_uid", None) or generate_uid()
    series_uid = kwargs.pop("series_uid", None) or generate_uid()
    return [
        make_dataset(
            study_uid=study_uid, series_uid=series_uid, instance_number=i + 1, z=float(i), **kwargs
        )
        for i in range(n)
    ]
