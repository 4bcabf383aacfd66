"""Dictated segments become ops: text, punctuation, layout, sections and spoken commands.

A decoded segment is a list of words; :func:`parse_words` turns it into a list
of :class:`Op`. MedASR's markers (``{period}``, ``[FINDINGS]``, see
:mod:`inference.markers`) become punctuation, layout and section ops; spoken
commands ("next field", "scratch that", "insert macro X", "sign report") are
rows of ``DEFAULT_COMMANDS``: extending the vocabulary means adding a row.
:class:`Dictation` applies ops to a text buffer of named sections and fields,
the way the report editor does at its cursor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from inference import markers
from inference.markers import BOTH, LEFT, NONE, RIGHT

# Op kinds (the ``op`` field of the protocol, docs/realtime.md "Dictation socket")
TEXT = "text"
PUNCT = "punct"
NEWLINE = "newline"
PARAGRAPH = "paragraph"
SECTION = "section"
MARKER = "marker"
NEXT_FIELD = "next_field"
PREV_FIELD = "prev_field"
SCRATCH = "scratch"
MACRO = "macro"
SIGN = "sign"

COMMAND_KINDS = frozenset({NEXT_FIELD, PREV_FIELD, SCRATCH, MACRO, SIGN, SECTION})
_SENTENCE_END = (".", "?", "!")
_STARTS_SENTENCE = frozenset({NEWLINE, PARAGRAPH, SECTION, NEXT_FIELD, PREV_FIELD})


@dataclass(frozen=True)
class Command:
    """A spoken phrase (lower-case words) and the op it becomes.

    ``rest`` commands take the words that follow, up to the next marker or the
    end of the segment, as their value ("insert macro normal chest").
    """

    phrase: tuple[str, ...]
    kind: str
    value: str = ""
    rest: bool = False


DEFAULT_COMMANDS: tuple[Command, ...] = (
    Command(("next", "field"), NEXT_FIELD),
    Command(("previous", "field"), PREV_FIELD),
    Command(("scratch", "that"), SCRATCH),
    Command(("insert", "macro"), MACRO, rest=True),
    Command(("sign", "report"), SIGN),
    Command(("sign", "the", "report"), SIGN),
)

# For engines that spell punctuation as plain words (MedASR uses markers instead,
# and a plain "period" is then the word, as in "a period of two weeks").
SPOKEN_PUNCTUATION: tuple[Command, ...] = (
    Command(("period",), PUNCT, "."),
    Command(("full", "stop"), PUNCT, "."),
    Command(("comma",), PUNCT, ","),
    Command(("colon",), PUNCT, ":"),
    Command(("semicolon",), PUNCT, ";"),
    Command(("question", "mark"), PUNCT, "?"),
    Command(("new", "line"), NEWLINE, "\n"),
    Command(("new", "paragraph"), PARAGRAPH, "\n\n"),
)


@dataclass(frozen=True)
class Op:
    kind: str
    value: str = ""
    attach: str = LEFT

    def as_dict(self) -> dict:
        if self.kind in (TEXT, MARKER):
            return {"op": self.kind, "text": self.value}
        if self.kind == PUNCT:
            return {"op": PUNCT, "text": self.value, "attach": self.attach}
        if self.kind in (SECTION, MACRO):
            return {"op": self.kind, "name": self.value}
        return {"op": self.kind}


def _normalise(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def _match_words(words: list[str], commands: tuple[Command, ...], ops: list[Op]) -> None:
    """Append the ops of a run of plain words; the longest matching phrase wins."""
    by_first: dict[str, list[Command]] = {}
    for command in sorted(commands, key=lambda c: -len(c.phrase)):
        by_first.setdefault(command.phrase[0], []).append(command)
    normalised = [_normalise(w) for w in words]
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
            pending.append(words[i])
            i += 1
            continue
        if pending:
            ops.append(Op(TEXT, " ".join(pending)))
            pending = []
        i += len(match.phrase)
        if match.rest:
            ops.append(Op(match.kind, " ".join(words[i:])))
            i = len(words)
        else:
            ops.append(Op(match.kind, match.value))
    if pending:
        ops.append(Op(TEXT, " ".join(pending)))


def parse_words(words: list[str], commands: tuple[Command, ...] = DEFAULT_COMMANDS) -> list[Op]:
    """Turn one segment's decoded words into ops; consecutive plain words merge into one TEXT."""
    ops: list[Op] = []
    run: list[str] = []
    for token in markers.tokenize(words):
        if token.kind == markers.WORD:
            run.append(token.text)
            continue
        _match_words(run, commands, ops)
        run = []
        if token.kind == markers.PUNCT:
            ops.append(Op(PUNCT, token.text, token.attach))
        elif token.kind == markers.NEWLINE:
            ops.append(Op(NEWLINE, "\n"))
        elif token.kind == markers.PARAGRAPH:
            ops.append(Op(PARAGRAPH, "\n\n"))
        elif token.kind == markers.SECTION:
            ops.append(Op(SECTION, token.text))
        else:
            ops.append(Op(MARKER, token.text))
    _match_words(run, commands, ops)
    return ops


