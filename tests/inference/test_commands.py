"""Spoken commands and MedASR markers become edits, not words."""

from __future__ import annotations

from inference.commands import (
    MACRO,
    NEXT_FIELD,
    PUNCT,
    SCRATCH,
    SIGN,
    SPOKEN_PUNCTUATION,
    TEXT,
    Dictation,
    Op,
    capitalise,
    parse_words,
    render,
)


def words(text: str) -> list[str]:
    return text.split()


def test_spoken_punctuation_table_still_available_for_plain_word_engines():
    commands = SPOKEN_PUNCTUATION
    ops = parse_words(
        words("no acute findings period heart size normal comma lungs clear"), commands
    )
    assert ops == [
        Op(TEXT, "no acute findings"),
        Op(PUNCT, "."),
        Op(TEXT, "heart size normal"),
        Op(PUNCT, ","),
        Op(TEXT, "lungs clear"),
    ]
    assert render(ops) == "No acute findings. Heart size normal, lungs clear"


def test_plain_period_is_a_word_by_default():
    # MedASR writes spoken punctuation as {period}; the word stays a word.
    assert render(parse_words(words("over a period of two weeks"))) == "Over a period of two weeks"


def test_scratch_that_removes_the_last_phrase():
    dictation = Dictation()
    dictation.apply(parse_words(words("lungs are clear{period} small effusion scratch that")))
    assert dictation.text == "lungs are clear."
    dictation.apply(capitalise(parse_words(words("no effusion{period}")))[0])
    assert dictation.text == "lungs are clear. No effusion."
    dictation.apply([Op(SCRATCH), Op(SCRATCH), Op(SCRATCH)])  # more undo than text is harmless
    assert dictation.text == ""


def test_next_and_previous_field():
    dictation = Dictation(fields=2)
    dictation.apply(parse_words(words("chest pain next field no acute disease next field extra")))
    assert dictation.fields == ["chest pain", "no acute disease", "extra"]
    assert dictation.current == 2
    dictation.apply(parse_words(words("previous field")))
    assert dictation.current == 1


def test_macro_takes_the_following_words_and_sign_is_a_command():
    ops = parse_words(words("insert macro normal chest{period}"))
    assert ops == [Op(MACRO, "normal chest"), Op(PUNCT, ".")]
    assert ops[0].as_dict() == {"op": "macro", "name": "normal chest"}
    ops = parse_words(words("sign report"))
    assert ops == [Op(SIGN)] and ops[0].as_dict() == {"op": "sign"}
    assert parse_words(words("next field"))[0].kind == NEXT_FIELD


def test_capitalisation_carries_across_segments():
    first, start = capitalise(parse_words(words("lungs are clear{comma}")))
    assert first[0].value == "Lungs are clear" and start is False
    second, start = capitalise(parse_words(words("no effusion{period}")), start)
    assert second[0].value == "no effusion" and start is True
    assert render(parse_words(words("no effusion")), sentence_start=False) == "no effusion"
