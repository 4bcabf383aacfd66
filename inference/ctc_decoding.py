"""CTC decoding: greedy by default, a KenLM beam search for finals when the model has an LM.

MedASR ships a KenLM n-gram next to its weights; when the model folder holds one
(``*.arpa``, ``*.arpa.gz`` or ``*.bin``, at the top or under ``lm/``), finals are
decoded with flashlight-text's ``LexiconDecoder`` over it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

LM_PATTERNS = ("*.arpa", "*.arpa.gz", "*.bin", "lm/*.arpa", "lm/*.arpa.gz", "lm/*.bin")


def find_lm(model_dir: Path | str) -> Path | None:
    """The n-gram LM file in a local model folder, if any (never the model weights)."""
    root = Path(model_dir)
    for pattern in LM_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if path.name != "pytorch_model.bin" and not path.name.startswith("training_args"):
                return path
    return None


def read_arpa_vocabulary(path: Path) -> list[str]:
    """The unigrams of an ARPA file (plain or gzip); a binary LM needs ``words.txt`` beside it."""
    import gzip

    if path.suffix == ".bin":
        words = path.with_name("words.txt")
        if not words.is_file():
            raise FileNotFoundError(f"{path} is a binary KenLM: put its vocabulary in {words}")
        return [w for w in words.read_text().split() if w]
    opener = gzip.open if path.name.endswith(".gz") else open
    vocabulary, in_unigrams = [], False
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("\\1-grams:"):
                in_unigrams = True
            elif line.startswith("\\"):
                if in_unigrams:
                    break
            elif in_unigrams and line:
                fields = line.split("\t")
                if len(fields) >= 2:
                    vocabulary.append(fields[1])
    return vocabulary


class BeamDecoder:
    """CTC beam search over a word n-gram (flashlight-text's ``LexiconDecoder`` + KenLM).

    The lexicon spells each word of the LM's vocabulary with the model's own
    SentencePiece tokenizer, so hypotheses are made of LM words; ``lm_weight``
    (alpha) and ``word_score`` (beta) default to those of the public MedASR
    integration (beam 8, 0.5, 1.5). Words the LM does not know cannot be produced:
    that is why partials and models without an LM stay greedy.
    """

    name = "kenlm-beam"

    def __init__(
        self,
        lm_path: Path | str,
        tokenizer,
        pieces: list[str],
        blank_id: int,
        beam: int = 8,
        lm_weight: float = 0.5,
        word_score: float = 1.5,
    ):
        from flashlight.lib.text.decoder import (
            CriterionType,
            LexiconDecoder,
            LexiconDecoderOptions,
            SmearingMode,
            Trie,
        )
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary, create_word_dict

        lm_path = Path(lm_path)
        self.pieces = pieces
        self.blank_id = blank_id
        tokens = Dictionary(pieces)
        known = set(pieces)
        lexicon: dict[str, list[list[str]]] = {"<unk>": [["<unk>"]]}
        for word in read_arpa_vocabulary(lm_path):
            if word in ("<s>", "</s>", "<unk>"):
                continue
            spelling = tokenizer.tokenize(word)
            if spelling and all(piece in known for piece in spelling):
                lexicon[word] = [spelling]
        self.words = create_word_dict(lexicon)
        self.lm = KenLM(str(lm_path), self.words)
        trie = Trie(len(pieces), blank_id)
        start = self.lm.start(False)
        for word, spellings in lexicon.items():
            index = self.words.get_index(word)
            _, score = self.lm.score(start, index)
            for spelling in spellings:
                trie.insert([tokens.get_index(p) for p in spelling], index, score)
        trie.smear(SmearingMode.MAX)
        options = LexiconDecoderOptions(
            beam_size=beam,
            beam_size_token=len(pieces),
            beam_threshold=25.0,
            lm_weight=lm_weight,
            word_score=word_score,
            unk_score=float("-inf"),
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        # MedASR's pieces carry the word boundary ("▁lung"): no silence token, blank stands in.
        self.decoder = LexiconDecoder(
            options, trie, self.lm, blank_id, blank_id, self.words.get_index("<unk>"), [], False
        )
        self.vocabulary = len(lexicon) - 1
        self._lock = threading.Lock()  # a decoder keeps its hypotheses between calls

    def decode(self, logprobs: np.ndarray) -> np.ndarray:
        """The best path as CTC ids per frame (same shape as greedy's argmax)."""
        frames = len(logprobs)
        if frames == 0:
            return np.zeros(0, np.int64)
        emissions = np.ascontiguousarray(logprobs, dtype=np.float32)
        with self._lock:
            results = self.decoder.decode(emissions.ctypes.data, frames, emissions.shape[1])
        if not results:
            return emissions.argmax(-1)
        path = list(results[0].tokens)[1 : frames + 1]  # padded by one step at each end
        ids = np.asarray(path, dtype=np.int64)
        return np.where(ids < 0, self.blank_id, ids)