def capitalise(ops: list[Op], sentence_start: bool = True) -> tuple[list[Op], bool]:
    """Capitalise text that starts a sentence; return the ops and whether the next
    segment starts one (carried across a stream's finals by the caller)."""
    out: list[Op] = []
    for op in ops:
        if op.kind == TEXT:
            if sentence_start and op.value:
                op = replace(op, value=op.value[:1].upper() + op.value[1:])
            sentence_start = False
        elif op.kind in _STARTS_SENTENCE or (op.kind == PUNCT and op.value.endswith(_SENTENCE_END)):
            sentence_start = True
        out.append(op)
    return out, sentence_start


def render(ops: list[Op], sentence_start: bool = True) -> str:
    """One segment's ops as display text (the ``text`` of partials and finals)."""
    dictation = Dictation(fields=1)
    dictation.apply(capitalise(ops, sentence_start)[0])
    return dictation.report()


class Dictation:
    """A text buffer of fields, optionally named sections, edited by ops at a cursor.

    Punctuation joins its neighbours as its ``attach`` says; a section op moves to
    that section, creating it when missing; "scratch that" removes the last
    dictated phrase (or the previous one if nothing came since).
    """

    def __init__(self, fields: int = 1, sections: tuple[str, ...] = ()):
        self.names: list[str] = list(sections)
        self.fields: list[str] = [""] * max(1, fields, len(self.names))
        self.names += [""] * (len(self.fields) - len(self.names))
        self.current = 0
        self.commands: list[Op] = []  # macro / sign: for the report to act on
        self._undo: list[tuple[int, int]] = []  # (field, length before) per TEXT op
        self._glue = False  # the previous op was an opening quote/paren

    @property
    def text(self) -> str:
        return self.fields[self.current]

    def section(self, name: str) -> str:
        return self.fields[self.names.index(name)]

    def report(self) -> str:
        parts = []
        for name, text in zip(self.names, self.fields, strict=True):
            if name:
                parts.append(f"{name}:\n{text}" if text else f"{name}:")
            elif text:
                parts.append(text)
        return "\n\n".join(parts)

    def apply(self, ops: list[Op]) -> None:
        for op in ops:
            self._apply(op)

    def _goto(self, name: str) -> None:
        if name not in self.names:
            if len(self.names) == 1 and not self.names[0] and not self.fields[0]:
                self.names[0] = name  # an empty unnamed buffer becomes the section
            else:
                self.names.append(name)
                self.fields.append("")
        self.current = self.names.index(name)

    def _apply(self, op: Op) -> None:
        text = self.fields[self.current]
        glue, self._glue = self._glue, False
        if op.kind in (TEXT, MARKER):
            self._undo.append((self.current, len(text)))
            sep = "" if glue or not text or text.endswith((" ", "\n")) else " "
            self.fields[self.current] = text + sep + op.value
        elif op.kind == PUNCT:
            if op.attach in (LEFT, BOTH):
                self.fields[self.current] = text.rstrip(" ") + op.value
            elif op.attach == RIGHT or op.attach == NONE:
                sep = "" if glue or not text or text.endswith((" ", "\n")) else " "
                self.fields[self.current] = text + sep + op.value
            self._glue = op.attach in (RIGHT, BOTH)
        elif op.kind in (NEWLINE, PARAGRAPH):
            self.fields[self.current] = text.rstrip(" ") + op.value
        elif op.kind == SECTION:
            self._goto(op.value)
        elif op.kind == NEXT_FIELD:
            if self.current + 1 >= len(self.fields):
                self.fields.append("")
                self.names.append("")
            self.current += 1
        elif op.kind == PREV_FIELD:
            self.current = max(0, self.current - 1)
        elif op.kind == SCRATCH and self._undo:
            index, length = self._undo.pop()
            self.fields[index] = self.fields[index][:length].rstrip(" ")
            self.current = index
        elif op.kind in (MACRO, SIGN):
            self.commands.append(op)
