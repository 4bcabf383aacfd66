"""models_status and build_tiny_models."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_status_without_models_says_how_to_install(settings):
    settings.MEDASR_MODEL = ""
    settings.MEDGEMMA_MODEL = ""
    text = run("models_status")
    assert "MedASR: NOT INSTALLED" in text and "set MEDASR_MODEL=<hub id or local dir>" in text
    assert "MedGemma: NOT INSTALLED" in text and "set MEDGEMMA_MODEL=" in text


def test_status_shows_location_device_and_random_label(settings, tiny_models):
    settings.MEDASR_MODEL = str(tiny_models["medasr"])
    settings.MEDGEMMA_MODEL = str(tiny_models["medgemma"])
    settings.INFERENCE_DEVICE = "cpu"
    text = run("models_status")
    assert f"MedASR: installed at {tiny_models['medasr']}" in text
    assert text.count("[RANDOM WEIGHTS: output is noise]") == 2
    assert "Inference device: cpu float32" in text
    data = json.loads(run("models_status", "--json", "--load"))
    medasr, medgemma = data["models"]
    assert medasr["installed"] and medasr["random_weights"] and medasr["device"] == "cpu"
    assert medasr["parameters"] > 10_000 and medgemma["parameters"] > 10_000


def test_status_of_a_hub_id_not_in_the_cache(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    settings.MEDGEMMA_MODEL = "google/medgemma-1.5-4b-it"
    text = run("models_status")
    assert "MedGemma: NOT INSTALLED" in text and "not in the local Hugging Face cache" in text


def test_build_tiny_models_prints_the_settings(tmp_path):
    text = run("build_tiny_models", str(tmp_path / "tiny"))
    assert f"MEDASR_MODEL={tmp_path / 'tiny' / 'medasr'}" in text
    assert f"MEDGEMMA_MODEL={tmp_path / 'tiny' / 'medgemma'}" in text
    assert "random-weight" in text.lower()
    assert (tmp_path / "tiny" / "medgemma" / "RANDOM_WEIGHTS.json").is_file()
