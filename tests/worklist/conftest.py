"""Worklist test helpers: studies built straight in the database (fast), plus readers."""

from __future__ import annotations

import itertools
from datetime import date, time

import pytest

from reading.studies.models import Patient, Study
from reading.worklist import services
from reading.worklist.models import PRIORITY_RANK, Priority, ReadingItem

_seq = itertools.count(1)


def build_study(
    *,
    patient_name: str = "Doe^Jane",
    patient_id: str | None = None,
    accession: str | None = None,
    modality: str = "CT",
    body_part: str = "CHEST",
    description: str = "CT CHEST",
    study_date: date = date(2026, 11, 20),
    study_time: time = time(10, 0),
    priority: str = Priority.ROUTINE,
    institution: str = "General Hospital",
    images: int = 10,
) -> Study:
    n = next(_seq)
    patient, _ = Patient.objects.get_or_create(
        patient_id=patient_id or f"MRN{n:05d}",
        issuer_of_patient_id="",
        defaults={
            "patient_name": patient_name,
            "patient_sex": "F",
            "patient_birth_date": date(1960, 1, 1),
        },
    )
    study = Study.objects.create(
        study_instance_uid=f"1.2.826.0.1.3680043.10.1.{n}",
        patient=patient,
        accession_number=accession or f"ACC{n:05d}",
        study_date=study_date,
        study_time=study_time,
        study_description=description,
        modalities_in_study=modality,
        body_part_examined=body_part,
        institution_name=institution,
        number_of_study_related_instances=images,
    )
    item = services.ensure_item(study)
    ReadingItem.objects.filter(pk=item.pk).update(
        priority=priority, priority_rank=PRIORITY_RANK[Priority(priority)]
    )
    return study


@pytest.fixture
def make_study(db):
    return build_study


@pytest.fixture
def attending2(db, django_user_model):
    user = django_user_model(username="att2", role="attending", display_name="Att2")
    user.set_password("pw-att2")
    user.save()
    return user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttles and audit de-duplication live in the cache: start each test without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
