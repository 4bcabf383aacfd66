"""The study page: its series, and a way into the viewer."""

import pytest

from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_uid(db):
    datasets = make_ct_series(2)
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok
    return str(datasets[0].StudyInstanceUID)


def test_study_page_links_to_the_viewer(attending_client, study_uid):
    response = attending_client.get(f"/studies/{study_uid}/")
    assert response.status_code == 200
    assert f'href="/viewer/{study_uid}/"' in response.content.decode()


def test_outsider_gets_no_study_page(outsider_client, study_uid):
    response = outsider_client.get(f"/studies/{study_uid}/")
    assert response.status_code in (403, 404)
    assert f"/viewer/{study_uid}/" not in response.content.decode()
