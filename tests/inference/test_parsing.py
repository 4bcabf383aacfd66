"""Parsers keep the raw answer and say how far they got."""

from __future__ import annotations

from inference.parsing import (
    PARSED,
    PARTIAL,
    UNPARSED,
    extract_json,
    parse_comparison,
    parse_findings,
    parse_impression,
    parse_localisation,
)

BOXES = '[{"box_2d": [100, 200, 300, 400], "label": "nodule"}, {"box_2d": [10, 20, 30, 40], "label": "effusion", "image": 3}]'


def test_valid_json():
    parsed = parse_localisation(BOXES)
    assert parsed.status == PARSED and parsed.raw == BOXES
    assert parsed.data == [
        {"box_2d": [100.0, 200.0, 300.0, 400.0], "label": "nodule", "image": 1},
        {"box_2d": [10.0, 20.0, 30.0, 40.0], "label": "effusion", "image": 3},
    ]


def test_json_in_a_code_fence_with_prose_around():
    raw = f"Here are the boxes:\n```json\n{BOXES}\n```\nLet me know."
    parsed = parse_localisation(raw)
    assert parsed.status == PARSED and len(parsed.data) == 2 and parsed.raw == raw


def test_truncated_json_salvages_complete_items():
    raw = "```json\n" + BOXES[: BOXES.index('"effusion"') + 4]  # cut inside the second object
    parsed = parse_localisation(raw)
    assert parsed.status == PARTIAL
    assert [b["label"] for b in parsed.data] == ["nodule"]
    assert parsed.raw == raw


def test_truncated_inside_a_string_value():
    raw = '{"new": ["left effusion", "right apical pneumo'
    parsed = parse_comparison(raw)
    assert parsed.status == PARTIAL
    assert parsed.data["new"] == ["left effusion"]


def test_prose_is_kept_raw_and_marked_unparsed():
    raw = "There is a small nodule in the right upper lobe."
    parsed = parse_localisation(raw)
    assert parsed.status == UNPARSED and parsed.data is None and parsed.raw == raw
    assert parsed.errors
    assert parse_comparison(raw).status == UNPARSED


def test_invalid_boxes_are_dropped_and_reported():
    raw = (
        '[{"box_2d": [300, 400, 100, 200], "label": "swapped"}, {"box_2d": [1, 2, 3]}, '
        '{"label": "no box"}, {"box_2d": [0, 0, 1500, -5], "label": "clipped"}, '
        '{"box_2d": ["a", 0, 1, 1]}]'
    )
    parsed = parse_localisation(raw)
    assert parsed.status == PARSED
    assert parsed.data[0]["box_2d"] == [100.0, 200.0, 300.0, 400.0]
    assert len(parsed.data) == 1  # the clipped one collapses to zero width
    assert any("dropped" in e for e in parsed.errors)


def test_single_object_and_wrapped_list():
    one = parse_localisation('{"box_2d": [1, 2, 3, 4], "label": "x"}')
    assert one.status == PARSED and len(one.data) == 1
    wrapped = parse_localisation('{"findings": ' + BOXES + "}")
    assert wrapped.status == PARSED and len(wrapped.data) == 2
    assert parse_localisation("[]").status == PARSED and parse_localisation("[]").data == []


def test_free_text_answers():
    assert parse_findings("**Findings:** Lungs are clear.").data == "Lungs are clear."
    assert parse_impression("```\nImpression: 1. No acute disease.\n```").data == (
        "1. No acute disease."
    )
    assert parse_findings("   ").status == UNPARSED


def test_comparison_normalises_keys():
    parsed = parse_comparison(
        '{"new": "small effusion", "resolved": [], "changed": ["nodule larger"], "summary": " Worse "}'
    )
    assert parsed.status == PARSED
    assert parsed.data == {
        "new": ["small effusion"],
        "resolved": [],
        "changed": ["nodule larger"],
        "unchanged": [],
        "summary": "Worse",
    }


def test_extract_json_prefers_the_fence():
    parsed = extract_json('I think [this] matters.\n```json\n{"a": 1}\n```')
    assert parsed.status == PARSED and parsed.data == {"a": 1}
