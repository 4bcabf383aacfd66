"""Archive integrity: one patient per study, a study's own patient attributes, geometry."""

import pytest
from pydicom.uid import generate_uid

from reading.studies.dimse import StoreSCP
from reading.studies.models import Instance, Patient, Series, Study
from reading.studies.services import PATIENT_MISMATCH, IngestStatus, ingest_instance
from tests.dicom_factory import make_dataset, to_bytes
from tests.studies.dicomweb_helpers import seq_items, stow, value
from tests.studies.test_upload import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_study():
    ds = make_dataset(patient_id="MRN-A", patient_name="Alpha^Ann")
    assert ingest_instance(to_bytes(ds)).status == IngestStatus.STORED
    return ds


def foreign_instance(study: object, **kwargs):
    """Same study (and series), another patient."""
    return make_dataset(
        study_uid=study.StudyInstanceUID,
        series_uid=kwargs.pop("series_uid", study.SeriesInstanceUID),
        patient_id=kwargs.pop("patient_id", "MRN-B"),
        patient_name="Beta^Bob",
        **kwargs,
    )


def assert_untouched(study_ds):
    study = Study.objects.get(study_instance_uid=study_ds.StudyInstanceUID)
    assert study.patient.patient_id == "MRN-A"
    assert study.number_of_study_related_instances == 1
    assert Instance.objects.filter(series__study=study).count() == 1
    assert not Patient.objects.filter(patient_id="MRN-B").exists()


def test_ingest_refuses_another_patient_in_an_existing_study(stored_study):
    result = ingest_instance(to_bytes(foreign_instance(stored_study)))
    assert result.status == IngestStatus.FAILED
    assert result.failure_status == PATIENT_MISMATCH
    assert "patient mismatch" in result.reason and "MRN-A" in result.reason
    assert_untouched(stored_study)
    # A new series of that study is refused just the same.
    other = ingest_instance(to_bytes(foreign_instance(stored_study, series_uid=generate_uid())))
    assert other.failure_status == PATIENT_MISMATCH
    assert_untouched(stored_study)


def test_issuer_of_patient_id_tells_patients_apart(stored_study):
    first = make_dataset(patient_id="MRN-C")
    first.IssuerOfPatientID = "HOSP1"
    assert ingest_instance(to_bytes(first)).ok
    same_id_other_issuer = make_dataset(
        study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID, patient_id="MRN-C"
    )
    same_id_other_issuer.IssuerOfPatientID = "HOSP2"
    result = ingest_instance(to_bytes(same_id_other_issuer))
    assert result.failure_status == PATIENT_MISMATCH
    # No issuer on the instance: the ID alone decides, and it matches.
    no_issuer = make_dataset(
        study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID, patient_id="MRN-C"
    )
    assert ingest_instance(to_bytes(no_issuer)).status == IngestStatus.STORED


def test_a_series_of_another_study_is_refused(stored_study):
    moved = make_dataset(series_uid=stored_study.SeriesInstanceUID, patient_id="MRN-A")
    result = ingest_instance(to_bytes(moved))
    assert result.status == IngestStatus.FAILED
    assert "belongs to another study" in result.reason
    assert not Study.objects.filter(study_instance_uid=moved.StudyInstanceUID).exists()
    assert Series.objects.count() == 1


def test_stow_answers_the_failure_reason(attending_client, stored_study):
    response = stow(attending_client, [to_bytes(foreign_instance(stored_study))])
    assert response.status_code == 409
    failed = seq_items(response.json(), "00081198")
    assert [value(item, "00081197") for item in failed] == [PATIENT_MISMATCH]
    assert_untouched(stored_study)


def test_upload_reports_the_reason(attending_client, stored_study):
    response = upload(attending_client, ("b.dcm", to_bytes(foreign_instance(stored_study))))
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "failed"
    assert "patient mismatch" in result["reason"]
    assert_untouched(stored_study)


