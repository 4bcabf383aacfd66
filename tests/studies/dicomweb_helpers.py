"""DICOMweb test helpers: sample files with new UIDs, their frames, multipart bodies, STOW-RS
requests, DICOM JSON lookups (shared by the DICOMweb test modules)."""

from __future__ import annotations

import io

import pydicom
from django.test import Client
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid

from reading.studies.dicomweb.media import iter_multipart, parse_media_type

COMPRESSED_FILES = [
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_rle_2frame.dcm",
]
DICOM_JSON = "application/dicom+json"


def sample_with_new_uids(name: str, study_uid: str | None = None) -> pydicom.Dataset:
    """A pydicom sample file with fresh UIDs (several samples share theirs)."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def source_frames(ds: pydicom.Dataset) -> list[bytes]:
    """The frames of a dataset as stored: compressed fragments or native bytes."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return list(generate_frames(ds.PixelData, number_of_frames=n))
    size = len(ds.PixelData) // n
    return [ds.PixelData[i * size : (i + 1) * size] for i in range(n)]


def split_multipart(response) -> list[tuple[str, bytes]]:
    """(part Content-Type, payload) of a multipart/related response."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    _, params = parse_media_type(response["Content-Type"])
    stream = io.BytesIO(body)
    return [
        (part.content_type, part.payload)
        for part in iter_multipart(stream.read, params["boundary"])
        if part.complete
    ]


def stow_body(payloads: list[bytes], boundary: str = "stowboundary42") -> bytes:
    chunks = []
    for payload in payloads:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), payload]
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def stow(client: Client, payloads: list[bytes], url: str = "/dicomweb/studies", **headers):
    boundary = "stowboundary42"
    return client.post(
        url,
        data=stow_body(payloads, boundary),
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
        headers={"Accept": DICOM_JSON, **headers},
    )


def seq_items(payload: dict, tag: str) -> list[dict]:
    return payload.get(tag, {}).get("Value", [])


def value(item: dict, tag: str):
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]


def frames_url(ds, frames="1"):
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frames}"
    )
