"""Beam search over a KenLM n-gram (flashlight-text) against greedy CTC."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from inference.ctc_decoding import BeamDecoder, find_lm, read_arpa_vocabulary
from inference.tiny import medasr_processor
from tests.inference.conftest import silence, tone

# Fields on each n-gram line are TAB-separated (kenlm refuses spaces).
ARPA = "\n".join(
    [
        "\\data\\",
        "ngram 1=7",
        "ngram 2=3",
        "",
        "\\1-grams:",
        "-1.0\t<s>\t-0.3",
        "-1.0\t</s>",
        "-2.0\t<unk>",
        "-1.5\tthe\t-0.3",
        "-2.0\tlung\t-0.3",
        "-2.0\tlungs\t-0.3",
        "-1.5\tnormal\t-0.3",
        "",
        "\\2-grams:",
        "-0.1\tthe lungs",
        "-3.0\tthe lung",
        "-0.2\tlungs normal",
        "",
        "\\end\\",
        "",
    ]
)


@pytest.fixture(scope="module")
def processor():
    return medasr_processor()


def _emissions(pieces, frames):
    index = {p: i for i, p in enumerate(pieces)}
    logprobs = np.full((len(frames), len(pieces)), -20.0, np.float32)
    for t, probs in enumerate(frames):
        for piece, p in probs.items():
            logprobs[t, index[piece]] = np.log(p)
    return logprobs


def test_the_lm_corrects_what_greedy_got_wrong(tmp_path, processor):
    tokenizer = processor.tokenizer
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    (tmp_path / "lm.arpa").write_text(ARPA)
    assert read_arpa_vocabulary(tmp_path / "lm.arpa")[3:] == ["the", "lung", "lungs", "normal"]
    decoder = BeamDecoder(tmp_path / "lm.arpa", tokenizer, pieces, blank_id=0, lm_weight=1.0)
    # The acoustic model hesitates on the plural "s" (0.45 against blank 0.55).
    logprobs = _emissions(
        pieces,
        [
            {"▁the": 0.9, "<epsilon>": 0.1},
            {"<epsilon>": 0.95, "▁the": 0.05},
            {"▁lung": 0.9, "<epsilon>": 0.1},
            {"<epsilon>": 0.55, "s": 0.45},
            {"▁normal": 0.9, "<epsilon>": 0.1},
            {"<epsilon>": 0.99},
        ],
    )

    def text(ids):
        out = "".join(
            pieces[i] for i, prev in zip(ids, [-1, *ids[:-1]], strict=True) if i and i != prev
        )
        return out.replace("▁", " ").strip()

    assert text(list(logprobs.argmax(-1))) == "the lung normal"  # greedy
    best = decoder.decode(logprobs)
    assert len(best) == len(logprobs)  # one id per frame: word timings work as for greedy
    assert text(list(best)) == "the lungs normal"  # "the lungs" is what the LM expects


def test_model_folder_with_an_lm_decodes_finals_with_the_beam(tmp_path, tiny_models, fresh_cache):
    from inference.asr_batch import transcribe
    from inference.loading import load_asr

    folder = tmp_path / "medasr"
    shutil.copytree(tiny_models["medasr"], folder)
    assert find_lm(folder) is None
    (folder / "lm.arpa").write_text(ARPA)
    assert find_lm(folder) == folder / "lm.arpa"
    engine = load_asr(str(folder), device="cpu")
    assert engine.beam is not None and engine.beam.vocabulary == 4
    audio = np.concatenate([tone(1.5), silence(1.0)])
    finals = transcribe(engine, audio)
    assert finals and all(f.decoder == "kenlm-beam" for f in finals)
    # Beam output only holds LM words (random weights: which ones is noise).
    assert {w.text for f in finals for w in f.words} <= {"the", "lung", "lungs", "normal"}
    greedy = load_asr(str(tiny_models["medasr"]), device="cpu")
    assert greedy.beam is None
    assert all(f.decoder == "greedy" for f in transcribe(greedy, audio))
