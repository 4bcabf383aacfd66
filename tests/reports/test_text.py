"""The report text format: sections, fields, display text, word diff."""

from reading.reports import text as t

SAMPLE = (
    "CLINICAL HISTORY:\nCough.\n\nTECHNIQUE:\nCT «without|with» contrast.\n\n"
    "FINDINGS:\nNodule «__ mm». Other: «___».\n\nIMPRESSION:\n«___»\n"
)


def test_sections_and_fields():
    sections = t.sections(SAMPLE)
    assert [s["heading"] for s in sections] == [
        "CLINICAL HISTORY",
        "TECHNIQUE",
        "FINDINGS",
        "IMPRESSION",
    ]
    assert sections[0]["text"] == "Cough."
    fields = t.fields(SAMPLE)
    assert [(f.kind, f.section) for f in fields] == [
        ("choice", "TECHNIQUE"),
        ("number", "FINDINGS"),
        ("blank", "FINDINGS"),
        ("blank", "IMPRESSION"),
    ]
    choice, number = fields[0], fields[1]
    assert choice.options == ["without", "with"] and choice.default == "without"
    assert number.unit == "mm"
    assert SAMPLE[choice.start : choice.end] == "«without|with»"
    assert len(t.unfilled(SAMPLE)) == 3


def test_display_text_shows_defaults_and_drops_blanks():
    shown = t.display_text(SAMPLE)
    assert "CT without contrast." in shown
    assert "«" not in shown and "Nodule ." in shown


def test_render_template():
    text = t.render_template(
        [{"heading": "findings", "text": "x"}, {"heading": "IMPRESSION:", "text": "y"}]
    )
    assert text == "FINDINGS:\nx\n\nIMPRESSION:\ny\n"


def test_word_diff_reconstructs_both_texts():
    before = "Lungs are clear.\nNo effusion."
    after = "Lungs are mostly clear.\nSmall effusion on the left."
    ops = t.word_diff(before, after)
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == before
    assert "".join(o["text"] for o in ops if o["op"] != "delete") == after
    assert {"op": "insert", "text": "mostly "} in ops or any(
        o["op"] == "insert" and "mostly" in o["text"] for o in ops
    )
    assert any(o["op"] == "delete" and "No" in o["text"] for o in ops)
