"""``ai.*`` events: every active session on the job's study hears about it, and so does
every viewer open on the study outside a session (``study_group``, ``consumers``).

Job state changes and findings are stored events (replayed to late joiners);
the streamed text is ephemeral (``ai.job.stream``, the latest wins). All are
sent after commit, from whichever process runs the job (``reading.realtime``
carries them from the Huey worker to the server).
"""

from __future__ import annotations

from reading.reading_sessions import events as ev
from reading.realtime import send_on_commit

QUEUED = PROGRESS = ev.AI_JOB_PROGRESS
DONE = ev.AI_JOB_DONE
FAILED = ev.AI_JOB_FAILED
CANCELLED = ev.AI_JOB_CANCELLED


def study_group(study_id) -> str:
    return f"ai.study.{study_id}"


def _to_study(study_id, event_type: str, payload: dict) -> None:
    """The viewers of the study outside a session: the same envelope, no ``seq``."""
    envelope = {"type": event_type, "seq": None, "payload": payload}
    send_on_commit(study_group(study_id), {"type": "ai.event", "event": envelope})


def _sessions(study_id) -> list:
    from reading.reading_sessions.models import ReadingSession, SessionStatus

    return list(
        ReadingSession.objects.filter(study_id=study_id, status=SessionStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )


def job_changed(job, event_type: str) -> None:
    from reading.ai.serializers import job_payload
    from reading.reading_sessions.eventlog import append_event

    payload = job_payload(job)
    for session_id in _sessions(job.study_id):
        append_event(session_id, event_type, payload, job.requested_by_id)
    _to_study(job.study_id, event_type, payload)


def job_stream(job) -> None:
    """The text so far and the progress counters, to viewers in sessions (not stored)."""
    from reading.reading_sessions.models import group_for_session

    payload = {
        "job_id": str(job.pk),
        "status": job.status,
        "stage": job.stage,
        "done": job.progress_done,
        "total": job.progress_total,
        "tokens": job.tokens,
        "text": job.text,
        "eta_seconds": (job.provenance or {}).get("eta_seconds"),
        "random_weights": job.random_weights,
    }
    envelope = ev.ephemeral(ev.AI_JOB_STREAM, payload)
    for session_id in _sessions(job.study_id):
        send_on_commit(group_for_session(session_id), ev.group_message(envelope))
    _to_study(job.study_id, ev.AI_JOB_STREAM, payload)


def finding_changed(job, annotation, actor=None) -> None:
    from reading.ai.serializers import finding_payload
    from reading.reading_sessions.eventlog import append_event

    payload = finding_payload(annotation, job=job)
    for session_id in _sessions(annotation.study_id):
        append_event(session_id, ev.AI_FINDING, payload, actor)
    _to_study(annotation.study_id, ev.AI_FINDING, payload)
