"""Tiny random-weight models of the real architectures, for tests and smoke runs.

The models built here have the SAME classes, processors and tokenizer types as
MedASR (``LasrForCTC``) and MedGemma 1.5 (``Gemma3ForConditionalGeneration``),
at a size that builds in well under a second. Their weights are random: every
config carries ``reading_room_random_weights = True`` and a ``_name_or_path``
label that says so, and ``models_status`` shows it. Their output is noise and
must never be read as a finding.
"""

from __future__ import annotations

import json
from pathlib import Path

RANDOM_LABEL = "reading-room tiny RANDOM-WEIGHT model (output is noise)"

# Gemma 3's chat template: image parts become <start_of_image>, roles alternate,
# the assistant role is called "model".
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- if messages[0]['content'] is string -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}"
    "{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}{%- set role = 'model' -%}"
    "{%- else -%}{%- set role = message['role'] -%}{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{%- if message['content'] is string -%}"
    "{{ message['content'] | trim }}"
    "{%- elif message['content'] is iterable -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<start_of_image>' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] | trim }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- else -%}"
    "{{ raise_exception('Invalid content type') }}"
    "{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

_ASR_TEXT = (
    "▁the ▁no ▁of ▁and ▁is ▁in ▁with ▁right ▁left ▁lung ▁chest ▁normal ▁acute ▁effusion "
    "▁pleural ▁heart ▁size ▁there ▁mild ▁findings ▁impression ▁period ▁comma ▁new ▁line "
    "▁paragraph ▁next ▁field ▁scratch ▁that ▁colon ▁a ▁b ▁c ▁d ▁e ▁f ▁g ▁h ▁i ▁l ▁m ▁n "
    "▁o ▁p ▁r ▁s ▁t ▁u ▁y ▁ a b c d e f g h i j k l m n o p q r s t u v w x y z ' -"
)
_ASR_PIECES = _ASR_TEXT.split()


def _mark_random(config) -> None:
    config.reading_room_random_weights = True
    config.reading_room_label = RANDOM_LABEL


