"""STOW-RS through Django's test client: answers, partial failures, malformed input, CSRF."""

from __future__ import annotations

import json

import pytest
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import Client

from reading.audit.models import AuditEvent
from reading.studies.models import Instance, Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes
from tests.studies.dicomweb_helpers import (
    seq_items,
    stow,
    stow_body,
    value,
)

pytestmark = pytest.mark.django_db


def test_stow_stores_and_answers_standard_response(token_client):
    series = make_ct_series(3)
    response = stow(token_client, [to_bytes(ds) for ds in series])
    assert response.status_code == 200, response.content
    payload = json.loads(response.content)
    refs = seq_items(payload, "00081199")
    assert [value(r, "00081155") for r in refs] == [ds.SOPInstanceUID for ds in series]
    assert value(refs[0], "00081150") == series[0].SOPClassUID
    assert value(refs[0], "00081190").startswith("http://testserver/dicomweb/studies/")
    assert value(payload, "00081190").endswith(series[0].StudyInstanceUID)
    assert "00081198" not in payload
    assert Instance.objects.count() == 3
    assert AuditEvent.objects.filter(action="store").count() == 1
    # Identical re-send: success, nothing new stored.
    assert stow(token_client, [to_bytes(series[0])]).status_code == 200
    assert Instance.objects.count() == 3


def test_stow_partial_failures_and_reasons(token_client):
    good = to_bytes(make_dataset())
    conflicting = make_ct_series(1)[0]
    assert ingest_instance(to_bytes(conflicting)).ok
    conflicting.PatientName = "Other^Name"
    response = stow(token_client, [b"not dicom at all" * 20, good, to_bytes(conflicting)])
    assert response.status_code == 202
    payload = json.loads(response.content)
    failed = seq_items(payload, "00081198")
    assert [value(f, "00081197") for f in failed] == [0xC000, 0x0111]
    assert value(failed[1], "00081155") == conflicting.SOPInstanceUID
    assert len(seq_items(payload, "00081199")) == 1
    none_stored = stow(token_client, [b"junk" * 100])
    assert none_stored.status_code == 409
    assert value(seq_items(json.loads(none_stored.content), "00081198")[0], "00081197") == 0xC000


def test_stow_truncated_body_keeps_complete_parts(token_client):
    series = make_ct_series(3, rows=64, columns=64)
    body = stow_body([to_bytes(ds) for ds in series])
    cut = body[: len(body) - 3000]  # inside the last part
    response = token_client.post(
        "/dicomweb/studies",
        data=cut,
        content_type='multipart/related; type="application/dicom"; boundary="stowboundary42"',
    )
    assert response.status_code == 202
    payload = json.loads(response.content)
    assert len(seq_items(payload, "00081199")) == 2
    assert [value(f, "00081197") for f in seq_items(payload, "00081198")] == [0xC000]
    assert set(Instance.objects.values_list("sop_instance_uid", flat=True)) == {
        series[0].SOPInstanceUID,
        series[1].SOPInstanceUID,
    }


def test_stow_oversized_part_is_out_of_resources(token_client, settings):
    small, big = make_dataset(rows=8, columns=8), make_dataset(rows=128, columns=128)
    settings.DICOM_MAX_INSTANCE_BYTES = len(to_bytes(small)) + 100
    response = stow(token_client, [to_bytes(big), to_bytes(small)])
    assert response.status_code == 202
    payload = json.loads(response.content)
    assert [value(f, "00081197") for f in seq_items(payload, "00081198")] == [0xA700]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        small.SOPInstanceUID
    ]


def test_stow_robust_multipart_parsing(token_client):
    ds1, ds2 = make_ct_series(2)
    boundary = "weird'boundary(42)"
    body = (
        b"preamble to ignore\r\n"
        + f"--{boundary}   \r\ncontent-type: application/dicom\r\n\r\n".encode()
        + to_bytes(ds1)
        + f"\r\n--{boundary}\r\n\r\n".encode()  # no part headers: the root type applies
        + to_bytes(ds2)
        + f"\r\n--{boundary}--\r\nepilogue".encode()
    )
    response = token_client.post(
        "/dicomweb/studies",
        data=body,
        content_type=f'multipart/related; boundary="{boundary}"; type=application/dicom',
    )
    assert response.status_code == 200, response.content
    assert Instance.objects.count() == 2


def test_stow_bad_requests(token_client):
    garbage = token_client.post(
        "/dicomweb/studies",
        data=b"\x00\x01 garbage without any boundary",
        content_type='multipart/related; type="application/dicom"; boundary=xyz',
    )
    assert garbage.status_code == 400
    wrong_type = token_client.post("/dicomweb/studies", data=b"{}", content_type="application/json")
    assert wrong_type.status_code == 415
    non_dicom_part = token_client.post(
        "/dicomweb/studies",
        data=b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n",
        content_type='multipart/related; type="application/dicom"; boundary=b',
    )
    assert non_dicom_part.status_code == 409
    failed = seq_items(json.loads(non_dicom_part.content), "00081198")
    assert value(failed[0], "00081197") == 0xC000
    assert not Instance.objects.exists()


def test_stow_into_named_study_rejects_other_studies(token_client):
    mine, other = make_ct_series(1)[0], make_ct_series(1)[0]
    response = stow(
        token_client,
        [to_bytes(mine), to_bytes(other)],
        url=f"/dicomweb/studies/{mine.StudyInstanceUID}",
    )
    assert response.status_code == 202
    failed = seq_items(json.loads(response.content), "00081198")
    assert value(failed[0], "00081197") == 0xA900
    assert value(failed[0], "00081155") == other.SOPInstanceUID
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [
        mine.StudyInstanceUID
    ]


def test_session_post_needs_csrf_token(attending):
    client = Client(enforce_csrf_checks=True)
    client.force_login(attending)
    response = stow(client, [to_bytes(make_dataset())])
    assert response.status_code == 403
    assert not Instance.objects.exists()
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    ok = stow(client, [to_bytes(make_dataset())], **{"X-CSRFToken": _mask_cipher_secret(secret)})
    assert ok.status_code == 200, ok.content
