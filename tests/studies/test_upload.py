"""Browser upload endpoint and page, and the batch/zip logic behind every bulk ingest."""

import io
import zipfile

import pytest
from django.urls import reverse
from pydicom.uid import generate_uid

from reading.audit.models import AuditAction, AuditEvent
from reading.studies import storage
from reading.studies.batch import iter_zip
from reading.studies.models import Instance, Study
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db

API = "/api/uploads/"


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def upload(client, *files, paths=None):
    """POST files (name, bytes) as the browser page does."""
    data = {"file": [io.BytesIO(raw) for _, raw in files]}
    for handle, (name, _) in zip(data["file"], files, strict=True):
        handle.name = name
    if paths:
        data["path"] = paths
    return client.post(API, data)


def by_name(body):
    return {r["name"]: r for r in body["results"]}


def test_single_file_is_stored_exactly_and_audited(attending_client, attending):
    ds = make_dataset()
    raw = to_bytes(ds)
    response = upload(attending_client, ("a.dcm", raw))
    assert response.status_code == 200
    body = response.json()
    assert body["counts"]["stored"] == 1
    result = body["results"][0]
    assert result == {
        "name": "a.dcm",
        "status": "stored",
        "reason": "",
        "sop_instance_uid": ds.SOPInstanceUID,
        "study_instance_uid": ds.StudyInstanceUID,
    }
    inst = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert storage.read_all(inst.file_path) == raw
    event = AuditEvent.objects.get(action=AuditAction.STORE)
    assert event.user == attending
    assert event.study_instance_uid == ds.StudyInstanceUID
    assert event.patient_id == "MRN0001"
    assert event.path == API


def test_bad_files_fail_alone_while_the_rest_is_stored(attending_client):
    good = make_ct_series(2)
    truncated = to_bytes(make_dataset(rows=64, columns=64))[:-3000]
    no_uid = make_dataset()
    del no_uid.StudyInstanceUID
    odd_syntax = make_dataset()
    odd_syntax.file_meta.TransferSyntaxUID = "1.2.3.4.5"
    odd = io.BytesIO()
    odd_syntax.save_as(odd, implicit_vr=False, little_endian=True, enforce_file_format=True)
    files = [
        ("one.dcm", to_bytes(good[0])),
        ("notes.txt", b"this is not an image, just some text. " * 10),
        ("cut.dcm", truncated),
        ("nouid.dcm", to_bytes(no_uid)),
        ("odd.dcm", odd.getvalue()),
        ("two.dcm", to_bytes(good[1])),
    ]
    response = upload(attending_client, *files)
    assert response.status_code == 200
    results = by_name(response.json())
    assert results["one.dcm"]["status"] == "stored"
    assert results["two.dcm"]["status"] == "stored"
    assert results["notes.txt"]["status"] == "failed"
    assert "not a DICOM file" in results["notes.txt"]["reason"]
    assert results["cut.dcm"]["status"] == "failed"
    assert "truncated" in results["cut.dcm"]["reason"]
    assert results["nouid.dcm"]["status"] == "failed"
    assert "StudyInstanceUID" in results["nouid.dcm"]["reason"]
    assert results["odd.dcm"]["status"] == "failed"
    assert "unsupported transfer syntax" in results["odd.dcm"]["reason"]
    assert response.json()["counts"] == {
        "stored": 2,
        "duplicate": 0,
        "conflict": 0,
        "failed": 4,
        "skipped": 0,
    }
    assert Instance.objects.count() == 2
    # Nothing half-stored: only the two good files are on disk.
    assert len([p for p in storage.storage_root().rglob("*") if p.is_file()]) == 2


def test_folder_paths_duplicates_and_conflicts(attending_client):
    ds = make_dataset()
    raw = to_bytes(ds)
    first = upload(attending_client, ("a.dcm", raw), paths=["scan/series1/a.dcm"]).json()
    assert first["results"][0]["name"] == "scan/series1/a.dcm"
    again = upload(attending_client, ("a.dcm", raw)).json()
    assert again["results"][0]["status"] == "duplicate"
    ds.PatientName = "Other^Name"
    conflict = upload(attending_client, ("a.dcm", to_bytes(ds))).json()
    assert conflict["results"][0]["status"] == "conflict"
    assert "different content" in conflict["results"][0]["reason"]
    assert storage.read_all(Instance.objects.get().file_path) == raw


