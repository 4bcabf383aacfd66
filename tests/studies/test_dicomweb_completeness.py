"""DICOMweb completeness: Available Transfer Syntax UID, HEAD, study/series rendered,
transcoding instead of 406."""

import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes
from tests.studies.dicomweb_helpers import sample_with_new_uids, split_multipart

pytestmark = pytest.mark.django_db
EXPLICIT = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"


def stored(*datasets):
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok
    return datasets


def study_url(ds):
    return f"/dicomweb/studies/{ds.StudyInstanceUID}"


def instance_url(ds):
    return f"{study_url(ds)}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


def test_metadata_carries_available_transfer_syntax(attending_client):
    (ds,) = stored(sample_with_new_uids("MR_small_RLE.dcm"))
    body = attending_client.get(study_url(ds) + "/metadata").json()
    assert body[0]["00083002"] == {"vr": "UI", "Value": [RLE]}


def test_head_answers_like_get_without_a_body(attending_client):
    (ds,) = stored(make_dataset())
    get = attending_client.get(study_url(ds) + "/metadata")
    head = attending_client.head(study_url(ds) + "/metadata")
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(get.content))
    assert head["Content-Type"] == get["Content-Type"]
    retrieve = attending_client.head(
        study_url(ds), headers={"Accept": 'multipart/related; type="application/dicom"'}
    )
    assert retrieve.status_code == 200 and not retrieve.streaming
    assert retrieve["Content-Type"].startswith("multipart/related")
    assert attending_client.head(study_url(make_dataset()) + "/metadata").status_code == 404


def test_compressed_instances_are_transcoded_on_request(attending_client):
    (ds,) = stored(sample_with_new_uids("MR_small_RLE.dcm"))
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT}'
    response = attending_client.get(study_url(ds), headers={"Accept": accept})
    assert response.status_code == 200
    [(content_type, payload)] = split_multipart(response)
    assert content_type == f"application/dicom; transfer-syntax={EXPLICIT}"
    got = pydicom.dcmread(io.BytesIO(payload))
    assert got.file_meta.TransferSyntaxUID == EXPLICIT
    assert np.array_equal(got.pixel_array, ds.pixel_array)  # lossless: the same pixels
    assert "transcoded" in response["Warning"]
    bare = attending_client.get(
        instance_url(ds), headers={"Accept": f"application/dicom; transfer-syntax={EXPLICIT}"}
    )
    assert bare.status_code == 200
    assert pydicom.dcmread(io.BytesIO(bare.content)).file_meta.TransferSyntaxUID == EXPLICIT
    # Other syntaxes are still not produced here.
    other = attending_client.get(
        study_url(ds),
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=1.2.3'},
    )
    assert other.status_code == 406


def test_study_and_series_rendered(attending_client):
    series = stored(*make_ct_series(3))
    first = series[0]
    for url in (
        study_url(first) + "/rendered",
        f"{study_url(first)}/series/{first.SeriesInstanceUID}/rendered",
    ):
        response = attending_client.get(
            url, headers={"Accept": 'multipart/related; type="image/png"'}
        )
        assert response.status_code == 200, response.content
        parts = split_multipart(response)
        assert [t for t, _ in parts] == ["image/png"] * 3
        assert Image.open(io.BytesIO(parts[0][1])).size == (32, 32)


def test_outsider_gets_none_of_it(outsider_client):
    (ds,) = stored(make_dataset())
    assert outsider_client.head(study_url(ds) + "/metadata").status_code == 403
    assert outsider_client.get(study_url(ds) + "/rendered").status_code == 403


def test_cached_series_metadata_follows_new_instances(
    attending_client, django_assert_max_num_queries
):
    first, second = make_ct_series(2)
    stored(first)
    url = f"{study_url(first)}/series/{first.SeriesInstanceUID}/metadata"
    assert len(attending_client.get(url).json()) == 1
    stored(second)
    body = attending_client.get(url).json()
    assert [item["00080018"]["Value"][0] for item in body] == [
        first.SOPInstanceUID,
        second.SOPInstanceUID,
    ]
    assert len(attending_client.get(study_url(first) + "/metadata").json()) == 2
    with django_assert_max_num_queries(12):  # a cache hit reads no instance rows
        again = attending_client.get(url)
    assert again.json() == body


def test_partial_stow_carries_a_warning(attending_client):
    from tests.studies.dicomweb_helpers import stow

    response = stow(attending_client, [to_bytes(make_dataset()), b"not dicom" * 40])
    assert response.status_code == 202
    assert response["Warning"].startswith("299 ") and "1 of 2" in response["Warning"]
    assert "Warning" not in stow(attending_client, [to_bytes(make_dataset())])
