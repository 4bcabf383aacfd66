"""Reading a received DICOM file into what the archive indexes.

Pure functions over bytes and pydicom datasets; no database access here.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
from dataclasses import dataclass, field
from datetime import date, time

import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR (PS3.10 8.6), not an instance
PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Elements larger than this are kept out of the stored metadata and served as bulk data.
BULK_THRESHOLD = 4096


# Failure statuses of PS3.4 B.2.3 (C-STORE), which STOW-RS answers as Failure Reason
# (PS3.18 Table 10.5.3-4): the type of a refused input, for callers to branch on.
DUPLICATE_SOP_INSTANCE = 0x0111  # Warning/Failure: same SOP Instance UID, other content
SOP_CLASS_NOT_SUPPORTED = 0x0122  # Refused: SOP Class not supported
OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
DATASET_DOES_NOT_MATCH = 0xA900  # Error: Data Set does not match SOP Class
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot understand
TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122  # Cxxx with the low bits naming the cause


class DicomInputError(Exception):
    """The input is not a DICOM instance the archive can store; ``str()`` says why (for
    people) and ``status`` is its DICOM failure status (for code)."""

    def __init__(self, message: str, status: int = CANNOT_UNDERSTAND):
        super().__init__(message)
        self.status = status


@dataclass
class ParsedInstance:
    """What ingest needs from one DICOM Part 10 file."""

    dataset: Dataset
    sha256: str
    size: int
    transfer_syntax_uid: str
    pixel_data_offset: int | None = None
    pixel_data_length: int | None = None
    frame_offsets: list[list[list[int]]] | None = None
    metadata: dict = field(default_factory=dict)


def _valid_uid(value: object) -> bool:
    text = str(value or "")
    return 0 < len(text) <= 64 and bool(UID_RE.match(text))


def parse_dicom_date(value: object) -> date | None:
    """DA (PS3.5 6.2) to a date; None when empty or malformed."""
    text = str(value or "").strip().replace(".", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_dicom_time(value: object) -> time | None:
    """TM (PS3.5 6.2) to a time; None when empty or malformed."""
    text = str(value or "").strip().replace(":", "")
    if not text:
        return None
    main, _, frac = text.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6):
        return None
    hh, mm, ss = int(main[:2]), int(main[2:4] or 0), int(main[4:6] or 0)
    micro = int((frac + "000000")[:6]) if frac.isdigit() else 0
    try:
        return time(hh, mm, min(ss, 59), micro)
    except ValueError:
        return None


def _bulk_handler(element) -> str:
    # Placeholder resolved to an absolute BulkDataURI by the DICOMweb layer.
    return f"bulk:{element.tag:08X}"


def _raw_pixel_element(ds: Dataset):
    for keyword in PIXEL_TAGS:
        if keyword in ds:
            return ds.get_item(keyword)
    return None


def _pixel_location(raw: bytes, elem, tsyntax: UID, frames: int):
    """Offset/length of the pixel data value and per-frame fragment positions.

    Encapsulated pixel data (PS3.5 A.4): a Basic Offset Table item then one or
    more fragments. Frames are grouped by the offset table when present, one
    fragment per frame when counts match, or all fragments when single-frame.
    """
    if elem is None:
        return None, None, None
    value_tell = getattr(elem, "value_tell", None)
    if value_tell is None or tsyntax.is_deflated:
        return None, None, None
    if not tsyntax.is_encapsulated:
        length = elem.length
        if value_tell + length > len(raw):
            raise DicomInputError("truncated: pixel data ends before its declared length")
        return value_tell, length, None

    # Undefined length: the value runs to the sequence delimiter; find it by walking items.
    pos = value_tell
    endian = "<"
    offsets_table = parse_basic_offsets(raw[pos:], endianness=endian)
    tag, bot_len = struct.unpack("<II", raw[pos : pos + 8])
    first_fragment = pos + 8 + bot_len
    nr, positions = parse_fragments(raw[first_fragment:], endianness=endian)
    fragments = []
    for rel in positions:
        start = first_fragment + rel
        (flen,) = struct.unpack("<I", raw[start + 4 : start + 8])
        if start + 8 + flen > len(raw):
            raise DicomInputError("truncated: an encapsulated pixel data fragment is cut short")
        fragments.append([start + 8, flen])
    if not fragments:
        raise DicomInputError("encapsulated pixel data has no fragments")
    end = fragments[-1][0] + fragments[-1][1] + 8  # the sequence delimiter item
    if frames == 1:
        grouped = [fragments]
    elif len(fragments) == frames:
        grouped = [[f] for f in fragments]
    elif len(offsets_table) == frames:
        starts = [first_fragment + o for o in offsets_table]
        grouped = [[] for _ in range(frames)]
        for frag in fragments:
            item_start = frag[0] - 8
            index = max(i for i, s in enumerate(starts) if s <= item_start)
            grouped[index].append(frag)
    else:
        grouped = None  # served by decoding the encapsulated buffer instead
    return value_tell, end - value_tell, grouped


def _check_last_element_complete(ds: Dataset, raw: bytes) -> None:
    """pydicom stops quietly at the end of the file, cutting the last value short
    and dropping a partial element header.

    A file cut anywhere but inside the pixel data would otherwise be stored as
    if complete; the last element's declared length (PS3.5 7.1) tells.
    """
    if not len(ds):
        return
    meta = getattr(ds, "file_meta", None)
    tsyntax = UID(str(getattr(meta, "TransferSyntaxUID", "") or ""))
    if not tsyntax.is_transfer_syntax or tsyntax.is_deflated:
        return  # reported below, or offsets that refer to the inflated stream
    last = ds.get_item(list(ds.keys())[-1])
    tell, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if tell is None or length is None or length == 0xFFFFFFFF:
        return
    end = tell + length
    if end > len(raw):
        raise DicomInputError(f"truncated: the file ends inside element {last.tag}")
    if raw[end:].strip(b"\x00"):  # zero padding after the data set is harmless
        raise DicomInputError(f"truncated: the file ends inside the element after {last.tag}")


def _check_geometry(ds: Dataset) -> None:
    """Pixel data needs an image of at least one row and one column (PS3.3 C.7.6.3.1)."""
    try:
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    except (TypeError, ValueError):
        rows = columns = 0
    if rows < 1 or columns < 1:
        raise DicomInputError(
            f"invalid Image Pixel module (PS3.3 C.7.6.3): Rows = {ds.get('Rows')!r}, "
            f"Columns = {ds.get('Columns')!r}; both must be at least 1 with pixel data"
        )


def add_missing_preamble(raw: bytes) -> bytes:
    """Prefix a zeroed 128-byte preamble to a file that starts with "DICM" (PS3.10 7.1)."""
    if raw[:4] == b"DICM" and raw[128:132] != b"DICM":
        return bytes(128) + raw
    return raw


def read_instance(raw: bytes, *, max_bytes: int) -> ParsedInstance:
    """Parse and validate one DICOM Part 10 file.

    Raises
    ------
    DicomInputError
        With a reason a user can act on: not DICOM, truncated, missing UIDs,
        unsupported transfer syntax or SOP class, too large.
    """
    if len(raw) > max_bytes:
        raise DicomInputError(
            f"too large: {len(raw)} bytes, the limit is {max_bytes}", OUT_OF_RESOURCES
        )
    if len(raw) < 132:
        raise DicomInputError("not a DICOM file: too short to hold a DICOM header")
    try:
        ds = pydicom.dcmread(io.BytesIO(raw), force=False)
        # Before any value is converted: the raw element still knows its file offset.
        pixel_elem = _raw_pixel_element(ds)
        _check_last_element_complete(ds, raw)
        tsyntax, frames = _check_identity(ds)
        location = _check_pixels(ds, raw, pixel_elem, tsyntax, frames)
        # DICOM JSON (PS3.18 F.2) converts every other element, nested ones included:
        # bad values surface here, in the one pass over the data set.
        metadata = ds.to_json_dict(BULK_THRESHOLD, _bulk_handler)
    except DicomInputError:
        raise
    except InvalidDicomError:
        raise DicomInputError("not a DICOM file: no DICM prefix (PS3.10 7.1)") from None
    except RecursionError:
        raise DicomInputError("malformed DICOM: sequences nested too deeply") from None
    except (EOFError, struct.error, OSError) as exc:
        raise DicomInputError(f"truncated or malformed DICOM: {exc}") from None
    except Exception as exc:  # pydicom raises many types on corrupt input
        raise DicomInputError(f"malformed DICOM: {type(exc).__name__}: {exc}") from None

    for keyword in PIXEL_TAGS:
        tag = f"{pydicom.datadict.tag_for_keyword(keyword):08X}"
        if tag in metadata:
            metadata[tag] = {"vr": metadata[tag]["vr"], "BulkDataURI": f"bulk:{tag}"}
    offset, length, frame_offsets = location
    return ParsedInstance(
        dataset=ds,
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        transfer_syntax_uid=str(tsyntax),
        pixel_data_offset=offset,
        pixel_data_length=length,
        frame_offsets=frame_offsets,
        metadata=metadata,
    )


def _check_identity(ds: Dataset) -> tuple[UID, int]:
    """Transfer syntax, UIDs, SOP class, Modality and Number of Frames (PS3.10 7.1,
    PS3.3 C.12.1); returns the transfer syntax and the number of frames."""
    meta = getattr(ds, "file_meta", None)
    tsyntax = UID(str(getattr(meta, "TransferSyntaxUID", "") or ""))
    if not tsyntax:
        raise DicomInputError(
            "missing Transfer Syntax UID (0002,0010) in the file meta", DATASET_DOES_NOT_MATCH
        )
    if not tsyntax.is_transfer_syntax:
        raise DicomInputError(
            f"unsupported transfer syntax {tsyntax}", TRANSFER_SYNTAX_NOT_SUPPORTED
        )

    missing = [
        kw
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
        if not _valid_uid(ds.get(kw))
    ]
    if missing:
        raise DicomInputError("missing or invalid " + ", ".join(missing), DATASET_DOES_NOT_MATCH)
    if str(ds.SOPClassUID) == MEDIA_STORAGE_DIRECTORY:
        raise DicomInputError(
            "unsupported: a DICOMDIR is an index, not an instance", SOP_CLASS_NOT_SUPPORTED
        )
    if not str(ds.get("Modality", "") or "").strip():
        raise DicomInputError("missing Modality (0008,0060)", DATASET_DOES_NOT_MATCH)
    try:
        return tsyntax, int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise DicomInputError(
            f"invalid Number of Frames (0028,0008): {ds.get('NumberOfFrames')!r}"
        ) from None


def _check_pixels(ds: Dataset, raw: bytes, pixel_elem, tsyntax: UID, frames: int):
    """Where the pixel data lies, checked against the Image Pixel module (PS3.3 C.7.6.3)."""
    try:
        offset, length, frame_offsets = _pixel_location(raw, pixel_elem, tsyntax, frames)
    except DicomInputError:
        raise
    except Exception as exc:
        raise DicomInputError(f"malformed pixel data: {exc}") from None
    if pixel_elem is not None:
        _check_geometry(ds)
    if offset is not None and not tsyntax.is_encapsulated and "Rows" in ds:
        try:
            expected = (
                int(ds.Rows)
                * int(ds.Columns)
                * frames
                * int(ds.get("SamplesPerPixel", 1))
                * int(ds.get("BitsAllocated", 16))
                // 8
            )
        except (AttributeError, TypeError, ValueError):
            raise DicomInputError(
                "invalid Image Pixel module (PS3.3 C.7.6.3): Rows, Columns, Samples per "
                "Pixel and Bits Allocated must all be present"
            ) from None
        if length < expected:
            raise DicomInputError(
                f"truncated: pixel data holds {length} bytes, {expected} expected"
            )
    return offset, length, frame_offsets


def dataset_to_part10(ds: Dataset) -> bytes:
    """Encode a dataset (e.g. from C-STORE) as a DICOM Part 10 file (PS3.10 7)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
