"""Spoken punctuation and dictation commands, as data.

A dictated segment is a list of words; :func:`parse_words` turns it into a list
of :class:`Op` (text to insert, punctuation, line breaks, field navigation,
undo). :class:`Dictation` applies ops to a text buffer split into fields.
Extending the vocabulary means adding a row to ``DEFAULT_COMMANDS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Op kinds
TEXT = "text"
PUNCT = "punct"
NEWLINE = "newline"
PARAGRAPH = "paragraph"
NEXT_FIELD = "next_field"
SCRATCH = "scratch"


@dataclass(frozen=True)
class Command:
    """A spoken phrase (lower-case words) and the op it becomes."""

    phrase: tuple[str, ...]
    kind: str
    value: str = ""


DEFAULT_COMMANDS: tuple[Command, ...] = (
    Command(("period",), PUNCT, "."),
    Command(("full", "stop"), PUNCT, "."),
    Command(("comma",), PUNCT, ","),
    Command(("colon",), PUNCT, ":"),
    Command(("semicolon",), PUNCT, ";"),
    Command(("question", "mark"), PUNCT, "?"),
    Command(("new", "line"), NEWLINE, "\n"),
    Command(("new", "paragraph"), PARAGRAPH, "\n\n"),
    Command(("next", "field"), NEXT_FIELD),
    Command(("scratch", "that"), SCRATCH),
)


@dataclass(frozen=True)
class Op:
    kind: str
    value: str = ""

    def as_dict(self) -> dict:
        return {"kind": self.kind, "value": self.value}


def _normalise(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def parse_words(words: list[str], commands: tuple[Command, ...] = DEFAULT_COMMANDS) -> list[Op]:
    """Turn dictated words into ops; consecutive plain words merge into one TEXT op.

    The longest matching phrase wins ("new paragraph" over a hypothetical "new").
    """
    by_first: dict[str, list[Command]] = {}
    for command in sorted(commands, key=lambda c: -len(c.phrase)):
        by_first.setdefault(command.phrase[0], []).append(command)
    normalised = [_normalise(w) for w in words]
    ops: list[Op] = []
    pending: list[str] = []
    i = 0
    while i < len(words):
        match = None
        for command in by_first.get(normalised[i], ()):
            n = len(command.phrase)
            if tuple(normalised[i : i + n]) == command.phrase:
                match = command
                break
        if match is None:
            if words[i].strip():
                pending.append(words[i].strip())
            i += 1
            continue
        if pending:
            ops.append(Op(TEXT, " ".join(pending)))
            pending = []
        ops.append(Op(match.kind, match.value))
        i += len(match.phrase)
    if pending:
        ops.append(Op(TEXT, " ".join(pending)))
    return ops


def render(ops: list[Op]) -> str:
    """Render one segment's ops on their own (for partials and final segment text)."""
    dictation = Dictation(fields=1)
    dictation.apply(ops)
    return dictation.fields[0]


class Dictation:
    """A text buffer made of fields, edited by ops.

    Punctuation attaches to the previous word; the word after a sentence end is
    capitalised; "scratch that" removes the last dictated phrase (the text since
    the previous command), or the previous one if nothing came since.
    """

    def __init__(self, fields: int = 1):
        self.fields: list[str] = [""] * max(1, fields)
        self.current = 0
        self._undo: list[tuple[int, int]] = []  # (field, length before) per TEXT op

    @property
    def text(self) -> str:
        return self.fields[self.current]

    def apply(self, ops: list[Op]) -> None:
        for op in ops:
            self._apply(op)

    def _apply(self, op: Op) -> None:
        text = self.fields[self.current]
        if op.kind == TEXT:
            self._undo.append((self.current, len(text)))
            words = op.value
            if not text or text.endswith(("\n", ". ", "? ")) or text.rstrip().endswith((".", "?")):
                words = words[:1].upper() + words[1:]
            sep = "" if not text or text.endswith((" ", "\n")) else " "
            self.fields[self.current] = text + sep + words
        elif op.kind in (PUNCT, NEWLINE, PARAGRAPH):
            self.fields[self.current] = text.rstrip(" ") + op.value
        elif op.kind == NEXT_FIELD:
            if self.current + 1 < len(self.fields):
                self.current += 1
            else:
                self.fields.append("")
                self.current = len(self.fields) - 1
        elif op.kind == SCRATCH and self._undo:
            index, length = self._undo.pop()
            self.fields[index] = self.fields[index][:length].rstrip(" ")
            self.current = index
