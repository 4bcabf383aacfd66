"""MedGemma study analysis: prompt, generate with streaming and cancellation, parse, map boxes.

``MedGemmaEngine.generate`` runs one chat through the model with callbacks:
``on_token(text_piece)`` for live display, ``on_progress(stage, done, total)``
for progress ("prompt", "prefill", "tokens"), and a ``cancel`` event checked
between tokens. :func:`analyze` is the task-level entry point.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inference import parsing, prompts
from inference.errors import InferenceCancelled
from inference.loading import attention_backends
from inference.preprocessing import (
    MAX_SLICES,
    PreparedImage,
    SourceBox,
    box_to_source,
    prepare_series,
)

TokenCallback = Callable[[str], None]
ProgressCallback = Callable[[str, int, int], None]

PARSERS = {
    prompts.FINDINGS: parsing.parse_findings,
    prompts.LOCALISATION: parsing.parse_localisation,
    prompts.COMPARISON: parsing.parse_comparison,
    prompts.IMPRESSION: parsing.parse_impression,
}


@dataclass
class Generation:
    text: str
    new_tokens: int
    prompt_tokens: int
    images: int
    prepare_s: float
    prefill_s: float  # prompt processing including the vision tower, up to the first token
    decode_s: float  # after the first token
    cancelled: bool = False

    @property
    def seconds_per_token(self) -> float:
        return self.decode_s / max(1, self.new_tokens - 1)


@dataclass
class AnalysisResult:
    task: str
    raw: str
    status: str  # parsing.PARSED / PARTIAL / UNPARSED
    data: Any
    errors: list[str]
    boxes: list[SourceBox] = field(default_factory=list)
    generation: Generation | None = None
    random_weights: bool = False
    model_source: str = ""


class _Streamer:
    """transformers streamer: decodes the growing answer and forwards new text."""

    def __init__(self, tokenizer, on_token: TokenCallback | None, on_progress, max_new_tokens):
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.on_progress = on_progress
        self.max_new_tokens = max_new_tokens
        self.ids: list[int] = []
        self.text = ""
        self.prompt_seen = False
        self.first_token_at: float | None = None

    def put(self, value) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        if self.on_progress:
            self.on_progress("tokens", len(self.ids), self.max_new_tokens)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        # Hold back a trailing replacement char: a multi-byte character may be incomplete.
        if text.endswith("\ufffd"):
            return
        if len(text) > len(self.text) and text.startswith(self.text):
            piece, self.text = text[len(self.text) :], text
            if self.on_token:
                self.on_token(piece)
        else:
            self.text = text

    def end(self) -> None:
        # Flush what was held back (an answer may end inside a multi-byte character).
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if len(text) > len(self.text) and text.startswith(self.text):
            piece, self.text = text[len(self.text) :], text
            if self.on_token:
                self.on_token(piece)


class MedGemmaEngine:
    """A loaded MedGemma (``Gemma3ForConditionalGeneration``) and its processor."""

    def __init__(self, processor, model, info):
        self.processor = processor
        self.model = model
        self.info = info
        self._lock = threading.Lock()

    def generate(
        self,
        messages: list[dict],
        *,
        max_new_tokens: int = 512,
        on_token: TokenCallback | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        min_new_tokens: int = 0,
    ) -> Generation:
        """Greedy generation for one chat; raises ``InferenceCancelled`` when cancelled.

        ``min_new_tokens`` holds back end-of-turn (benchmarks time a fixed length).
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        started = time.perf_counter()
        if cancel is not None and cancel.is_set():
            raise InferenceCancelled("cancelled before start")
        inputs = self.processor.apply_chat_template(
            messages,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        dtype = next(self.model.parameters()).dtype
        device = next(self.model.parameters()).device
        inputs = {
            k: (v.to(device, dtype=dtype) if torch.is_floating_point(v) else v.to(device))
            for k, v in inputs.items()
        }
        prompt_tokens = int(inputs["input_ids"].shape[1])
        images = int(inputs["pixel_values"].shape[0]) if "pixel_values" in inputs else 0
        if on_progress:
            on_progress("prompt", 1, 1)
        prepared = time.perf_counter()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                stop = cancel is not None and cancel.is_set()
                return torch.full(
                    (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
                )

        streamer = _Streamer(self.processor.tokenizer, on_token, on_progress, max_new_tokens)
        # One generation at a time per model: a second caller waits rather than doubling memory.
        with self._lock, torch.inference_mode(), attention_backends(device):
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                min_new_tokens=min_new_tokens or None,
                do_sample=False,
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_Cancel()]),
            )
        finished = time.perf_counter()
        new_ids = output[0, prompt_tokens:].tolist()
        text = self.processor.tokenizer.decode(new_ids, skip_special_tokens=True)
        first = streamer.first_token_at or finished
        generation = Generation(
            text=text,
            new_tokens=len(new_ids),
            prompt_tokens=prompt_tokens,
            images=images,
            prepare_s=prepared - started,
            prefill_s=first - prepared,
            decode_s=finished - first,
            cancelled=bool(cancel is not None and cancel.is_set()),
        )
        if generation.cancelled:
            raise InferenceCancelled(f"cancelled after {len(new_ids)} tokens")
        return generation


