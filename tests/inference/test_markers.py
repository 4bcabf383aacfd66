"""MedASR's literal markers on a realistic chest-CT dictation."""

from __future__ import annotations

from inference.commands import MARKER, PUNCT, SECTION, Dictation, Op, capitalise, parse_words
from inference.markers import MARKERS, tokenize

# The way MedASR's greedy output reads (markers built from ordinary pieces, attached
# to words or standing alone, headers in brackets, the end-of-sequence token).
CHEST_CT = (
    "[EXAM TYPE] ct chest with contrast{period} [INDICATION] shortness of breath{comma} "
    "rule out pulmonary embolism{period} [FINDINGS] lungs{colon} no focal consolidation"
    "{period} a 4 mm nodule in the right upper lobe {open quote}stable{close quote} since "
    "the prior exam {open paren}series 3{close paren}{period} {newline} heart size is "
    "normal{period} no pericardial effusion{question mark} {new paragraph} bones{colon} "
    "degenerative changes{semicolon} no {whoosh} lytic lesion{period} [IMPRESSION] no "
    "pulmonary embolism{period} {new paragraph} stable right upper lobe nodule{period} "
    "[PLAN] follow up ct in 12 months{period} </s>"
)


def test_chest_ct_dictation_becomes_report_sections():
    ops, _ = capitalise(parse_words(CHEST_CT.split()))
    # The template lacks PLAN: the section is created.
    report = Dictation(sections=("EXAM TYPE", "INDICATION", "FINDINGS", "IMPRESSION"))
    report.apply(ops)
    assert report.section("EXAM TYPE") == "Ct chest with contrast."
    assert report.section("INDICATION") == ("Shortness of breath, rule out pulmonary embolism.")
    assert report.section("FINDINGS") == (
        'Lungs: no focal consolidation. A 4 mm nodule in the right upper lobe "stable" since '
        "the prior exam (series 3).\nHeart size is normal. No pericardial effusion?\n\n"
        "Bones: degenerative changes; no {whoosh} lytic lesion."
    )
    assert report.section("IMPRESSION") == (
        "No pulmonary embolism.\n\nStable right upper lobe nodule."
    )
    assert report.names[-1] == "PLAN"
    assert report.section("PLAN") == "Follow up ct in 12 months."
    assert "</s>" not in report.report() and "{period}" not in report.report()


def test_unknown_marker_is_kept_visible_and_known_ones_vanish():
    ops = parse_words(CHEST_CT.split())
    assert Op(MARKER, "{whoosh}") in ops
    assert [op.value for op in ops if op.kind == SECTION] == [
        "EXAM TYPE",
        "INDICATION",
        "FINDINGS",
        "IMPRESSION",
        "PLAN",
    ]
    assert all("{" not in op.value for op in ops if op.kind != MARKER)
    assert {"op": "marker", "text": "{whoosh}"} in [op.as_dict() for op in ops]
    assert {"op": "section", "name": "FINDINGS"} in [op.as_dict() for op in ops]


def test_markers_split_across_words_and_inside_words():
    tokens = tokenize(["clear{period}{new", "paragraph}", "[exam", "type]", "ok</s>"])
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "clear"),
        ("punct", "."),
        ("paragraph", "\n\n"),
        ("section", "EXAM TYPE"),
        ("word", "ok"),
    ]


def test_every_marker_named_in_the_issue_is_known():
    for name in (
        "period",
        "comma",
        "colon",
        "new paragraph",
        "newline",
        "question mark",
        "open quote",
        "close quote",
    ):
        assert name in MARKERS
    ops = parse_words(["a{Question_Mark}", "{NEW-LINE}"])
    assert ops[1] == Op(PUNCT, "?") and ops[2].kind == "newline"


def test_unclosed_marker_in_a_partial_stays_text():
    ops = parse_words(["lungs", "clear{per"])
    assert ops == [Op("text", "lungs clear{per")]
