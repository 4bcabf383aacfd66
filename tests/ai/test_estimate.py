"""The estimate said before an analysis starts: model size first, then past timings."""

from __future__ import annotations

from reading.ai import services
from reading.ai.estimate import FULL_PARAMETERS, PER_IMAGE_S, estimate, model_parameters
from tests.ai.conftest import TOKENS, series_uid


def test_estimate_from_model_size_then_from_past_runs(demo, medgemma, client, resident, outsider):
    ct = demo["Chest CT"]
    uid = series_uid(ct)
    assert model_parameters("") == FULL_PARAMETERS  # a hub id or nothing: the full model
    assert model_parameters(medgemma) < 1e7  # the tiny test model, from its weight files
    frames = ct.series.get(series_instance_uid=uid).instances.count()
    full = estimate(ct, uid, "findings", 100)
    assert full["basis"] == "model size" and full["device"] == "cpu"
    assert full["images"] == frames and full["tokens"] == 100
    assert full["seconds"] < frames * PER_IMAGE_S["cpu"]  # the tiny model is cheaper
    assert estimate(ct, uid, "compare_prior", 100)["images"] == 2 * frames

    client.force_login(outsider)
    url = f"/api/ai/estimate/?study={ct.study_instance_uid}&series={uid}&task=findings"
    assert client.get(url).status_code == 403
    client.force_login(resident)
    services.request_analysis(resident, ct.study_instance_uid, uid, parameters=TOKENS)
    past = client.get(url).json()
    assert past["basis"] == "past" and past["past_jobs"] == 1 and past["seconds"] > 0
    assert past["tokens"] == services.DEFAULT_NEW_TOKENS["findings"]
    assert past["model"] == {"installed": True, "random_weights": True, "instruction": ""}


def test_estimate_says_when_medgemma_is_not_installed(demo, settings, client, resident):
    """The panel tells the reader before any job fails, with the exact setting."""
    settings.MEDGEMMA_MODEL = ""
    ct = demo["Chest CT"]
    client.force_login(resident)
    url = f"/api/ai/estimate/?study={ct.study_instance_uid}&series={series_uid(ct)}&task=findings"
    model = client.get(url).json()["model"]
    assert model["installed"] is False and not model["random_weights"]
    assert "MEDGEMMA_MODEL=" in model["instruction"]
