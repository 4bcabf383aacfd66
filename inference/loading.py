"""Load each model once per process, thread-safe, on CUDA (bfloat16) or CPU.

Only transformers' generic entry points are used: ``AutoProcessor`` with
``AutoModelForCTC`` (MedASR) or ``AutoModelForImageTextToText`` (MedGemma).
A source is a hub id (``google/medasr``) or a local directory.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.errors import ModelNotInstalled

_cache: dict[tuple, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, from where, on which device; shown by ``models_status``."""

    model: str
    source: str
    device: str
    dtype: str
    parameters: int
    random_weights: bool
    quantization: str = ""


def is_local_source(source: str) -> bool:
    """A source that names a path (absolute, relative or existing) rather than a hub id."""
    return (
        source.startswith(("/", ".", "~"))
        or Path(source).expanduser().exists()
        or source.count("/") != 1
    )


def resolve_device(preference: str = "auto") -> tuple[str, str]:
    """Return ``(device, dtype name)``: CUDA in bfloat16 when available, else CPU in float32.

    ``preference`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (the INFERENCE_DEVICE setting).
    """
    import torch

    preference = (preference or "auto").strip().lower()
    if preference == "cpu":
        return "cpu", "float32"
    if preference.startswith("cuda") or preference == "auto":
        if torch.cuda.is_available():
            return ("cuda" if preference == "auto" else preference), "bfloat16"
        if preference != "auto":
            raise RuntimeError(f"INFERENCE_DEVICE={preference} but CUDA is not available")
    return "cpu", "float32"


def check_source(model: str, source: str) -> Path | str:
    """Validate a model source without loading it; raise ``ModelNotInstalled`` if unusable."""
    if not source or not source.strip():
        raise ModelNotInstalled(model, "no model configured")
    source = source.strip()
    if is_local_source(source):
        path = Path(source).expanduser().resolve()
        if not (path / "config.json").is_file():
            raise ModelNotInstalled(model, "no config.json in that folder", source)
        if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
            raise ModelNotInstalled(model, "no weight files in that folder", source)
        return path
    return source


def local_random_label(path: Path | str) -> bool:
    """True when a local model folder is labelled as random weights (see ``inference.tiny``)."""
    config = Path(path) / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return bool(data.get("reading_room_random_weights"))


def attention_backends(device) -> contextlib.AbstractContextManager:
    """On CUDA, SDPA without the cuDNN backend.

    cuDNN attention rebuilds its graph for every new sequence length: while
    decoding (one new length per token) or re-decoding a growing audio window,
    that cost ~1 ms of CPU per layer per call, more than the GPU work itself
    (measured on an H100). Flash and memory-efficient attention have no such cost.
    """
    kind = device.type if hasattr(device, "type") else str(device).split(":")[0]
    if kind != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    return sdpa_kernel(backends)


def _load(model: str, source: str, device: str, quantize: str, auto_model_name: str):
    import torch
    import transformers

    checked = check_source(model, source)
    device_name, dtype_name = resolve_device(device)
    dtype = getattr(torch, dtype_name)
    auto_model = getattr(transformers, auto_model_name)
    try:
        processor = transformers.AutoProcessor.from_pretrained(str(checked))
        network = auto_model.from_pretrained(str(checked), dtype=dtype)
    except (OSError, ValueError) as exc:
        # Gated, absent from the cache while offline, or a half-downloaded folder.
        raise ModelNotInstalled(model, str(exc).splitlines()[0][:300], source) from exc
    network = network.to(device_name).eval()
    parameters = sum(p.numel() for p in network.parameters())
    quantization = ""
    if quantize == "int8":
        if device_name != "cpu":
            raise ValueError("int8 dynamic quantisation is a CPU path")
        network = torch.ao.quantization.quantize_dynamic(
            network, {torch.nn.Linear}, dtype=torch.qint8
        )
        quantization = "int8-dynamic"
    info = ModelInfo(
        model=model,
        source=str(checked),
        device=device_name,
        dtype=dtype_name,
        parameters=parameters,
        random_weights=bool(getattr(network.config, "reading_room_random_weights", False)),
        quantization=quantization,
    )
    return processor, network, info


def _cached(key: tuple, factory):
    # One lock for all loads: two threads asking for the same model get one copy,
    # and loading two multi-GB models at once would only thrash memory.
    with _lock:
        if key not in _cache:
            _cache[key] = factory()
        return _cache[key]


def load_asr(source: str, device: str = "auto", quantize: str = ""):
    """Return the process-wide :class:`inference.asr_engine.AsrEngine` for ``source``."""
    from inference.asr_engine import AsrEngine
    from inference.ctc_decoding import find_lm

    def factory():
        processor, network, info = _load("medasr", source, device, quantize, "AutoModelForCTC")
        engine = AsrEngine(processor, network, info)
        lm = find_lm(info.source) if Path(info.source).is_dir() else None
        if lm is not None:
            from inference.ctc_decoding import BeamDecoder

            engine.beam = BeamDecoder(lm, processor.tokenizer, engine.pieces, engine.blank_id)
        return engine

    return _cached(("medasr", source, device, quantize), factory)


def load_medgemma(source: str, device: str = "auto"):
    """Return the process-wide :class:`inference.medgemma.MedGemmaEngine` for ``source``."""
    from inference.medgemma import MedGemmaEngine

    def factory():
        processor, network, info = _load(
            "medgemma", source, device, "", "AutoModelForImageTextToText"
        )
        return MedGemmaEngine(processor, network, info)

    return _cached(("medgemma", source, device), factory)


def clear_cache() -> None:
    """Forget loaded models (tests, or a worker that switches weights)."""
    with _lock:
        _cache.clear()
