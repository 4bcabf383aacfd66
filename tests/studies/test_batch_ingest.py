"""Batched ingest (``ingest_instances``): one transaction per batch, files synced together,
the same refusals and results as one instance at a time; C-STORE arrival signals."""

import os
import time

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from reading.studies import storage
from reading.studies.dimse import start_listener
from reading.studies.hierarchy import HIERARCHY_MISMATCH, PATIENT_MISMATCH
from reading.studies.models import Instance, Patient, Series, Study
from reading.studies.services import IngestStatus, ingest_instance, ingest_instances
from reading.studies.signals import instance_stored
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db


def stored_files() -> list[str]:
    root = storage.storage_root()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_batch_of_two_studies_is_stored_with_its_counters():
    first, second = make_ct_series(3), make_ct_series(2, patient_id="MRN-2")
    items = [(f"f{i}", to_bytes(ds)) for i, ds in enumerate([*first, *second])]
    results = ingest_instances(items)
    assert [r.status for r in results] == [IngestStatus.STORED] * 5
    assert [r.name for r in results] == [name for name, _ in items]
    for series, count in ((first, 3), (second, 2)):
        study = Study.objects.get(study_instance_uid=series[0].StudyInstanceUID)
        assert study.number_of_study_related_instances == count
        assert study.number_of_study_related_series == 1
        assert study.modalities == ["CT"]
        row = Series.objects.get(series_instance_uid=series[0].SeriesInstanceUID)
        assert row.number_of_series_related_instances == count
    assert all(Instance.objects.get(pk=r.instance_id).sop_instance_uid for r in results)
    for result, (_, raw) in zip(results, items, strict=True):
        instance = Instance.objects.get(pk=result.instance_id)
        assert storage.read_all(instance.file_path) == raw  # the bytes as received


def test_a_refused_instance_fails_alone_and_leaves_nothing_behind():
    series = make_ct_series(2, patient_id="MRN-A")
    foreign = make_dataset(
        study_uid=series[0].StudyInstanceUID,
        series_uid=generate_uid(),
        patient_id="MRN-B",
        sop_uid=generate_uid(),
    )
    other_study = make_dataset(series_uid=series[0].SeriesInstanceUID, patient_id="MRN-A")
    batch = [series[0], foreign, other_study, series[1]]
    results = ingest_instances([("", to_bytes(ds)) for ds in batch])
    assert [r.status for r in results] == [
        IngestStatus.STORED,
        IngestStatus.FAILED,
        IngestStatus.FAILED,
        IngestStatus.STORED,
    ]
    assert results[1].failure_status == PATIENT_MISMATCH
    assert results[2].failure_status == HIERARCHY_MISMATCH
    assert not Patient.objects.filter(patient_id="MRN-B").exists()
    assert not Study.objects.filter(study_instance_uid=other_study.StudyInstanceUID).exists()
    assert Study.objects.get().number_of_study_related_series == 1
    assert Series.objects.get().number_of_series_related_instances == 2
    assert stored_files() == sorted(Instance.objects.values_list("file_path", flat=True))


def test_the_same_uid_twice_in_a_batch_is_judged_as_if_sent_after():
    ds = make_dataset()
    changed = make_dataset(
        study_uid=ds.StudyInstanceUID, series_uid=ds.SeriesInstanceUID, sop_uid=ds.SOPInstanceUID
    )
    changed.SeriesDescription = "something else"
    raw = to_bytes(ds)
    results = ingest_instances([("a", raw), ("b", raw), ("c", to_bytes(changed))])
    assert [r.status for r in results] == [
        IngestStatus.STORED,
        IngestStatus.DUPLICATE,
        IngestStatus.CONFLICT,
    ]
    assert results[1].instance_id == results[2].instance_id == results[0].instance_id
    assert Instance.objects.count() == 1 and len(stored_files()) == 1
    assert Series.objects.get().number_of_series_related_instances == 1
    # And a re-sent batch is all duplicates.
    again = ingest_instances([("a", raw)])
    assert again[0].status == IngestStatus.DUPLICATE


def test_unparseable_items_fail_in_place():
    good = make_ct_series(2)
    results = ingest_instances(
        [("one", to_bytes(good[0])), ("junk", b"not dicom at all" * 20), ("two", to_bytes(good[1]))]
    )
    assert [r.status for r in results] == [
        IngestStatus.STORED,
        IngestStatus.FAILED,
        IngestStatus.STORED,
    ]
    assert "not a DICOM file" in results[1].reason


