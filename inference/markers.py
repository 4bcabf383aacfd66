"""MedASR's literal markers: ``{period}``, ``{new paragraph}``, ``[FINDINGS]``, ``</s>``.

MedASR spells punctuation, layout and report structure as text built from
ordinary SentencePiece pieces, so its decoded words look like
``clear{period}`` or ``{new`` ``paragraph}``. :func:`tokenize` splits a
segment's words into plain words and markers; :data:`MARKERS` maps each known
``{...}`` marker to punctuation or layout. The set is open-ended: an unknown
``{...}`` becomes a visible :data:`MARKER` token for the radiologist to review,
never dropped. ``[NAME]`` headers become section tokens; ``</s>``/``<s>`` go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = "word"
PUNCT = "punct"
NEWLINE = "newline"
PARAGRAPH = "paragraph"
SECTION = "section"
MARKER = "marker"  # an unknown {...}: kept visible

# How punctuation joins its neighbours: "left" sticks to the previous word (". , :"),
# "right" to the next one (opening quote), "both" to both ("-", "/"), "none" to neither.
LEFT, RIGHT, BOTH, NONE = "left", "right", "both", "none"


@dataclass(frozen=True)
class Marker:
    kind: str
    text: str = ""
    attach: str = LEFT


def _punct(text: str, attach: str = LEFT) -> Marker:
    return Marker(PUNCT, text, attach)


# Keys are normalised: lower case, single spaces, no underscores or hyphens.
MARKERS: dict[str, Marker] = {
    "period": _punct("."),
    "full stop": _punct("."),
    "dot": _punct("."),
    "comma": _punct(","),
    "colon": _punct(":"),
    "semicolon": _punct(";"),
    "semi colon": _punct(";"),
    "question mark": _punct("?"),
    "exclamation mark": _punct("!"),
    "exclamation point": _punct("!"),
    "ellipsis": _punct("..."),
    "percent": _punct("%"),
    "percent sign": _punct("%"),
    "hyphen": _punct("-", BOTH),
    "slash": _punct("/", BOTH),
    "forward slash": _punct("/", BOTH),
    "dash": _punct("-", NONE),
    "apostrophe": _punct("'", BOTH),
    "open quote": _punct('"', RIGHT),
    "begin quote": _punct('"', RIGHT),
    "quote": _punct('"', RIGHT),
    "close quote": _punct('"', LEFT),
    "end quote": _punct('"', LEFT),
    "unquote": _punct('"', LEFT),
    "open paren": _punct("(", RIGHT),
    "open parenthesis": _punct("(", RIGHT),
    "left paren": _punct("(", RIGHT),
    "left parenthesis": _punct("(", RIGHT),
    "close paren": _punct(")", LEFT),
    "close parenthesis": _punct(")", LEFT),
    "right paren": _punct(")", LEFT),
    "right parenthesis": _punct(")", LEFT),
    "open bracket": _punct("[", RIGHT),
    "close bracket": _punct("]", LEFT),
    "newline": Marker(NEWLINE, "\n"),
    "new line": Marker(NEWLINE, "\n"),
    "next line": Marker(NEWLINE, "\n"),
    "new paragraph": Marker(PARAGRAPH, "\n\n"),
    "next paragraph": Marker(PARAGRAPH, "\n\n"),
    "paragraph": Marker(PARAGRAPH, "\n\n"),
}

# Tokens the model emits that carry nothing for the reader.
DROPPED = frozenset({"</s>", "<s>", "<unk>", "<epsilon>", "<pad>"})

_SPLIT = re.compile(r"(\{[^{}\[\]]*\}|\[[A-Za-z][A-Za-z0-9 /&,'-]*\]|</?s>|<unk>|<epsilon>|<pad>)")


@dataclass(frozen=True)
class Token:
    """One piece of a segment: a plain word, or what a marker stands for."""

    kind: str
    text: str = ""
    attach: str = LEFT


def normalise_marker(inner: str) -> str:
    return " ".join(re.sub(r"[_-]", " ", inner).lower().split())


def section_name(inner: str) -> str:
    """``[exam type]`` -> ``EXAM TYPE``: report sections are upper case, single-spaced."""
    return " ".join(inner.upper().split())


def tokenize(words: list[str]) -> list[Token]:
    """Split decoded words into plain words and marker tokens.

    Markers may span words (``{new`` ``paragraph}``) or sit inside one
    (``clear{period}``); an unclosed ``{`` (a partial cut mid-marker) stays text.
    """
    tokens: list[Token] = []
    for part in _SPLIT.split(" ".join(words)):
        if not part or not part.strip():
            continue
        if part in DROPPED:
            continue
        if part.startswith("{") and part.endswith("}"):
            known = MARKERS.get(normalise_marker(part[1:-1]))
            if known is None:
                tokens.append(Token(MARKER, part.strip()))
            else:
                tokens.append(Token(known.kind, known.text, known.attach))
        elif part.startswith("[") and part.endswith("]"):
            tokens.append(Token(SECTION, section_name(part[1:-1])))
        else:
            tokens.extend(Token(WORD, w) for w in part.split())
    return tokens