@pytest.mark.django_db(transaction=True)
def test_c_store_answers_the_failure_status(stored_study):
    """The C-STORE handler (the real SCU path is in test_dicom_listener / test_dcmtk)."""

    class Event:
        assoc = type("A", (), {"requestor": type("R", (), {"ae_title": "X", "address": "::1"})})
        dataset = foreign_instance(stored_study)
        file_meta = dataset.file_meta

        def encoded_dataset(self):
            return to_bytes(self.dataset)

    status = StoreSCP().handle_store(Event())
    assert status.Status == PATIENT_MISMATCH
    assert status.ErrorComment.startswith("patient mismatch")
    assert_untouched(stored_study)


def test_stow_mapping_prefers_the_ingest_status():
    result = ingest_instance(b"garbage" * 40)
    assert result.dicom_status == 0xC000


# -- a study's own patient attributes ---------------------------------------------------


def test_qido_answers_each_studys_own_patient_name(attending_client):
    old = make_dataset(patient_id="MRN-N", patient_name="Muller^Hans")
    new = make_dataset(patient_id="MRN-N", patient_name="Müller^Hans")
    new.SpecificCharacterSet = "ISO_IR 192"
    new.PatientSex = "M"
    for ds in (old, new):
        assert ingest_instance(to_bytes(ds)).status == IngestStatus.STORED
    assert Patient.objects.filter(patient_id="MRN-N").count() == 1
    response = attending_client.get("/dicomweb/studies", {"PatientID": "MRN-N"})
    answered = {
        value(item, "0020000D"): (value(item, "00100010")["Alphabetic"], value(item, "00100040"))
        for item in response.json()
    }
    assert answered == {
        old.StudyInstanceUID: ("Muller^Hans", "F"),
        new.StudyInstanceUID: ("Müller^Hans", "M"),
    }
    # Matching uses the study's name too.
    found = attending_client.get("/dicomweb/studies", {"PatientName": "Müller*"}).json()
    assert [value(item, "0020000D") for item in found] == [new.StudyInstanceUID]
    series = attending_client.get(
        "/dicomweb/series", {"StudyInstanceUID": new.StudyInstanceUID}
    ).json()
    assert value(series[0], "00100010")["Alphabetic"] == "Müller^Hans"


def test_outsider_gets_no_patient_names(outsider_client, stored_study):
    assert outsider_client.get("/dicomweb/studies").status_code == 403


# -- geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize("rows, columns", [(0, 32), (32, 0)])
def test_zero_rows_or_columns_with_pixel_data_is_refused(rows, columns):
    ds = make_dataset()
    ds.Rows, ds.Columns = rows, columns
    result = ingest_instance(to_bytes(ds))
    assert result.status == IngestStatus.FAILED
    assert "Rows" in result.reason and "Columns" in result.reason
    assert not Instance.objects.exists()


# -- arrivals ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_stow_request_signals_each_study_once(attending_client):
    from reading.studies.signals import instance_stored
    from tests.dicom_factory import make_ct_series

    calls = []

    def receiver(sender, study_id, created_study, **kwargs):
        calls.append((study_id, created_study))

    instance_stored.connect(receiver, dispatch_uid="test.arrivals")
    try:
        series = make_ct_series(4)
        assert stow(attending_client, [to_bytes(ds) for ds in series[:3]]).status_code == 200
        study = Study.objects.get(study_instance_uid=series[0].StudyInstanceUID)
        assert calls == [(study.pk, True)]
        # Outside a batch, each instance is signalled as before.
        assert ingest_instance(to_bytes(series[3])).ok
        assert calls == [(study.pk, True), (study.pk, False)]
    finally:
        instance_stored.disconnect(dispatch_uid="test.arrivals")
    assert study.reading.pk == study.pk  # the worklist row exists


def test_failure_statuses_are_types_not_read_from_the_message(settings):
    """The ingest types each refusal; STOW and C-STORE answer that type, never the text."""
    from reading.studies.services import IngestResult, IngestStatus

    settings.DICOM_MAX_INSTANCE_BYTES = 1000
    big = ingest_instance(to_bytes(make_dataset(rows=64, columns=64)))
    assert big.reason.startswith("too large") and big.failure_status == 0xA700
    assert big.dicom_status == 0xA700
    words_only = IngestResult(status=IngestStatus.FAILED, reason="too large: said in words only")
    assert words_only.dicom_status == 0xC000
