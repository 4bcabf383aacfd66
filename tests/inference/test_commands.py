"""Spoken punctuation and commands become edits, not words."""

from __future__ import annotations

from inference.commands import (
    DEFAULT_COMMANDS,
    NEXT_FIELD,
    PUNCT,
    SCRATCH,
    TEXT,
    Command,
    Dictation,
    Op,
    parse_words,
    render,
)


def words(text: str) -> list[str]:
    return text.split()


def test_punctuation_words_become_ops():
    ops = parse_words(words("no acute findings period heart size normal comma lungs clear"))
    assert ops == [
        Op(TEXT, "no acute findings"),
        Op(PUNCT, "."),
        Op(TEXT, "heart size normal"),
        Op(PUNCT, ","),
        Op(TEXT, "lungs clear"),
    ]
    assert render(ops) == "No acute findings. Heart size normal, lungs clear"


def test_multiword_commands_and_case_and_trailing_punctuation():
    ops = parse_words(["Impression", "Colon", "stable.", "New", "Paragraph", "next", "FIELD"])
    assert [op.kind for op in ops] == [TEXT, PUNCT, TEXT, "paragraph", NEXT_FIELD]
    assert render(ops[:4]) == "Impression: stable.\n\n"


def test_new_line_and_paragraph():
    text = render(parse_words(words("findings colon new line lungs clear period new paragraph ok")))
    assert text == "Findings:\nLungs clear.\n\nOk"


def test_scratch_that_removes_the_last_phrase():
    dictation = Dictation()
    dictation.apply(parse_words(words("lungs are clear period small effusion scratch that")))
    assert dictation.text == "Lungs are clear."
    dictation.apply(parse_words(words("no effusion period")))
    assert dictation.text == "Lungs are clear. No effusion."
    dictation.apply([Op(SCRATCH), Op(SCRATCH), Op(SCRATCH)])  # more undo than text is harmless
    assert dictation.text == ""


def test_next_field_moves_between_fields():
    dictation = Dictation(fields=2)
    dictation.apply(parse_words(words("chest pain next field no acute disease next field extra")))
    assert dictation.fields == ["Chest pain", "No acute disease", "Extra"]
    assert dictation.current == 2


def test_scratch_that_after_next_field_returns_to_that_field():
    dictation = Dictation(fields=2)
    dictation.apply(parse_words(words("history next field wrong words scratch that")))
    assert dictation.fields == ["History", ""]


def test_command_list_is_data():
    custom = DEFAULT_COMMANDS + (Command(("open", "bracket"), PUNCT, " ("),)
    ops = parse_words(words("effusion open bracket small"), custom)
    assert ops == [Op(TEXT, "effusion"), Op(PUNCT, " ("), Op(TEXT, "small")]
    # Without the row, the words stay words.
    assert parse_words(words("effusion open bracket small")) == [
        Op(TEXT, "effusion open bracket small")
    ]
