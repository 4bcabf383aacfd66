import pytest
from django.test import Client

from reading.studies.models import Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes


def _store(**kwargs) -> Study:
    datasets = make_ct_series(3, **kwargs)
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok
    return Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)


@pytest.fixture
def ct_chest(db) -> Study:
    """A stored 3-slice CT chest (description "CT CHEST W/O CONTRAST", body part CHEST)."""
    return _store()


@pytest.fixture
def store_study(db):
    return _store


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_resident(resident):
    return _client(resident)


@pytest.fixture
def as_attending(attending):
    return _client(attending)


@pytest.fixture
def as_admin(admin_user):
    return _client(admin_user)


@pytest.fixture
def as_outsider(outsider):
    return _client(outsider)


def fill(text: str) -> str:
    """Fill every blank and number field the way a radiologist would."""
    import re

    text = re.sub(r"«_+ (\S[^»]*)»", r"4 \1", text)
    return re.sub(r"«_+»", "see above", text)
