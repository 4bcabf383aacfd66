"""MedGemma analysis with a tiny random-weight Gemma3ForConditionalGeneration.

The answers are noise: the tests check the prompt, streaming, progress,
cancellation and result plumbing, never the words.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from pydicom import dcmread

from inference.errors import InferenceCancelled
from inference.medgemma import analyze, analyze_datasets
from inference.parsing import PARSED, PARTIAL, UNPARSED
from inference.preprocessing import prepare_ct, prepare_radiograph
from inference.prompts import COMPARISON, FINDINGS, IMPRESSION, LOCALISATION, build_messages
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes


def ct_images(n=5):
    return prepare_ct([dcmread(io.BytesIO(to_bytes(ds))) for ds in make_ct_series(n)]).images


def image_count(messages):
    return sum(part["type"] == "image" for m in messages for part in m["content"])


def test_streamed_tokens_make_the_answer_and_progress_is_reported(medgemma_engine):
    pieces, progress = [], []
    result = analyze(
        medgemma_engine,
        FINDINGS,
        ct_images(3),
        modality="CT",
        max_new_tokens=10,
        on_token=pieces.append,
        on_progress=lambda *a: progress.append(a),
    )
    assert "".join(pieces) == result.raw
    generation = result.generation
    assert 1 <= generation.new_tokens <= 10
    assert generation.images == 3
    assert generation.prefill_s > 0 and generation.decode_s >= 0
    assert progress[0] == ("prompt", 1, 1)
    token_steps = [done for stage, done, total in progress if stage == "tokens"]
    assert token_steps == list(range(1, generation.new_tokens + 1))
    assert result.random_weights is True
    assert result.status in (PARSED, UNPARSED)


def test_the_prompt_carries_every_image_and_the_chat_template(medgemma_engine):
    images = ct_images(4)
    messages = build_messages(LOCALISATION, images, modality="CT")
    assert image_count(messages) == 4
    inputs = medgemma_engine.processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    config = medgemma_engine.model.config
    ids = inputs["input_ids"][0].tolist()
    assert ids.count(config.image_token_index) == 4 * config.mm_tokens_per_image
    assert ids.count(config.boi_token_index) == 4
    assert tuple(inputs["pixel_values"].shape) == (4, 3, 64, 64)
    text = medgemma_engine.processor.decode(ids)
    assert text.startswith("<bos><start_of_turn>user\n")
    assert text.endswith("<start_of_turn>model\n")
    assert "box_2d" in text and "slice 4 of 4" in text


def test_cancel_between_tokens(medgemma_engine):
    cancel = threading.Event()
    seen = []

    def on_token(piece):
        seen.append(piece)
        if len(seen) == 2:
            cancel.set()

    with pytest.raises(InferenceCancelled):
        analyze(
            medgemma_engine,
            FINDINGS,
            ct_images(1),
            max_new_tokens=50,
            on_token=on_token,
            cancel=cancel,
        )
    assert 2 <= len(seen) < 50
    with pytest.raises(InferenceCancelled):
        analyze(medgemma_engine, FINDINGS, ct_images(1), cancel=cancel)


def test_a_full_85_slice_ct_prompt_runs(medgemma_engine):
    images = ct_images(100)
    assert len(images) == 85
    result = analyze(medgemma_engine, LOCALISATION, images, modality="CT", max_new_tokens=4)
    assert result.generation.images == 85
    assert result.status in (PARSED, PARTIAL, UNPARSED)
    for box in result.boxes:  # whatever noise came out, any box maps to a real slice
        assert box.sop_instance_uid in {im.source.sop_instance_uid for im in images}


def test_comparison_puts_the_prior_first(medgemma_engine):
    prior = ct_images(2)
    current = ct_images(3)
    messages = build_messages(
        COMPARISON, current, prior=prior, prior_when="2025-01-02", current_when="2026-11-20"
    )
    texts = [p["text"] for p in messages[1]["content"] if p["type"] == "text"]
    assert texts[:5] == [
        "prior image 1 (slice 1 of 2)",
        "prior image 2 (slice 2 of 2)",
        "current image 3 (slice 1 of 3)",
        "current image 4 (slice 2 of 3)",
        "current image 5 (slice 3 of 3)",
    ]
    assert "first 2 image(s) are the PRIOR study (2025-01-02)" in texts[-1]
    result = analyze(medgemma_engine, COMPARISON, current, prior=prior, max_new_tokens=3)
    assert result.generation.images == 5


def test_impression_from_findings_text_needs_no_image(medgemma_engine):
    result = analyze(
        medgemma_engine, IMPRESSION, findings="Small left pleural effusion.", max_new_tokens=3
    )
    assert result.generation.images == 0
    with pytest.raises(ValueError):
        build_messages(IMPRESSION, findings="  ")
    with pytest.raises(ValueError):
        build_messages(COMPARISON, ct_images(1))
    with pytest.raises(ValueError):
        build_messages("segment", ct_images(1))


def test_radiograph_analysis(medgemma_engine):
    ds = make_dataset(modality="CR", rows=48, columns=80, pixels=np.zeros((48, 80), np.int16))
    image = prepare_radiograph(dcmread(io.BytesIO(to_bytes(ds))))
    result = analyze(medgemma_engine, LOCALISATION, [image], max_new_tokens=3)
    assert result.generation.images == 1 and result.task == LOCALISATION


def test_from_datasets_with_a_prior_reports_every_stage(medgemma_engine):
    current = [dcmread(io.BytesIO(to_bytes(ds))) for ds in make_ct_series(3)]
    prior = [dcmread(io.BytesIO(to_bytes(ds))) for ds in make_ct_series(2)]
    stages = []
    result = analyze_datasets(
        medgemma_engine,
        COMPARISON,
        current,
        prior_datasets=prior,
        max_new_tokens=3,
        min_new_tokens=3,
        on_progress=lambda *a: stages.append(a),
    )
    assert stages == [
        ("slices", 1, 3),
        ("slices", 2, 3),
        ("slices", 3, 3),
        ("slices", 1, 2),
        ("slices", 2, 2),
        ("prompt", 1, 1),
        ("tokens", 1, 3),
        ("tokens", 2, 3),
        ("tokens", 3, 3),
    ]
    assert result.generation.images == 5 and result.generation.new_tokens == 3
