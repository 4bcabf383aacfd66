"""AI jobs on the small demo studies with a tiny random-weight MedGemma.

The model's answers are noise: tests assert on the pipeline (jobs, annotations,
events, coordinates), never on words. ``min_new_tokens`` keeps answers from
ending at once so there is always something to store.
"""

from __future__ import annotations

import pytest

from reading.studies.demo import DemoScale, demo_studies
from reading.studies.demo.seed import seed_study
from reading.studies.models import Study

# Long enough to give text findings, short enough to keep the suite fast.
TOKENS = {"max_new_tokens": 24, "min_new_tokens": 24}


@pytest.fixture(scope="session")
def tiny_medgemma(tmp_path_factory):
    import torch

    from inference.tiny import build_tiny_medgemma

    torch.set_num_threads(1)
    return build_tiny_medgemma(tmp_path_factory.mktemp("tiny-medgemma"))


@pytest.fixture
def medgemma(settings, tiny_medgemma):
    settings.MEDGEMMA_MODEL = str(tiny_medgemma)
    settings.INFERENCE_DEVICE = "cpu"
    return tiny_medgemma


def _seed(labels: tuple[str, ...]) -> dict[str, Study]:
    out = {}
    for study in demo_studies(DemoScale.small()):
        if study.label.startswith(labels):
            result = seed_study(study)
            assert not result.failures, result.failures
            out[study.label.split(" (")[0] + (" prior" if "prior" in study.label else "")] = (
                Study.objects.get(study_instance_uid=study.info.study_uid)
            )
    return out


@pytest.fixture
def demo(transactional_db):
    """Small chest CT (current and prior) and chest radiograph, stored through ingest.

    Transactional: jobs are enqueued on commit, as in production.
    """
    return _seed(("Chest CT", "Chest radiograph"))


def series_uid(study: Study) -> str:
    return study.series.order_by("series_number").first().series_instance_uid
