import pytest

from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes


@pytest.fixture
def ct_study(db):
    """A stored 3-slice CT study; returns (study_uid, [sop uids], series uid)."""
    datasets = make_ct_series(3)
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok
    return (
        str(datasets[0].StudyInstanceUID),
        [str(ds.SOPInstanceUID) for ds in datasets],
        str(datasets[0].SeriesInstanceUID),
    )


@pytest.fixture
def resident_client(client, resident):
    client.force_login(resident)
    return client
