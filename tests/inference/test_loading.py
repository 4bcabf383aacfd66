"""Loading through the Auto entry points, once per process; typed missing-model errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference.errors import ModelNotInstalled
from inference.loading import check_source, load_asr, load_medgemma, resolve_device
from inference.tiny import RANDOM_LABEL


def test_tiny_models_are_the_real_classes_and_labelled_random(
    tiny_models, asr_engine, medgemma_engine
):
    assert type(asr_engine.model).__name__ == "LasrForCTC"
    assert type(asr_engine.processor).__name__ == "LasrProcessor"
    assert type(medgemma_engine.model).__name__ == "Gemma3ForConditionalGeneration"
    assert type(medgemma_engine.processor).__name__ == "Gemma3Processor"
    for key in ("medasr", "medgemma"):
        config = json.loads((tiny_models[key] / "config.json").read_text())
        assert config["reading_room_random_weights"] is True
        assert config["reading_room_label"] == RANDOM_LABEL
    assert asr_engine.info.random_weights and medgemma_engine.info.random_weights
    assert asr_engine.info.device == "cpu" and asr_engine.info.dtype == "float32"
    assert asr_engine.blank_id == 0
    assert asr_engine.processor.tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == [
        "<epsilon>",
        "<s>",
        "</s>",
        "<unk>",
    ]


def test_loaded_once_per_process_and_thread_safe(tiny_models, fresh_cache):
    source = str(tiny_models["medasr"])
    barrier = threading.Barrier(4)

    def load(_):
        barrier.wait()
        return load_asr(source, device="cpu")

    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(load, range(4)))
    assert all(engine is engines[0] for engine in engines)


def test_missing_model_errors_carry_instructions(tmp_path):
    with pytest.raises(ModelNotInstalled) as error:
        load_asr("")
    message = str(error.value)
    assert message.startswith("MedASR not installed")
    assert "set MEDASR_MODEL=<hub id or local dir>" in message
    assert "build_tiny_models" in message
    with pytest.raises(ModelNotInstalled, match="no config.json"):
        load_medgemma(str(tmp_path / "absent"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotInstalled, match="no weight files"):
        check_source("medgemma", str(tmp_path))
    with pytest.raises(ModelNotInstalled, match="MEDGEMMA_MODEL="):
        check_source("medgemma", "  ")


def test_unreachable_hub_id_is_model_not_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code = (
        "from inference.loading import load_asr\n"
        "from inference.errors import ModelNotInstalled\n"
        "try:\n    load_asr('google/medasr', device='cpu')\n"
        "except ModelNotInstalled as e:\n    print('NOT-INSTALLED', e.setting)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "NOT-INSTALLED MEDASR_MODEL" in out.stdout, out.stderr[-2000:]


def test_importing_the_package_does_not_import_torch():
    code = (
        "import sys, inference, inference.medasr, inference.asr_protocol, inference.asr_batch, "
        "inference.medgemma, inference.loading, "
        "inference.preprocessing, inference.parsing, inference.prompts, inference.commands, "
        "inference.tasks\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules, 'django' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "False"], out.stderr


def test_device_resolution():
    assert resolve_device("cpu") == ("cpu", "float32")
    device, dtype = resolve_device("auto")
    assert (device, dtype) in {("cpu", "float32"), ("cuda", "bfloat16")}