def test_too_large_file(attending_client, settings):
    settings.DICOM_MAX_INSTANCE_BYTES = 2000
    big = to_bytes(make_dataset(rows=64, columns=64))
    small = to_bytes(make_dataset(rows=8, columns=8))
    results = by_name(upload(attending_client, ("big.dcm", big), ("small.dcm", small)).json())
    assert results["big.dcm"]["status"] == "failed"
    assert "too large" in results["big.dcm"]["reason"]
    assert results["small.dcm"]["status"] == "stored"


def test_zip_with_folders_nested_zip_and_junk(attending_client):
    series = make_ct_series(4)
    raws = [to_bytes(ds) for ds in series]
    inner = zip_bytes({"deep/c.dcm": raws[2]})
    evil = make_dataset()
    archive = zip_bytes(
        {
            "study/a.dcm": raws[0],
            "study/b": raws[1],  # DICOM files often have no extension
            "study/inner.zip": inner,
            "study/DICOMDIR": b"index",
            "study/.DS_Store": b"junk",
            "__MACOSX/study/._a.dcm": b"resource fork",
            "../evil.dcm": to_bytes(evil),
            "/abs.dcm": to_bytes(make_dataset()),
            "study/readme.txt": b"hello " * 100,
            "study/d.dcm": raws[3],
        }
    )
    response = upload(attending_client, ("batch.zip", archive))
    body = response.json()
    results = by_name(body)
    for name in ("batch.zip/study/a.dcm", "batch.zip/study/b", "batch.zip/study/d.dcm"):
        assert results[name]["status"] == "stored", results[name]
    assert results["batch.zip/study/inner.zip/deep/c.dcm"]["status"] == "stored"
    assert results["batch.zip/../evil.dcm"]["status"] == "failed"
    assert "path traversal" in results["batch.zip/../evil.dcm"]["reason"]
    assert results["batch.zip//abs.dcm"]["status"] == "failed"
    assert "not a DICOM file" in results["batch.zip/study/readme.txt"]["reason"]
    assert sorted(body["skipped"]) == [
        "batch.zip/__MACOSX/study/._a.dcm",
        "batch.zip/study/.DS_Store",
        "batch.zip/study/DICOMDIR",
    ]
    assert body["counts"]["stored"] == 4
    assert not Instance.objects.filter(sop_instance_uid=evil.SOPInstanceUID).exists()
    assert Study.objects.get().number_of_study_related_instances == 4


def test_zip_bomb_by_member_count_is_refused_whole(attending_client, settings):
    settings.DICOM_MAX_ZIP_MEMBERS = 3
    archive = zip_bytes({f"{i}.dcm": to_bytes(ds) for i, ds in enumerate(make_ct_series(4))})
    body = upload(attending_client, ("many.zip", archive)).json()
    assert body["counts"]["failed"] == 1 and body["counts"]["stored"] == 0
    assert body["results"][0]["name"] == "many.zip"
    assert "4 members, the limit is 3" in body["results"][0]["reason"]
    assert not Instance.objects.exists()


def test_zip_bomb_by_ratio_and_by_total_size(attending_client, settings):
    good = to_bytes(make_dataset())
    bomb = zip_bytes({"zeros.dcm": bytes(20 * 1024 * 1024), "good.dcm": good})
    results = by_name(upload(attending_client, ("bomb.zip", bomb)).json())
    assert results["bomb.zip/zeros.dcm"]["status"] == "failed"
    assert "compressed" in results["bomb.zip/zeros.dcm"]["reason"]
    assert "zip bomb" in results["bomb.zip/zeros.dcm"]["reason"]
    assert results["bomb.zip/good.dcm"]["status"] == "stored"

    settings.DICOM_MAX_UPLOAD_BYTES = 1000
    archive = zip_bytes({"x.dcm": to_bytes(make_dataset())})
    body = upload(attending_client, ("big.zip", archive)).json()
    assert body["results"][0]["status"] == "failed"
    assert "expands to" in body["results"][0]["reason"]


def test_nested_zip_counts_against_one_budget_and_depth_limit(settings):
    raw = to_bytes(make_dataset())
    archive = zip_bytes({"d.dcm": raw})
    for _ in range(4):
        archive = zip_bytes({"z.zip": archive})
    items = list(iter_zip(io.BytesIO(archive), "top.zip"))
    assert len(items) == 1 and "nested deeper" in items[0].error

    settings.DICOM_MAX_UPLOAD_BYTES = len(raw) + 300
    two = zip_bytes({"a.zip": zip_bytes({"a.dcm": raw}), "b.dcm": raw})
    items = list(iter_zip(io.BytesIO(two), "two.zip"))
    errors = [i for i in items if i.error]
    assert errors and "limit" in errors[0].error