def analyze(
    engine: MedGemmaEngine,
    task: str,
    images: Sequence[PreparedImage] = (),
    *,
    modality: str = "",
    prior: Sequence[PreparedImage] = (),
    findings: str = "",
    context: str = "",
    prior_when: str = "",
    current_when: str = "",
    max_new_tokens: int = 512,
    on_token: TokenCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    min_new_tokens: int = 0,
) -> AnalysisResult:
    """Run one task (findings, localisation, comparison, impression) and parse its answer.

    For localisation, each box is mapped back to its source image (SOP Instance
    UID, frame) in pixel coordinates; the box's ``image`` number indexes the
    images in prompt order (prior images first in a comparison).
    """
    messages = prompts.build_messages(
        task,
        images,
        modality=modality,
        prior=prior,
        findings=findings,
        context=context,
        prior_when=prior_when,
        current_when=current_when,
    )
    generation = engine.generate(
        messages,
        max_new_tokens=max_new_tokens,
        on_token=on_token,
        on_progress=on_progress,
        cancel=cancel,
        min_new_tokens=min_new_tokens,
    )
    parsed = PARSERS[task](generation.text)
    boxes: list[SourceBox] = []
    errors = list(parsed.errors)
    if task == prompts.LOCALISATION and parsed.ok:
        for item in parsed.data:
            index = item["image"] - 1
            if not 0 <= index < len(images):
                errors.append(f"box refers to image {item['image']} of {len(images)}")
                continue
            boxes.append(box_to_source(item["box_2d"], images[index], item["label"]))
    return AnalysisResult(
        task=task,
        raw=generation.text,
        status=parsed.status,
        data=parsed.data,
        errors=errors,
        boxes=boxes,
        generation=generation,
        random_weights=engine.info.random_weights,
        model_source=engine.info.source,
    )


def analyze_datasets(
    engine: MedGemmaEngine,
    task: str,
    datasets: Sequence = (),
    *,
    prior_datasets: Sequence = (),
    max_slices: int = MAX_SLICES,
    on_progress: ProgressCallback | None = None,
    **kwargs,
) -> AnalysisResult:
    """From pydicom datasets of one series (and optionally a prior series) to a result.

    Progress runs through ``slices`` (current, then prior), ``prompt`` and ``tokens``;
    other keyword arguments go to :func:`analyze`.
    """
    modality = ""
    images: list[PreparedImage] = []
    if datasets:
        series = prepare_series(datasets, max_slices, on_progress=on_progress)
        images, modality = series.images, series.modality
    prior: list[PreparedImage] = []
    if prior_datasets:
        prior = prepare_series(prior_datasets, max_slices, on_progress=on_progress).images
    return analyze(
        engine,
        task,
        images,
        modality=kwargs.pop("modality", modality),
        prior=prior,
        on_progress=on_progress,
        **kwargs,
    )
