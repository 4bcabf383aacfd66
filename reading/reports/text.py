"""The report's plain-text format: sections, ``«…»`` fields, display text, word diff.

A heading is a line of capitals ending with a colon (``FINDINGS:``). Fields:
``«a|b|c»`` pick list (first option is the default), ``«___»`` blank,
``«__ mm»`` number with a unit. Pure functions: no Django.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass

HEADING = re.compile(r"^([A-Z][A-Z0-9 /&()\-]*):\s*$", re.MULTILINE)
FIELD = re.compile(r"«([^«»\n]*)»")
BLANK = re.compile(r"^_+$")
NUMBER = re.compile(r"^_+\s+(\S.*)$")
TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass
class Field:
    section: str
    kind: str  # "choice" | "blank" | "number"
    raw: str
    start: int
    end: int
    options: list[str]
    default: str
    unit: str

    def as_dict(self) -> dict:
        return asdict(self)


def _field(raw_inner: str, section: str, start: int, end: int) -> Field:
    raw = f"«{raw_inner}»"
    inner = raw_inner.strip()
    if "|" in inner:
        options = [o.strip() for o in inner.split("|")]
        return Field(section, "choice", raw, start, end, options, options[0], "")
    number = NUMBER.match(inner)
    if number:
        return Field(section, "number", raw, start, end, [], "", number.group(1).strip())
    return Field(section, "blank", raw, start, end, [], "", "")


def sections(text: str) -> list[dict]:
    """``[{"heading", "text"}]`` in order; text before the first heading has heading ""."""
    out: list[dict] = []
    matches = list(HEADING.finditer(text))
    if not matches or matches[0].start() > 0:
        lead = text[: matches[0].start() if matches else len(text)].strip("\n")
        if lead.strip():
            out.append({"heading": "", "text": lead})
    for i, m in enumerate(matches):
        body_end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.append({"heading": m.group(1).strip(), "text": text[m.end() : body_end].strip("\n")})
    return out


def section_text(text: str, heading: str) -> str:
    for section in sections(text):
        if section["heading"] == heading.upper():
            return section["text"]
    return ""


def fields(text: str) -> list[Field]:
    """Every ``«…»`` span with its kind, section and character offsets in ``text``."""
    headings = [(m.start(), m.group(1).strip()) for m in HEADING.finditer(text)]
    out = []
    for m in FIELD.finditer(text):
        section = ""
        for pos, name in headings:
            if pos <= m.start():
                section = name
        out.append(_field(m.group(1), section, m.start(), m.end()))
    return out


def unfilled(text: str) -> list[Field]:
    """Blanks and numbers still waiting for a value (pick lists have their default)."""
    return [f for f in fields(text) if f.kind != "choice"]


def display_text(text: str) -> str:
    """The text as read by a person: pick lists show their default, unfilled blanks vanish."""

    def replace(m: re.Match) -> str:
        f = _field(m.group(1), "", m.start(), m.end())
        return f.default if f.kind == "choice" else ""

    return FIELD.sub(replace, text)


def render_template(template_sections: list[dict]) -> str:
    """A template's sections as report text: ``HEADING:`` then its text, blank line between."""
    parts = []
    for section in template_sections:
        heading = str(section.get("heading", "")).strip().upper().rstrip(":")
        body = str(section.get("text", "")).strip("\n")
        parts.append(f"{heading}:\n{body}" if heading else body)
    return "\n\n".join(parts) + "\n"


def word_diff(before: str, after: str) -> list[dict]:
    """Word-level diff as ``[{"op": "equal"|"insert"|"delete", "text"}]``.

    Tokens are words and runs of whitespace, so joining the equal and delete
    pieces gives ``before`` and the equal and insert pieces gives ``after``.
    """
    a, b = TOKENS.findall(before), TOKENS.findall(after)
    ops: list[dict] = []

    def add(op: str, tokens: list[str]) -> None:
        if not tokens:
            return
        piece = "".join(tokens)
        if ops and ops[-1]["op"] == op:
            ops[-1]["text"] += piece
        else:
            ops.append({"op": op, "text": piece})

    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return ops
