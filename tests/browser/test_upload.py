"""The upload page end to end: files, a folder and a zip through a real server."""

import io
import zipfile

import pytest

from reading.audit.models import AuditAction, AuditEvent
from reading.studies.models import Instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.browser

DICOM = "application/dicom"


def payload(name, data, mime=DICOM):
    return {"name": name, "mimeType": mime, "buffer": data}


def rows(page):
    return page.locator("#upload-results tbody tr")


def wait_done(page, expected_rows):
    page.wait_for_selector("#upload-form[data-state=done]")
    page.wait_for_function(
        f"document.querySelectorAll('#upload-results tbody tr').length >= {expected_rows}"
    )


def result_map(page):
    out = {}
    for row in rows(page).all():
        cells = row.locator("td").all_inner_texts()
        out[cells[0]] = (cells[1].strip().lower(), cells[2])
    return out


def test_upload_files_and_a_zip_with_progress_and_results(login_page, attending, shot):
    series = make_ct_series(6, patient_id="UPL001", patient_name="Upload^Browser")
    raws = [to_bytes(ds) for ds in series]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, raw in enumerate(raws[3:]):
            zf.writestr(f"series/{i}.dcm", raw)
        zf.writestr("series/DICOMDIR", b"index")
        zf.writestr("notes.txt", b"not an image " * 30)
    page = login_page(attending, "/upload/")
    # Listen for file choosers before anything opens one: Playwright switches the
    # interception on asynchronously, and an early Enter would open a native dialog.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    assert page.locator("h1").inner_text() == "Upload studies"
    assert page.get_attribute("#upload-progress", "aria-valuenow") == "0"

    # Keyboard: focus the drop zone and press Enter to get the file chooser.
    page.wait_for_load_state("networkidle")
    page.focus("#dropzone")
    page.keyboard.press("Enter")
    for _ in range(100):
        if choosers:
            break
        page.wait_for_timeout(50)
    assert choosers, "Enter on the drop zone opened no file chooser"
    choosers[0].set_files(
        [
            payload("a.dcm", raws[0]),
            payload("b.dcm", raws[1]),
            payload("c.dcm", raws[2]),
            payload("broken.dcm", raws[0][:-500]),
            payload("study.zip", buffer.getvalue(), "application/zip"),
        ]
    )
    # 3 + 1 + 3 zip members + notes.txt + the skipped DICOMDIR
    wait_done(page, 9)
    results = result_map(page)
    for name in ("a.dcm", "b.dcm", "c.dcm", "study.zip/series/0.dcm", "study.zip/series/2.dcm"):
        assert results[name][0] == "stored", results
    assert results["broken.dcm"][0] == "failed"
    assert "truncated" in results["broken.dcm"][1]
    assert results["study.zip/notes.txt"][0] == "failed"
    assert "not a DICOM file" in results["study.zip/notes.txt"][1]
    assert results["study.zip/series/DICOMDIR"][0] == "skipped"
    assert page.get_attribute("#upload-progress", "aria-valuenow") == "100"
    assert page.locator("#upload-bar").evaluate("el => el.style.width") == "100%"
    counts = page.locator("#upload-counts").inner_text()
    assert "6 stored" in counts and "2 failed" in counts
    # A stored row links to its study.
    link = rows(page).filter(has_text="a.dcm").first.locator("a")
    assert link.get_attribute("href") == f"/studies/{series[0].StudyInstanceUID}/"
    shot(page, "upload-results")
    assert Instance.objects.filter(series__study__patient__patient_id="UPL001").count() == 6
    assert AuditEvent.objects.filter(action=AuditAction.STORE, username=attending.username).exists()
    assert page.errors == []


def test_folder_input_and_drop(login_page, resident, tmp_path, shot):
    folder = tmp_path / "exam"
    (folder / "s1").mkdir(parents=True)
    series = make_ct_series(3, patient_id="UPL002")
    for i, ds in enumerate(series):
        (folder / "s1" / f"IM{i}").write_bytes(to_bytes(ds))
    page = login_page(resident, "/upload/")
    page.set_input_files("#folder-input", str(folder))
    wait_done(page, 3)
    results = result_map(page)
    assert list(results) == ["exam/s1/IM0", "exam/s1/IM1", "exam/s1/IM2"]  # sorted by path
    assert {k: v[0] for k, v in results.items()} == {
        "exam/s1/IM0": "stored",
        "exam/s1/IM1": "stored",
        "exam/s1/IM2": "stored",
    }

    # A drop onto the zone: re-sending one file is a duplicate, a new one is stored.
    extra = make_dataset(patient_id="UPL002", study_uid=series[0].StudyInstanceUID)
    page.evaluate(
        """([dup, fresh]) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(dup)], "again.dcm"));
          dt.items.add(new File([new Uint8Array(fresh)], "fresh.dcm"));
          const zone = document.getElementById("dropzone");
          for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
          }
        }""",
        [list(to_bytes(series[0])), list(to_bytes(extra))],
    )
    wait_done(page, 5)
    results = result_map(page)
    assert results["again.dcm"][0] == "duplicate"
    assert results["fresh.dcm"][0] == "stored"
    shot(page, "upload-folder-drop")
    assert Instance.objects.filter(series__study__patient__patient_id="UPL002").count() == 4

    # A session that ended meanwhile: the row says so instead of hanging.
    page.context.clear_cookies()
    page.set_input_files("#file-input", [payload("late.dcm", to_bytes(make_dataset()))])
    wait_done(page, 6)
    status, reason = result_map(page)["late.dcm"]
    assert status == "failed" and "HTTP 401" in reason


def test_outsider_gets_403(login_page, outsider, live_url):
    page = login_page(outsider, "/")
    response = page.goto(live_url + "/upload/")
    assert response.status == 403
    assert page.locator("#upload-form").count() == 0
    assert page.locator("nav >> text=Upload").count() == 0


def test_progress_bar_moves_during_a_slow_upload(login_page, attending, shot):
    import numpy as np

    rng = np.random.default_rng(7)
    series = make_ct_series(
        4,
        rows=512,
        columns=512,
        patient_id="UPL003",
        pixels=rng.integers(-1000, 1000, (512, 512)).astype(np.int16),
    )
    page = login_page(attending, "/upload/", bypass_csp=True)  # string predicates below
    page.wait_for_load_state("networkidle")
    page.evaluate(
        """() => {
          window.progressSeen = [];
          const bar = document.getElementById("upload-progress");
          new MutationObserver(() => window.progressSeen.push(Number(bar.getAttribute("aria-valuenow"))))
            .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
        }"""
    )
    # About 2 MB at 1 MB/s: the upload takes long enough to watch.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1 << 20},
    )
    page.set_input_files(
        "#file-input", [payload(f"slice{i}.dcm", to_bytes(ds)) for i, ds in enumerate(series)]
    )
    page.wait_for_function(
        "window.progressSeen.some((v) => v > 0 && v < 100)", polling=50, timeout=20000
    )
    assert page.get_attribute("#upload-form", "data-state") == "uploading"
    shot(page, "upload-in-progress")
    wait_done(page, 4)
    seen = page.evaluate("window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 100  # only ever moves forward
    assert {v[0] for v in result_map(page).values()} == {"stored"}
