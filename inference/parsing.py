"""Robust parsers for MedGemma's answers.

A model answer can be clean JSON, JSON inside a Markdown code fence, JSON cut
off by the token limit, or prose. Every parser returns a :class:`Parsed` that
keeps the raw text; ``status`` says how far parsing got:

- ``parsed``: the answer was read in full;
- ``partial``: truncated JSON, the complete elements were salvaged;
- ``unparsed``: nothing usable; only ``raw`` is meaningful.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PARSED, PARTIAL, UNPARSED = "parsed", "partial", "unparsed"

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


@dataclass
class Parsed:
    status: str
    data: Any
    raw: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != UNPARSED


def _repair_truncated(text: str) -> Any:
    """Close a JSON document cut off mid-way, dropping the incomplete last element.

    Scans the text keeping a stack of open brackets; remembers the last position
    where an element was complete (after a closing bracket or a complete value
    before a comma) and closes the open brackets from there. A list item that is an
    object is kept only if it was complete.
    """
    stack: list[str] = []
    in_string = escape = False
    cut_points: list[tuple[int, list[str]]] = []
    for i, ch in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}":
            if not stack:
                break
            stack.pop()
            cut_points.append((i + 1, list(stack)))
        elif ch == ",":
            cut_points.append((i, list(stack)))
    for position, open_brackets in reversed(cut_points):
        # An object inside a list is an item (a box, a finding): never close one half-read.
        pairs = zip(open_brackets, open_brackets[1:], strict=False)
        if any(a == "[" and b == "{" for a, b in pairs):
            continue
        candidate = text[:position].rstrip().rstrip(",")
        closing = "".join("]" if b == "[" else "}" for b in reversed(open_brackets))
        try:
            return json.loads(candidate + closing)
        except ValueError:
            continue
    raise ValueError("no complete element")


def extract_json(raw: str) -> Parsed:
    """Find the JSON value in a model answer (plain, fenced, embedded in prose or truncated)."""
    text = raw.strip()
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] or []
    candidates.append(text)
    errors: list[str] = []
    for candidate in candidates:
        start = min((i for i in (candidate.find("["), candidate.find("{")) if i >= 0), default=-1)
        if start < 0:
            continue
        body = candidate[start:]
        try:
            value, _ = json.JSONDecoder().raw_decode(body)
            return Parsed(PARSED, value, raw)
        except ValueError as exc:
            errors.append(f"json: {exc}")
        try:
            return Parsed(PARTIAL, _repair_truncated(body), raw, errors)
        except ValueError as exc:
            errors.append(f"repair: {exc}")
    return Parsed(UNPARSED, None, raw, errors or ["no JSON found"])


def _clean_text(raw: str, headings: tuple[str, ...]) -> str:
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced and text.startswith("```"):
        text = fenced.group(1).strip()
    for heading in headings:
        text = re.sub(rf"^\**{heading}\**\s*:?\**\s*", "", text, flags=re.IGNORECASE)
    return text.strip()


def parse_text(raw: str, headings: tuple[str, ...] = ()) -> Parsed:
    """Free-text answers (findings, impression): strip fences and a leading heading."""
    text = _clean_text(raw, headings)
    if not text:
        return Parsed(UNPARSED, None, raw, ["empty answer"])
    return Parsed(PARSED, text, raw)


def parse_findings(raw: str) -> Parsed:
    return parse_text(raw, ("findings",))


def parse_impression(raw: str) -> Parsed:
    return parse_text(raw, ("impression",))


def _box(item: Any) -> dict | None:
    if not isinstance(item, dict):
        return None
    box = item.get("box_2d")
    if not isinstance(box, list | tuple) or len(box) != 4:
        return None
    try:
        y0, x0, y1, x1 = (min(max(float(v), 0.0), 1000.0) for v in box)
    except (TypeError, ValueError):
        return None
    if y0 > y1:
        y0, y1 = y1, y0
    if x0 > x1:
        x0, x1 = x1, x0
    if y1 - y0 <= 0 or x1 - x0 <= 0:
        return None
    image = item.get("image", 1)
    try:
        image = int(image)
    except (TypeError, ValueError):
        image = 1
    return {"box_2d": [y0, x0, y1, x1], "label": str(item.get("label", "")).strip(), "image": image}


def parse_localisation(raw: str) -> Parsed:
    """A list of ``{"box_2d": [y0, x0, y1, x1], "label": ...}`` (0-1000); invalid items dropped."""
    found = extract_json(raw)
    if not found.ok:
        return found
    value = found.data
    if isinstance(value, dict):
        nested = next((v for v in value.values() if isinstance(v, list)), None)
        value = nested if nested is not None and "box_2d" not in value else [value]
    if not isinstance(value, list):
        return Parsed(UNPARSED, None, raw, found.errors + ["not a list of boxes"])
    boxes = [b for b in (_box(item) for item in value) if b is not None]
    dropped = len(value) - len(boxes)
    errors = found.errors + ([f"{dropped} invalid item(s) dropped"] if dropped else [])
    if not boxes and value:
        return Parsed(UNPARSED, None, raw, errors)
    return Parsed(found.status, boxes, raw, errors)


COMPARISON_KEYS = ("new", "resolved", "changed", "unchanged", "summary")


def parse_comparison(raw: str) -> Parsed:
    """``{"new": [...], "resolved": [...], "changed": [...], "unchanged": [...], "summary": ""}``."""
    found = extract_json(raw)
    if not found.ok or not isinstance(found.data, dict):
        return Parsed(UNPARSED, None, raw, found.errors or ["not an object"])
    data: dict[str, Any] = {}
    for key in COMPARISON_KEYS:
        value = found.data.get(key)
        if key == "summary":
            data[key] = str(value or "").strip()
        else:
            items = value if isinstance(value, list) else ([value] if value else [])
            data[key] = [str(v).strip() for v in items if str(v).strip()]
    if not any(data.values()):
        return Parsed(UNPARSED, None, raw, found.errors + ["no comparison keys"])
    return Parsed(found.status, data, raw, found.errors)
