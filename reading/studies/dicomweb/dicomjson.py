"""DICOM JSON (PS3.18 F.2) elements and the BulkDataURI placeholders of stored metadata."""

from __future__ import annotations

import functools
from datetime import date, time

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

BULK_PREFIX = "bulk:"


@functools.lru_cache(maxsize=4096)  # a few dozen attributes, in every search answer
def tag_hex(keyword_or_tag: str) -> str | None:
    """``"PatientID"`` or ``"00100020"`` -> ``"00100020"``; None when unknown."""
    text = keyword_or_tag.strip()
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    tag = tag_for_keyword(text)
    return f"{tag:08X}" if tag is not None else None


def keyword(tag: str) -> str:
    return keyword_for_tag(int(tag, 16)) or tag


@functools.lru_cache(maxsize=4096)
def vr_of(tag: str) -> str:
    try:
        return dictionary_VR(int(tag, 16)).split(" or ")[0]
    except KeyError:
        return "UN"


def element(tag: str, value) -> dict:
    """One DICOM JSON element from a Python value (empty values carry no "Value")."""
    vr = vr_of(tag)
    if value is None or value == "" or value == []:
        return {"vr": vr}
    values = value if isinstance(value, list) else [value]
    if vr == "PN":
        values = [{"Alphabetic": str(v)} for v in values]
    elif vr == "DA":
        values = [v.strftime("%Y%m%d") if isinstance(v, date) else str(v) for v in values]
    elif vr == "TM":
        values = [_format_time(v) if isinstance(v, time) else str(v) for v in values]
    elif vr in ("IS", "SL", "SS", "UL", "US", "SV", "UV"):
        values = [int(v) for v in values]
    elif vr in ("DS", "FL", "FD"):
        values = [float(v) for v in values]
    else:
        values = [str(v) for v in values]
    return {"vr": vr, "Value": values}


def _format_time(value: time) -> str:
    text = value.strftime("%H%M%S")
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def resolve_bulk(metadata: dict, instance_url: str, _path: str = "") -> dict:
    """Copy of stored metadata with ``bulk:TAG`` placeholders as absolute BulkDataURIs.

    Nested elements get a path through their sequences
    (``.../bulkdata/SEQTAG/ITEM/TAG``), served by the bulkdata view.
    """
    out = {}
    for tag, elem in metadata.items():
        uri = elem.get("BulkDataURI")
        if isinstance(uri, str) and uri.startswith(BULK_PREFIX):
            out[tag] = {
                "vr": elem.get("vr", "UN"),
                "BulkDataURI": f"{instance_url}/bulkdata/{_path}{tag}",
            }
        elif elem.get("vr") == "SQ" and elem.get("Value"):
            out[tag] = {
                "vr": "SQ",
                "Value": [
                    resolve_bulk(item, instance_url, f"{_path}{tag}/{index}/")
                    for index, item in enumerate(elem["Value"])
                ],
            }
        else:
            out[tag] = elem
    return out


def first_value(metadata: dict, keyword_name: str, default=None):
    tag = tag_hex(keyword_name)
    values = (metadata.get(tag) or {}).get("Value") or []
    return values[0] if values else default