def medasr_processor(vocab_size: int | None = None):
    """A ``LasrProcessor`` with a hand-made Unigram vocabulary laid out as MedASR's.

    Ids 0 ``<epsilon>`` (pad and CTC blank), 1 ``<s>``, 2 ``</s>``, 3 ``<unk>``, then
    word pieces; ``vocab_size`` pads the vocabulary with numbered pieces (MedASR has 512).
    """
    from transformers import LasrFeatureExtractor, LasrProcessor, LasrTokenizer

    vocab = [("<epsilon>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(piece, -1.0 - i * 0.01) for i, piece in enumerate(_ASR_PIECES)]
    if vocab_size is not None:
        vocab += [(f"▁w{i}", -5.0) for i in range(max(0, vocab_size - len(vocab)))]
    tokenizer = LasrTokenizer(
        vocab=vocab,
        pad_token="<epsilon>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        extra_ids=0,
        additional_special_tokens=[],
    )
    return LasrProcessor(feature_extractor=LasrFeatureExtractor(), tokenizer=tokenizer)


def medasr_model(vocab_size: int, encoder: dict | None = None):
    """A random ``LasrForCTC``; ``encoder=None`` is the published MedASR encoder (105M params)."""
    from transformers import LasrCTCConfig, LasrEncoderConfig, LasrForCTC

    encoder_config = LasrEncoderConfig(**(encoder or {}))
    config = LasrCTCConfig(
        encoder_config=encoder_config.to_dict(), vocab_size=vocab_size, pad_token_id=0
    )
    _mark_random(config)
    return LasrForCTC(config).eval()


TINY_ASR_ENCODER = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "subsampling_conv_channels": 16,
    "conv_kernel_size": 8,
}


def build_tiny_medasr(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random ``LasrForCTC`` + ``LasrProcessor`` to ``directory``.

    Parameters
    ----------
    directory : str or Path
        Target folder; created if missing.
    seed : int
        Torch seed, so that two builds give the same weights.

    Returns
    -------
    Path
        The folder, loadable with ``AutoProcessor`` + ``AutoModelForCTC``.
    """
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    processor = medasr_processor()
    model = medasr_model(len(processor.tokenizer), TINY_ASR_ENCODER)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    _write_label(directory, "medasr")
    return directory


# MedGemma 1.5 4B's published configuration (Gemma 3 4B with a SigLIP-400M vision tower).
MEDGEMMA_4B_TEXT = {
    "vocab_size": 262208,
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "num_hidden_layers": 34,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "sliding_window": 1024,
    "query_pre_attn_scalar": 256,
    "max_position_embeddings": 131072,
    "rope_scaling": {"rope_type": "linear", "factor": 8.0},
}
MEDGEMMA_4B_VISION = {
    "model_type": "siglip_vision_model",
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 896,
    "patch_size": 14,
    "vision_use_head": False,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "sliding_window": 64,
    "max_position_embeddings": 4096,
}
TINY_VISION = {
    "model_type": "siglip_vision_model",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 64,
    "patch_size": 16,
    "vision_use_head": False,
}


def medgemma_processor(image_size: int = 64, tokens_per_image: int = 4):
    """A ``Gemma3Processor``: ``GemmaTokenizer`` with Gemma 3's chat template and image tokens.

    The vocabulary is small (specials, byte fallback, characters); ids of the
    image tokens are read from it by :func:`medgemma_model`.
    """
    from transformers import Gemma3ImageProcessorPil, Gemma3Processor, GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    chat = ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>"]
    image_token = "<image_soft_token>"
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    letters = list("▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;{}[]\"'-_\n")
    tokens = specials + chat + [image_token] + bytes_
    tokens += [t for t in letters if t not in tokens]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=[],
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": image_token,
        },
    )
    tokenizer.add_special_tokens({"additional_special_tokens": chat + [image_token]})
    tokenizer.chat_template = GEMMA3_CHAT_TEMPLATE
    image_processor = Gemma3ImageProcessorPil(
        size={"height": image_size, "width": image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=GEMMA3_CHAT_TEMPLATE,
        image_seq_length=tokens_per_image,
    )


def medgemma_model(processor, text: dict, vision: dict, tokens_per_image: int, dtype=None):
    """A random ``Gemma3ForConditionalGeneration`` whose special-token ids match ``processor``."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<pad>", "<bos>", "<eos>", "<end_of_turn>")}
    eos = [ids["<eos>"], ids["<end_of_turn>"]]
    text = {"vocab_size": len(tok), **text}
    text.update(pad_token_id=ids["<pad>"], bos_token_id=ids["<bos>"], eos_token_id=eos)
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=tokens_per_image,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
        pad_token_id=ids["<pad>"],
        bos_token_id=ids["<bos>"],
        eos_token_id=eos,
    )
    _mark_random(config)
    if dtype is not None:
        config.dtype = dtype
    model = Gemma3ForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = ids["<pad>"]
    model.generation_config.do_sample = False
    return model


def build_tiny_medgemma(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random ``Gemma3ForConditionalGeneration`` + ``Gemma3Processor``.

    64x64 images, 4 tokens per image, a 2-layer 32-wide text model and a 2-layer
    SigLIP vision tower; the tokenizer carries Gemma 3's chat template and its
    image tokens, so prompts are built exactly as for the real model.
    """
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    processor = medgemma_processor(image_size=64, tokens_per_image=4)
    model = medgemma_model(processor, TINY_TEXT, TINY_VISION, tokens_per_image=4)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    _write_label(directory, "medgemma")
    return directory


def _write_label(directory: Path, kind: str) -> None:
    (directory / "RANDOM_WEIGHTS.json").write_text(
        json.dumps({"model": kind, "random_weights": True, "label": RANDOM_LABEL}, indent=2) + "\n"
    )


def build_tiny_models(directory: str | Path) -> dict[str, Path]:
    """Build both tiny models under ``directory``/medasr and ``directory``/medgemma."""
    directory = Path(directory)
    return {
        "medasr": build_tiny_medasr(directory / "medasr"),
        "medgemma": build_tiny_medgemma(directory / "medgemma"),
    }
