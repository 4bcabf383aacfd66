"""CTC decoding: greedy by default, a KenLM beam search for finals when the model has an LM.

MedASR ships a KenLM n-gram next to its weights; when the model folder holds one
(``*.arpa``, ``*.arpa.gz`` or ``*.bin``, at the top or under ``lm/``), finals are
decoded with flashlight-text's ``LexiconDecoder`` over it.
"""

from __future__ import annotations

from pathlib import Path

LM_PATTERNS = ("*.arpa", "*.arpa.gz", "*.bin", "lm/*.arpa", "lm/*.arpa.gz", "lm/*.bin")


def find_lm(model_dir: Path | str) -> Path | None:
    """The n-gram LM file in a local model folder, if any (never the model weights)."""
    root = Path(model_dir)
    for pattern in LM_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if path.name != "pytorch_model.bin" and not path.name.startswith("training_args"):
                return path
    return None
