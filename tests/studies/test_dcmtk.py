"""The DICOM listener driven by DCMTK's own tools: storescu, findscu, movescu, getscu.

One listener serves the module (each test stores its own data; rows are flushed
between tests). DCMTK is a test dependency (``make test`` installs Debian's dcmtk).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from reading import devserver
from reading.audit.models import AuditAction, AuditEvent
from reading.studies.dimse import start_listener
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db(transaction=True)
AET = "READINGTEST"


@pytest.fixture(scope="module")
def port():
    _, _, server = start_listener(AET, 0, "127.0.0.1", block=False)
    yield server.server_address[1]
    server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dcmtk(tool: str, port: int, *args: str, aet: str = "WORKSTATION", files=()):
    # DCMTK is installed by `make chromium` (Debian's dcmtk): missing, the test fails.
    path = devserver.dcmtk(tool)
    assert path, f"DCMTK's {tool} is not installed (apt-get install dcmtk)"
    command = [
        path,
        "-v",
        "-aet",
        aet,
        "-aec",
        AET,
        *args,
        "127.0.0.1",
        str(port),
        *map(str, files),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def find(port: int, model: str, *keys: str, tmp_path: Path, aet: str = "WORKSTATION"):
    """findscu with -X: every response identifier written as a file; read back sorted."""
    out = tmp_path / f"find-{time.monotonic_ns()}"
    out.mkdir()
    args = [model, "-X", "-od", str(out)]
    for key in keys:
        args += ["-k", key]
    done = dcmtk("findscu", port, *args, aet=aet)
    answers = [pydicom.dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]
    return done, answers


@pytest.fixture
def archive():
    first = make_ct_series(3, patient_id="MRN-Q1", patient_name="Quinn^Ann")
    second = make_ct_series(2, patient_id="MRN-Q2", patient_name="Quarry^Bo", modality="MR")
    for ds in first + second:
        assert ingest_instance(to_bytes(ds)).ok
    return first, second


def test_storescu_stores_and_a_foreign_patient_is_refused(port, tmp_path):
    series = make_ct_series(3)
    for i, ds in enumerate(series):
        (tmp_path / f"{i}.dcm").write_bytes(to_bytes(ds))
    done = dcmtk("storescu", port, "+sd", files=[tmp_path])
    assert done.returncode == 0, done.stderr
    assert (
        Instance.objects.filter(series__series_instance_uid=series[0].SeriesInstanceUID).count()
        == 3
    )
    foreign = make_dataset(
        study_uid=series[0].StudyInstanceUID, patient_id="SOMEONE-ELSE", sop_uid=generate_uid()
    )
    path = tmp_path / "foreign.dcm"
    path.write_bytes(to_bytes(foreign))
    done = dcmtk("storescu", port, files=[path])
    # DCMTK names the class of 0xC409: Error, Cannot understand (PS3.4 B.2.3).
    assert "error: cannotunderstand" in (done.stdout + done.stderr).lower()
    assert not Instance.objects.filter(sop_instance_uid=foreign.SOPInstanceUID).exists()


def test_find_study_root_study_series_image(port, archive, tmp_path):
    first, second = archive
    done, answers = find(
        port, "-S", "QueryRetrieveLevel=STUDY", "PatientName=Qu*", "StudyInstanceUID",
        "PatientID", "ModalitiesInStudy", "NumberOfStudyRelatedInstances", tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = {
        (a.PatientID, str(a.PatientName), a.StudyInstanceUID, int(a.NumberOfStudyRelatedInstances))
        for a in answers
    }
    assert got == {
        ("MRN-Q1", "Quinn^Ann", first[0].StudyInstanceUID, 3),
        ("MRN-Q2", "Quarry^Bo", second[0].StudyInstanceUID, 2),
    }
    _, answers = find(
        port, "-S", "QueryRetrieveLevel=STUDY", "ModalitiesInStudy=MR", "StudyInstanceUID",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert [a.StudyInstanceUID for a in answers] == [second[0].StudyInstanceUID]

    _, answers = find(
        port, "-S", "QueryRetrieveLevel=SERIES", f"StudyInstanceUID={first[0].StudyInstanceUID}",
        "SeriesInstanceUID", "Modality", "NumberOfSeriesRelatedInstances", tmp_path=tmp_path,
    )  # fmt: skip
    assert [(a.SeriesInstanceUID, a.Modality) for a in answers] == [
        (first[0].SeriesInstanceUID, "CT")
    ]
    _, answers = find(
        port, "-S", "QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={first[0].StudyInstanceUID}",
        f"SeriesInstanceUID={first[0].SeriesInstanceUID}", "SOPInstanceUID", "InstanceNumber",
        "SliceThickness", tmp_path=tmp_path,
    )  # fmt: skip
    assert [(a.SOPInstanceUID, int(a.InstanceNumber)) for a in answers] == [
        (ds.SOPInstanceUID, ds.InstanceNumber) for ds in first
    ]
    assert float(answers[0].SliceThickness) == 1.0  # from the stored instance
    events = AuditEvent.objects.filter(
        action=AuditAction.SEARCH, detail__startswith="c-find:WORKSTATION@"
    )
    assert events.count() == 4


def test_find_patient_root(port, archive, tmp_path):
    done, answers = find(
        port, "-P", "QueryRetrieveLevel=PATIENT", "PatientID=MRN-Q*", "PatientName",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [(a.PatientID, str(a.PatientName)) for a in answers] == [
        ("MRN-Q1", "Quinn^Ann"),
        ("MRN-Q2", "Quarry^Bo"),
    ]
    _, answers = find(
        port, "-P", "QueryRetrieveLevel=STUDY", "PatientID=MRN-Q2", "StudyInstanceUID",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert [a.StudyInstanceUID for a in answers] == [archive[1][0].StudyInstanceUID]


def test_getscu_pulls_a_study_on_its_own_association(port, archive, tmp_path):
    first, _ = archive
    tmp_path = tmp_path / "got"
    tmp_path.mkdir()
    done = dcmtk(
        "getscu", port, "-S", "-k", "QueryRetrieveLevel=STUDY",
        "-k", f"StudyInstanceUID={first[0].StudyInstanceUID}", "-od", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    received = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in tmp_path.iterdir()}
    assert set(received) == {ds.SOPInstanceUID for ds in first}
    assert received[first[1].SOPInstanceUID].PixelData == first[1].PixelData
    assert AuditEvent.objects.filter(
        action=AuditAction.RETRIEVE, detail__startswith="c-get:WORKSTATION@"
    ).exists()


def test_movescu_to_a_configured_destination(port, archive, tmp_path, settings):
    _, second = archive
    tmp_path = tmp_path / "moved"
    tmp_path.mkdir()
    dest_port = free_port()
    settings.DICOM_MOVE_DESTINATIONS = [f"DESTAE=127.0.0.1:{dest_port}"]
    done = dcmtk(
        "movescu", port, "-S", "-aem", "DESTAE", "--port", str(dest_port), "-od", str(tmp_path),
        "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={second[0].StudyInstanceUID}",
        "-k", f"SeriesInstanceUID={second[0].SeriesInstanceUID}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    received = sorted(pydicom.dcmread(p).SOPInstanceUID for p in tmp_path.iterdir())
    assert received == sorted(ds.SOPInstanceUID for ds in second)
    # An AE title that is not configured as a destination gets nothing.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = dcmtk(
        "movescu", port, "-S", "-aem", "UNKNOWN", "--port", str(free_port()), "-od", str(elsewhere),
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={second[0].StudyInstanceUID}",
    )  # fmt: skip
    assert "refused: movedestinationunknown" in (done.stdout + done.stderr).lower()
    assert not list(elsewhere.iterdir())


def test_only_configured_peers_may_talk(archive, tmp_path, settings):
    settings.DICOM_ALLOWED_PEERS = ["WORKSTATION", "PACS@10.9.9.9"]
    _, _, server = start_listener(AET, 0, "127.0.0.1", block=False)
    restricted = server.server_address[1]
    try:
        done, answers = find(
            restricted, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID", tmp_path=tmp_path
        )
        assert done.returncode == 0 and len(answers) == 2
        # An unlisted calling AE title: the association is rejected.
        done, answers = find(
            restricted, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
            tmp_path=tmp_path, aet="STRANGER",
        )  # fmt: skip
        assert done.returncode != 0 and not answers
        assert "rejected" in (done.stdout + done.stderr).lower()
        # A listed AE title calling from another host than its entry: refused.
        done, answers = find(
            restricted, "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID",
            tmp_path=tmp_path, aet="PACS",
        )  # fmt: skip
        assert not answers and "0x124" in (done.stdout + done.stderr).lower()
        path = tmp_path / "x.dcm"
        path.write_bytes(to_bytes(make_dataset()))
        done = dcmtk("storescu", restricted, aet="PACS", files=[path])
        assert "0x124" in (done.stdout + done.stderr).lower()
        assert Instance.objects.count() == 5
    finally:
        server.shutdown()
    outcomes = set(
        AuditEvent.objects.filter(detail__startswith="dicom-association").values_list(
            "detail", flat=True
        )
    )
    assert "dicom-association rejected: STRANGER@127.0.0.1" in outcomes
    assert "dicom-association accepted: WORKSTATION@127.0.0.1" in outcomes
