"""Drafted impression: asked of the AI app, shown for a decision, provenance kept.

The AI job is completed here through the AI app's own ``complete_job`` with an
answer labelled as random test weights: this tests the plumbing, not a model.
"""

import pytest

from reading.ai.attempts import complete_job
from reading.ai.models import AIJob, JobStatus
from reading.reading_sessions.models import SessionEvent
from reading.reading_sessions.services import create_session
from reading.reports import services
from tests.reports.conftest import fill

pytestmark = pytest.mark.django_db


def test_impression_suggestion_accept_and_provenance(as_resident, resident, ct_chest):
    report, _ = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    services.save_text(report, fill(report.text), resident)
    session = create_session(study=ct_chest, host=resident)
    response = as_resident.post(f"/api/reports/{report.pk}/impression/")
    assert response.status_code == 202, response.content
    suggestion = response.json()["suggestion"]
    assert suggestion["status"] == "requested"
    job = AIJob.objects.get(pk=suggestion["provenance"]["job_id"])
    assert job.task == "impression" and job.input_text.startswith("Lungs and airways:")
    # The worker runs the job (here: the AI app's completion service, random test weights).
    AIJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    complete_job(
        job,
        {
            "text": "IMPRESSION: No acute cardiopulmonary abnormality.",
            "result": {"status": "parsed", "data": "No acute cardiopulmonary abnormality."},
            "model_id": "tiny-medgemma (random weights)",
            "random_weights": True,
        },
        [],
    )
    body = as_resident.get(f"/api/reports/{report.pk}/").json()
    (shown,) = body["impression_suggestions"]
    assert shown["status"] == "pending"
    assert shown["text"] == "No acute cardiopulmonary abnormality."
    assert shown["provenance"]["random_weights"] is True
    assert shown["provenance"]["model"] == "tiny-medgemma (random weights)"
    # Never inserted by itself.
    report.refresh_from_db()
    assert "No acute cardiopulmonary" not in report.text
    event = SessionEvent.objects.filter(session=session, type="report.suggestion").get()
    assert event.payload["suggestion"]["id"] == shown["id"]
    decided = as_resident.post(
        f"/api/reports/{report.pk}/impression/{shown['id']}/",
        {"decision": "edited", "text": "No acute abnormality."},
        content_type="application/json",
    ).json()
    assert decided["status"] == "edited" and decided["final_text"] == "No acute abnormality."
    assert decided["decided_by"]["username"] == "res"
    again = as_resident.post(
        f"/api/reports/{report.pk}/impression/{shown['id']}/",
        {"decision": "rejected"},
        content_type="application/json",
    )
    assert again.status_code == 409


def test_impression_needs_findings(as_resident, resident, ct_chest):
    report, _ = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    services.save_text(report, "FINDINGS:\n\nIMPRESSION:\n", resident)
    response = as_resident.post(f"/api/reports/{report.pk}/impression/")
    assert response.status_code == 409