def test_a_file_that_cannot_be_written_fails_alone(monkeypatch):
    series = make_ct_series(3)
    broken = series[1].SOPInstanceUID
    real = storage._write_temp

    def write_temp(relpath, data, folders):
        if broken in relpath:
            raise OSError(28, "No space left on device")
        return real(relpath, data, folders)

    monkeypatch.setattr(storage, "_write_temp", write_temp)
    results = ingest_instances([("", to_bytes(ds)) for ds in series])
    assert [r.status for r in results] == [
        IngestStatus.STORED,
        IngestStatus.FAILED,
        IngestStatus.STORED,
    ]
    assert results[1].failure_status == 0xA700 and "No space left" in results[1].reason
    assert Series.objects.get().number_of_series_related_instances == 2
    assert stored_files() == sorted(Instance.objects.values_list("file_path", flat=True))


def test_write_many_syncs_and_leaves_no_temporary_file():
    errors = storage.write_many([("a/b/one.dcm", b"1" * 5000), ("a/c/two.dcm", b"2")])
    assert errors == [None, None]
    assert storage.read_all("a/b/one.dcm") == b"1" * 5000
    assert stored_files() == ["a/b/one.dcm", "a/c/two.dcm"]
    assert not any(".incoming-" in name for name in os.listdir(storage.absolute("a/b")))


@pytest.mark.django_db(transaction=True)
def test_c_store_signals_a_new_study_at_once_and_the_rest_when_the_association_ends():
    calls = []

    def receiver(sender, study_id, created_study, **kwargs):
        calls.append((study_id, created_study))

    _, scp, server = start_listener("READINGTEST", 0, "127.0.0.1", block=False)
    instance_stored.connect(receiver, dispatch_uid="test.cstore.arrivals")
    try:
        scu = AE(ae_title="MODALITY1")
        scu.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = scu.associate("127.0.0.1", server.server_address[1], ae_title="READINGTEST")
        assert assoc.is_established
        series = make_ct_series(6)
        for ds in series:
            assert assoc.send_c_store(ds).Status == 0x0000
            # A C-STORE success means stored: the row is there when the answer comes.
            assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()
        study = Study.objects.get(study_instance_uid=series[0].StudyInstanceUID)
        assert calls[0] == (study.pk, True)
        assert len(calls) < 6  # not once per slice
        assoc.release()
        deadline = time.monotonic() + 10
        while calls[-1:] != [(study.pk, False)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls[-1] == (study.pk, False)  # the rest, once it ended
    finally:
        instance_stored.disconnect(dispatch_uid="test.cstore.arrivals")
        server.shutdown()
    assert study.reading.pk == study.pk  # the worklist row exists
    assert Study.objects.get(pk=study.pk).number_of_study_related_instances == 6


def test_one_instance_refused_rolls_back_the_rows_it_made():
    """A single ingest takes no savepoint; its refusal must still leave no new row: here a
    new study (and patient) whose series belongs to another study."""
    series = make_ct_series(1, patient_id="MRN-A")
    assert ingest_instance(to_bytes(series[0])).ok
    stray = make_dataset(series_uid=series[0].SeriesInstanceUID, patient_id="MRN-NEW")
    result = ingest_instance(to_bytes(stray))
    assert result.failure_status == HIERARCHY_MISMATCH
    assert not Patient.objects.filter(patient_id="MRN-NEW").exists()
    assert not Study.objects.filter(study_instance_uid=stray.StudyInstanceUID).exists()
    assert stored_files() == sorted(Instance.objects.values_list("file_path", flat=True))


def test_an_unexpected_error_in_a_batch_sends_its_files_one_at_a_time(monkeypatch):
    from reading.studies import batch

    def broken(items):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(batch, "ingest_instances", broken)
    series = make_ct_series(2)
    items = [
        batch.BatchItem("one", data=to_bytes(series[0])),
        batch.BatchItem("bad", error="not a readable zip archive"),
        batch.BatchItem("two", data=to_bytes(series[1])),
    ]
    summary = batch.ingest_items(items)
    assert [(r.name, r.status) for r in summary.results] == [
        ("one", IngestStatus.STORED),
        ("bad", IngestStatus.FAILED),
        ("two", IngestStatus.STORED),
    ]
