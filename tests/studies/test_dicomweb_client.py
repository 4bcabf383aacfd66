"""DICOMweb driven by the real ``dicomweb-client`` against a live server.

pytest-django's ``live_server`` (threaded WSGI) serves the app; the client
authenticates with a per-user Bearer token, exactly as an external client would.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.uid import generate_uid

from reading.accounts.services import create_api_token
from reading.audit.models import AuditEvent
from reading.studies.models import Instance
from tests.dicom_factory import make_ct_series
from tests.studies.dicomweb_helpers import (
    COMPRESSED_FILES,
    sample_with_new_uids,
    source_frames,
    stow_body,
)

pytestmark = pytest.mark.django_db(transaction=True)
PASS_THROUGH = (("application/octet-stream", "*"),)


def _client(live_server, user) -> DICOMwebClient:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {create_api_token(user).key}"
    # The test server is WSGI (wsgiref), which cannot read chunked request bodies;
    # a large chunk size makes the client send a Content-Length instead. Daphne
    # takes chunked bodies (see bench/dicomweb.py).
    return DICOMwebClient(
        url=f"{live_server.url}/dicomweb", session=session, chunk_size=64 * 1024 * 1024
    )


@pytest.fixture
def dicomweb(live_server, attending):
    return _client(live_server, attending)


def test_store_search_retrieve_with_dicomweb_client(dicomweb, live_server):
    study_uid = generate_uid()
    ct = make_ct_series(4, study_uid=study_uid, patient_id="LIVE-1", patient_name="Live^Test")
    samples = [sample_with_new_uids(name, study_uid) for name in COMPRESSED_FILES]
    for ds in samples:  # one patient for the whole study
        ds.PatientID, ds.PatientName = "LIVE-1", "Live^Test"
    for ds in ct:
        # dicomweb-client writes datasets with pydicom.dcmwrite, which adds the
        # PS3.10 preamble and "DICM" prefix only when the dataset has a preamble
        # (as every dataset read from a file has).
        ds.preamble = b"\0" * 128

    response = dicomweb.store_instances(ct + samples)
    stored = {item.ReferencedSOPInstanceUID for item in response.ReferencedSOPSequence}
    assert stored == {ds.SOPInstanceUID for ds in ct + samples}
    assert "FailedSOPSequence" not in response
    assert Instance.objects.count() == 9

    # Search it several ways.
    found = dicomweb.search_for_studies(search_filters={"PatientName": "live*"})
    assert [pydicom.Dataset.from_json(s).StudyInstanceUID for s in found] == [study_uid]
    study = pydicom.Dataset.from_json(found[0])
    assert study.NumberOfStudyRelatedInstances == 9
    assert set(study.ModalitiesInStudy) == {"CT", "MR", "NM", "OT"}
    assert dicomweb.search_for_studies(search_filters={"PatientID": "nobody"}) == []
    by_modality = dicomweb.search_for_series(
        study_instance_uid=study_uid, search_filters={"Modality": "CT"}
    )
    assert [pydicom.Dataset.from_json(s).SeriesInstanceUID for s in by_modality] == [
        ct[0].SeriesInstanceUID
    ]
    dated = dicomweb.search_for_studies(
        search_filters={"StudyDate": "20261101-20261130", "ModalitiesInStudy": "CT"},
        fields=["StudyDescription"],
    )
    assert len(dated) == 1
    instances = dicomweb.search_for_instances(
        study_instance_uid=study_uid, series_instance_uid=ct[0].SeriesInstanceUID, limit=2
    )
    assert [pydicom.Dataset.from_json(i).InstanceNumber for i in instances] == [1, 2]

    # Metadata, with bulk data URIs the client can follow.
    metadata = dicomweb.retrieve_series_metadata(study_uid, ct[0].SeriesInstanceUID)
    assert len(metadata) == 4
    first = pydicom.Dataset.from_json(metadata[0], bulk_data_uri_handler=lambda *a: b"")
    assert first.Rows == 32 and first.PixelSpacing == [0.7, 0.7]
    pixel_uri = metadata[0]["7FE00010"]["BulkDataURI"]
    assert dicomweb.retrieve_bulkdata(pixel_uri) == [ct[0].PixelData]

    # Native frames, byte for byte.
    for ds in ct:
        frames = dicomweb.retrieve_instance_frames(
            study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID, [1], media_types=PASS_THROUGH
        )
        assert frames == [ds.PixelData]
    # Compressed frames passed through, then decoded by the server on request.
    for ds in samples:
        n = int(ds.get("NumberOfFrames", 1) or 1)
        frames = dicomweb.retrieve_instance_frames(
            study_uid,
            ds.SeriesInstanceUID,
            ds.SOPInstanceUID,
            list(range(1, n + 1)),
            media_types=PASS_THROUGH,
        )
        assert frames == source_frames(ds), ds.file_meta.TransferSyntaxUID
        decoded = dicomweb.retrieve_instance_frames(
            study_uid,
            ds.SeriesInstanceUID,
            ds.SOPInstanceUID,
            [n],
            media_types=(("application/octet-stream", "1.2.840.10008.1.2.1"),),
        )
        assert decoded == [pydicom.pixels.pixel_array(ds, index=n - 1).tobytes()]

    # Whole instances come back exactly as stored (here: as the client encoded them).
    retrieved = dicomweb.retrieve_study(study_uid)
    assert len(retrieved) == 9
    by_uid = {ds.SOPInstanceUID: ds for ds in retrieved}
    for ds in samples:
        assert by_uid[ds.SOPInstanceUID].PixelData == ds.PixelData
        np.testing.assert_array_equal(by_uid[ds.SOPInstanceUID].pixel_array, ds.pixel_array)

    # Rendered.
    png = dicomweb.retrieve_instance_rendered(
        study_uid,
        ct[0].SeriesInstanceUID,
        ct[0].SOPInstanceUID,
        media_types=("image/png",),
        params={"window": "-764,512,linear"},
    )
    assert Image.open(io.BytesIO(png)).size == (32, 32)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"store", "search", "metadata", "retrieve", "render"} <= actions


def test_bad_input_over_http(dicomweb, live_server, outsider):
    url = f"{live_server.url}/dicomweb/studies"
    headers = {"Authorization": dicomweb._session.headers["Authorization"]}
    content_type = 'multipart/related; type="application/dicom"; boundary=stowboundary42'

    garbage = requests.post(
        url, data=b"garbage", headers={**headers, "Content-Type": content_type}, timeout=20
    )
    assert garbage.status_code == 400

    series = make_ct_series(2, rows=64, columns=64)
    body = stow_body([ds_bytes(ds) for ds in series])
    truncated = requests.post(
        url, data=body[:-2000], headers={**headers, "Content-Type": content_type}, timeout=20
    )
    assert truncated.status_code == 202
    assert Instance.objects.count() == 1

    non_dicom = stow_body([b"just text"]).replace(b"application/dicom", b"text/plain")
    answer = requests.post(
        url, data=non_dicom, headers={**headers, "Content-Type": content_type}, timeout=20
    )
    assert answer.status_code == 409

    assert requests.get(url, timeout=20).status_code == 401
    outsider_client = _client(live_server, outsider)
    with pytest.raises(requests.HTTPError) as excinfo:
        outsider_client.search_for_studies()
    assert excinfo.value.response.status_code == 403
    with pytest.raises(requests.HTTPError) as excinfo:
        outsider_client.store_instances(make_ct_series(1))
    assert excinfo.value.response.status_code == 403
    assert Instance.objects.count() == 1


def ds_bytes(ds) -> bytes:
    from tests.dicom_factory import to_bytes

    return to_bytes(ds)
