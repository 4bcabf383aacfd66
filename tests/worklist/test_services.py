from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from reading.studies.services import ingest_instance
from reading.worklist import assignment, claims, lists, services, transitions
from reading.worklist.models import Priority, ReadingItem, ReadingStatus
from tests.dicom_factory import make_dataset, to_bytes

S = ReadingStatus


def item(study) -> ReadingItem:
    return ReadingItem.objects.get(pk=study.pk)


def test_ingest_creates_reading_item_and_search_text(db, django_capture_on_commit_callbacks):
    ds = make_dataset(patient_name="Smith^John", patient_id="MRN777", accession="A-42")
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_instance(to_bytes(ds))
    assert result.ok
    row = ReadingItem.objects.get(study__study_instance_uid=ds.StudyInstanceUID)
    assert row.reading_status == S.UNREAD
    assert row.priority == Priority.ROUTINE
    assert "smith john" in row.search_text and "mrn777" in row.search_text
    assert "a-42" in row.search_text
    assert row.study_datetime.date().isoformat() == "2026-11-20"


def test_claim_moves_unread_to_in_progress_and_second_reader_loses(make_study, attending, resident):
    study = make_study()
    first = claims.claim_study(attending, study)
    assert first.won and first.holder == attending
    assert item(study).reading_status == S.IN_PROGRESS
    second = claims.claim_study(resident, study)
    assert not second.won
    assert second.holder == attending
    again = claims.claim_study(attending, study)
    assert again.won  # re-opening one's own claim


def test_outsider_and_admin_cannot_claim(make_study, outsider, admin_user):
    study = make_study()
    for user in (outsider,):
        with pytest.raises(PermissionDenied):
            claims.claim_study(user, study)
    # admin_user in the fixtures is a superuser with the admin role: still no clinical role
    with pytest.raises(PermissionDenied):
        claims.claim_study(admin_user, study)
    assert item(study).claimed_by is None


def test_release_returns_untouched_read_to_unread(make_study, attending, resident):
    study = make_study()
    claims.claim_study(attending, study)
    with pytest.raises(services.ClaimHeldByOther):
        claims.release_claim(resident, study)
    claims.release_claim(attending, study)
    row = item(study)
    assert row.claimed_by is None and row.reading_status == S.UNREAD


def test_resident_cannot_mark_final_but_attending_can(make_study, attending, resident):
    study = make_study()
    claims.claim_study(resident, study)
    transitions.set_reading_status(resident, study, S.PRELIMINARY)
    with pytest.raises(PermissionDenied):
        transitions.set_reading_status(resident, study, S.FINAL)
    assert item(study).reading_status == S.PRELIMINARY
    # The attending must take the claim first.
    with pytest.raises(services.ClaimHeldByOther):
        transitions.set_reading_status(attending, study, S.FINAL)
    claims.release_claim(resident, study)
    assert item(study).reading_status == S.PRELIMINARY  # a preliminary read stays preliminary
    claims.claim_study(attending, study)
    transitions.set_reading_status(attending, study, S.FINAL)
    row = item(study)
    assert row.reading_status == S.FINAL and row.claimed_by is None


def test_transition_rules(make_study, attending):
    study = make_study()
    with pytest.raises(services.TransitionNotAllowed):
        transitions.set_reading_status(attending, study, S.FINAL)  # unread -> final skips claiming
    claims.claim_study(attending, study)
    transitions.set_reading_status(attending, study, S.FINAL)
    claims.claim_study(attending, study)
    with pytest.raises(services.TransitionNotAllowed):
        transitions.set_reading_status(attending, study, S.PRELIMINARY)
    transitions.set_reading_status(attending, study, S.ADDENDED)
    assert item(study).reading_status == S.ADDENDED
    with pytest.raises(ValidationError):
        transitions.set_reading_status(attending, study, "signed")


def test_admin_breaks_and_reassigns_claims(make_study, attending, resident, admin_user):
    study = make_study()
    claims.claim_study(resident, study)
    with pytest.raises(PermissionDenied):
        claims.break_claim(attending, study)
    row = assignment.reassign(admin_user, study, attending)
    assert row.claimed_by == attending and row.assigned_to == attending
    row = claims.break_claim(admin_user, study)
    assert row.claimed_by is None and row.reading_status == S.UNREAD
    with pytest.raises(ValidationError):
        assignment.reassign(admin_user, study, admin_user)  # not a reader


def test_bulk_assign_and_priority(make_study, resident, admin_user, outsider):
    studies = [make_study() for _ in range(3)]
    ids = [s.pk for s in studies]
    assert assignment.assign_studies(admin_user, ids, resident) == 3
    assert ReadingItem.objects.filter(assigned_to=resident).count() == 3
    assert assignment.set_priority(admin_user, ids[:1], Priority.STAT) == 1
    row = item(studies[0])
    assert row.priority == Priority.STAT and row.priority_rank == 0
    with pytest.raises(PermissionDenied):
        assignment.assign_studies(resident, ids, resident)
    with pytest.raises(PermissionDenied):
        assignment.set_priority(outsider, ids, Priority.STAT)


def test_events_are_sent_after_commit_with_row_payload(
    make_study, attending, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("reading.realtime.group_send", lambda group, msg: sent.append((group, msg)))
    study = make_study()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        claims.claim_study(attending, study)
    assert sent == []  # nothing before commit
    for cb in callbacks:
        cb()
    assert len(sent) == 1
    group, message = sent[0]
    assert group == "worklist" and message["type"] == "worklist.event"
    event = message["event"]
    assert event["type"] == "worklist.study_claimed"
    assert event["payload"]["claimed_by"]["username"] == attending.username
    assert event["seq"] == event["payload"]["version"] == item(study).version


def test_saved_worklists(make_study, attending, outsider):
    saved = lists.save_worklist(attending, "My STAT CTs", "?priority=stat&modality=CT")
    assert saved.query == "priority=stat&modality=CT"
    again = lists.save_worklist(attending, "My STAT CTs", "priority=stat")
    assert again.pk == saved.pk and again.query == "priority=stat"
    with pytest.raises(PermissionDenied):
        lists.save_worklist(outsider, "x", "")
    with pytest.raises(PermissionDenied):
        lists.delete_saved_worklist(outsider, saved.pk)
    lists.delete_saved_worklist(attending, saved.pk)
