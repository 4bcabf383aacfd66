"""The MedASR model behind the streaming transcriber: batched CTC decoding of 16 kHz
audio to token ids or log-probabilities, and CTC word timings (40 ms per frame).

:mod:`inference.medasr` drives it; :func:`inference.loading.load_asr` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


class AsrEngine:
    """A loaded CTC model + processor; ``decode_batch`` is its only heavy call.

    Safe to share between threads: a forward pass holds no state.
    """

    def __init__(self, processor, model, info, beam=None):
        self.processor = processor
        self.model = model
        self.info = info
        self.beam = beam  # inference.ctc_decoding.BeamDecoder for finals, or None
        feature_extractor = processor.feature_extractor
        self.sample_rate = int(feature_extractor.sampling_rate)
        self.hop_length = int(feature_extractor.hop_length)
        self.win_length = int(getattr(feature_extractor, "win_length", 0) or 400)
        ratio = int(getattr(model.config, "inputs_to_logits_ratio", 4))
        self.frame_s = ratio * self.hop_length / self.sample_rate
        self.frame_samples = ratio * self.hop_length
        tokenizer = processor.tokenizer
        self.blank_id = int(model.config.pad_token_id or tokenizer.pad_token_id or 0)
        self.pieces = tokenizer.convert_ids_to_tokens(list(range(model.config.vocab_size)))
        self.special_ids = set(tokenizer.all_special_ids)
        encoder = getattr(model.config, "encoder_config", None)
        self._conv = (
            int(getattr(encoder, "subsampling_conv_kernel_size", 5)),
            int(getattr(encoder, "subsampling_conv_stride", 2)),
        )

    @property
    def device(self):
        return next(self.model.parameters()).device

    def frames_for(self, n_samples: int) -> int:
        """Number of CTC frames the model emits for ``n_samples`` of audio."""
        # Feature frames are unpadded STFT windows, then two strided convolutions.
        n = max(0, (n_samples - self.win_length) // self.hop_length + 1)
        kernel, stride = self._conv
        for _ in range(2):
            n = max(0, (n - kernel) // stride + 1)
        return n

    def decode_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        """Greedy CTC ids per frame for each float32 16 kHz array, in one forward pass."""
        return [lp.argmax(-1) for lp in self.logprobs_batch(audios)]

    def logprobs_batch(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        """CTC log-probabilities (frames x vocabulary) for each array.

        Arrays of similar length share a forward pass; a 6 s final is not padded
        together with 1.5 s partials (padding would cost as much as real audio).
        """
        out: list[np.ndarray | None] = [None] * len(audios)
        for group in length_groups([len(a) for a in audios]):
            for index, logprobs in zip(
                group, self._forward([audios[i] for i in group]), strict=True
            ):
                out[index] = logprobs
        return out

    def _forward(self, audios: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        if not audios:
            return []
        minimum = self.hop_length * 40  # the subsampling convolutions need a few frames
        padded = [a if len(a) >= minimum else np.pad(a, (0, minimum - len(a))) for a in audios]
        inputs = self.processor(
            padded, sampling_rate=self.sample_rate, return_tensors="pt", padding="longest"
        )
        dtype = next(self.model.parameters()).dtype
        device = self.device
        features = inputs["input_features"].to(device=device, dtype=dtype)
        mask = inputs.get("attention_mask")
        from inference.loading import attention_backends

        with torch.inference_mode(), attention_backends(device):
            kwargs = {"attention_mask": mask.to(device)} if mask is not None else {}
            logits = self.model(input_features=features, **kwargs).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        return [logprobs[i, : self.frames_for(len(a))] for i, a in enumerate(audios)]

    def words(self, ids: np.ndarray, offset_s: float = 0.0) -> list[Word]:
        """Collapse CTC repeats and blanks into words timed by their frames."""
        words: list[Word] = []
        text, start, end = "", 0.0, 0.0
        previous = -1
        for frame, token in enumerate(ids.tolist()):
            if token == previous:
                if text and token != self.blank_id:
                    end = (frame + 1) * self.frame_s
                continue
            previous = token
            if token == self.blank_id or token in self.special_ids:
                continue
            piece = self.pieces[token]
            if piece.startswith("▁") and text:
                words.append(Word(text, offset_s + start, offset_s + end))
                text = ""
            if not text:
                start = frame * self.frame_s
            text += piece.lstrip("▁") if not text else piece
            end = (frame + 1) * self.frame_s
        if text:
            words.append(Word(text, offset_s + start, offset_s + end))
        return [w for w in words if w.text]


def length_groups(lengths: list[int], waste: float = 0.25) -> list[list[int]]:
    """Indices grouped so that padding each group to its longest adds at most ``waste``."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    total = 0
    for index in order:
        group = groups[-1] if groups else None
        if group and lengths[index] * (len(group) + 1) <= (1 + waste) * (total + lengths[index]):
            group.append(index)
            total += lengths[index]
        else:
            groups.append([index])
            total = lengths[index]
    return groups