def test_corrupt_zip_is_a_clear_error(attending_client):
    archive = zip_bytes({"a.dcm": to_bytes(make_dataset())})
    broken = archive[:40] + b"\x00" * 30 + archive[70:]
    body = upload(attending_client, ("broken.zip", broken), ("x.dcm", to_bytes(make_dataset())))
    results = body.json()["results"]
    assert results[0]["status"] == "failed" and results[0]["name"].startswith("broken.zip")
    assert results[-1]["status"] == "stored"


def test_resident_may_upload(client, resident):
    client.force_login(resident)
    body = upload(client, ("r.dcm", to_bytes(make_dataset(sop_uid=generate_uid())))).json()
    assert body["counts"]["stored"] == 1


def test_outsider_and_admin_get_403(outsider_client, client, admin_user):
    raw = to_bytes(make_dataset())
    assert outsider_client.get(reverse("studies:upload")).status_code == 403
    response = upload(outsider_client, ("a.dcm", raw))
    assert response.status_code == 403
    assert "role" in response.json()["detail"]
    client.force_login(admin_user)
    assert client.get(reverse("studies:upload")).status_code == 403
    assert upload(client, ("a.dcm", raw)).status_code == 403
    assert not Instance.objects.exists()


def test_anonymous_gets_401(client):
    response = upload(client, ("a.dcm", to_bytes(make_dataset())))
    assert response.status_code == 401
    assert not Instance.objects.exists()


def test_missing_file_and_wrong_method(attending_client):
    assert attending_client.post(API, {}).status_code == 400
    assert attending_client.get(API).status_code == 405


def test_csrf_is_enforced_for_browser_sessions(attending):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(attending)
    response = upload(client, ("a.dcm", to_bytes(make_dataset())))
    assert response.status_code == 403
    assert not Instance.objects.exists()


def test_token_clients_upload_without_csrf(attending):
    from django.test import Client

    from reading.accounts.services import create_api_token

    token = create_api_token(attending)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token.key}")
    response = upload(client, ("a.dcm", to_bytes(make_dataset())))
    assert response.status_code == 200
    assert response.json()["counts"]["stored"] == 1


def test_upload_page_for_readers(attending_client):
    response = attending_client.get(reverse("studies:upload"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-endpoint="/api/uploads/"' in html
    assert "webkitdirectory" in html
    assert "upload.js" in html  # the page script (static/js or the Vite-built bundle)
    assert 'role="progressbar"' in html


def test_large_uploads_spooled_to_disk_work_too(attending_client, settings):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE Django hands over a temporary file, zip or not."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    series = make_ct_series(3)
    archive = zip_bytes({f"{i}.dcm": to_bytes(ds) for i, ds in enumerate(series[:2])})
    body = upload(attending_client, ("s.zip", archive), ("2.dcm", to_bytes(series[2]))).json()
    assert body["counts"]["stored"] == 3, body


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_files_cut_outside_the_pixel_data_are_truncated_not_stored(attending_client):
    """pydicom reads a cut file quietly; without pixel data nothing else would notice."""
    no_pixels = make_dataset()
    del no_pixels.PixelData
    raw = to_bytes(no_pixels)
    with_frames = make_dataset()
    with_frames.NumberOfFrames = 7
    element = b"\x28\x00\x08\x00IS\x02\x007 "  # (0028,0008) IS "7 ", explicit VR LE
    assert element in to_bytes(with_frames)
    bad_frames = to_bytes(with_frames).replace(element, element[:-2] + b"1A")
    no_columns = make_dataset()
    del no_columns.Columns
    files = [
        ("cut-in-value.dcm", raw[:-1]),
        ("cut-in-header.dcm", raw[:-5]),
        ("cut-in-uid.dcm", raw[:400]),
        ("frames.dcm", bad_frames),
        ("no-columns.dcm", to_bytes(no_columns)),
        ("whole.dcm", raw),
    ]
    results = by_name(upload(attending_client, *files).json())
    assert results["no-columns.dcm"]["status"] == "failed"
    assert "Image Pixel module" in results["no-columns.dcm"]["reason"]
    for name in ("cut-in-value.dcm", "cut-in-header.dcm", "cut-in-uid.dcm"):
        assert results[name]["status"] == "failed"
        assert results[name]["reason"].startswith("truncated: the file ends inside"), results[name]
    assert results["frames.dcm"]["status"] == "failed"
    assert "Number of Frames" in results["frames.dcm"]["reason"]
    assert results["whole.dcm"]["status"] == "stored"
    assert Instance.objects.count() == 1
