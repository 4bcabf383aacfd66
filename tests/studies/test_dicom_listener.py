"""The C-STORE listener, driven by a real pynetdicom SCU over TCP."""

import io
import socket
import time
from types import SimpleNamespace

import pydicom
import pytest
from django.core.management import CommandError, call_command
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, Verification

from reading.audit.models import AuditAction, AuditEvent
from reading.studies import storage
from reading.studies.dicomio import dataset_to_part10
from reading.studies.dimse import StoreSCP, start_listener
from reading.studies.models import Instance
from tests.dicom_factory import make_dataset

# The listener's threads write through their own connections: rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = {
    "CT_small.dcm": "1.2.840.10008.1.2.1",  # explicit VR little endian
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",  # RLE lossless
    "SC_rgb_jpeg_gdcm.dcm": "1.2.840.10008.1.2.4.70",  # JPEG baseline
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",  # JPEG 2000
}


@pytest.fixture
def listener():
    ae, scp, server = start_listener("READINGTEST", 0, "127.0.0.1", block=False)
    yield server.server_address[1], scp
    server.shutdown()


def associate(port, contexts):
    scu = AE(ae_title="MODALITY1")
    for sop_class, syntax in contexts:
        scu.add_requested_context(sop_class, syntax)
    assoc = scu.associate("127.0.0.1", port, ae_title="READINGTEST")
    assert assoc.is_established
    return assoc


def test_native_and_compressed_instances_are_stored_in_their_own_syntax(listener):
    port, scp = listener
    datasets = {name: pydicom.dcmread(get_testdata_file(name)) for name in SAMPLES}
    contexts = {(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID) for ds in datasets.values()}
    assoc = associate(port, contexts)
    try:
        for name, ds in datasets.items():
            status = assoc.send_c_store(ds)
            assert status.Status == 0x0000, (name, status)
    finally:
        assoc.release()
    assert scp.received == 4
    for name, syntax in SAMPLES.items():
        source = datasets[name]
        inst = Instance.objects.get(sop_instance_uid=source.SOPInstanceUID)
        assert inst.transfer_syntax_uid == syntax
        stored = pydicom.dcmread(io.BytesIO(storage.read_all(inst.file_path)))
        assert stored.file_meta.TransferSyntaxUID == syntax
        # Compressed frames pass through untouched; native pixels byte for byte.
        assert stored.PixelData == source.PixelData
        assert stored.SOPInstanceUID == source.SOPInstanceUID
    # One STORE audit record per study, naming the sending AE. The listener writes
    # them once the association is released, possibly just after release() returns.
    events = AuditEvent.objects.filter(action=AuditAction.STORE)
    studies = len({ds.StudyInstanceUID for ds in datasets.values()})
    deadline = time.monotonic() + 10
    while events.count() < studies and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.count() == studies
    assert all(e.detail.startswith("c-store:MODALITY1@127.0.0.1") for e in events)


def test_implicit_vr_duplicate_conflict_and_bad_dataset(listener):
    port, _ = listener
    ds = make_dataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    assoc = associate(port, [(CTImageStorage, ImplicitVRLittleEndian)])
    try:
        assert assoc.send_c_store(ds).Status == 0x0000
        assert assoc.send_c_store(ds).Status == 0x0000  # identical re-send: no-op
        changed = make_dataset(sop_uid=ds.SOPInstanceUID, patient_name="Someone^Else")
        changed.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        conflict = assoc.send_c_store(changed)
        assert conflict.Status == 0x0111
        assert "conflict" in conflict.ErrorComment
        bad = make_dataset()
        del bad.StudyInstanceUID
        bad.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        failed = assoc.send_c_store(bad)
        assert failed.Status == 0xA900  # Error: Data Set does not match SOP Class
        assert "StudyInstanceUID" in failed.ErrorComment
        # The association survives a bad dataset.
        good = make_dataset(study_uid=ds.StudyInstanceUID)
        good.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        assert assoc.send_c_store(good).Status == 0x0000
    finally:
        assoc.release()
    inst = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert inst.transfer_syntax_uid == ImplicitVRLittleEndian
    assert pydicom.dcmread(io.BytesIO(storage.read_all(inst.file_path))).PatientName == (
        "Test^Patient"
    )
    assert Instance.objects.count() == 2


def test_too_large_is_out_of_resources(listener, settings):
    port, _ = listener
    settings.DICOM_MAX_INSTANCE_BYTES = 1000
    assoc = associate(port, [(CTImageStorage, ExplicitVRLittleEndian)])
    try:
        status = assoc.send_c_store(make_dataset(rows=64, columns=64))
    finally:
        assoc.release()
    assert status.Status == 0xA700
    assert status.ErrorComment.startswith("too large")
    assert not Instance.objects.exists()


def test_c_echo(listener):
    port, _ = listener
    assoc = associate(port, [(Verification, ExplicitVRLittleEndian)])
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


def test_command_rejects_a_bad_ae_title():
    with pytest.raises(CommandError, match="AE title"):
        call_command("dicom_listener", "--ae-title", "X" * 17, "--port", "0")


def test_command_reports_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            call_command("dicom_listener", "--host", "127.0.0.1", "--port", str(port))


def test_aborted_association_keeps_what_was_stored(listener):
    port, _ = listener
    ds = make_dataset()
    assoc = associate(port, [(CTImageStorage, ExplicitVRLittleEndian)])
    assert assoc.send_c_store(ds).Status == 0x0000
    assoc.abort()
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()
    events = AuditEvent.objects.filter(action=AuditAction.STORE)
    deadline = time.monotonic() + 10
    while not events.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events.get().study_instance_uid == ds.StudyInstanceUID


def test_store_handler_re_encodes_when_the_raw_stream_is_unavailable():
    """The fallback: a decoded dataset is written as Part 10 in its own transfer syntax."""
    ds = make_dataset()

    class Event:
        assoc = SimpleNamespace(requestor=SimpleNamespace(ae_title="LOCAL", address="::1"))
        dataset = ds
        file_meta = ds.file_meta

        def encoded_dataset(self):
            raise AttributeError("no encoded stream")

    assert StoreSCP().handle_store(Event()) == 0x0000
    inst = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert storage.read_all(inst.file_path) == dataset_to_part10(ds)
    assert inst.transfer_syntax_uid == ExplicitVRLittleEndian
