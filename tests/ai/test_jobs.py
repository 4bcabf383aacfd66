"""AI jobs end to end through the real queue (Huey immediate mode) on the small demo studies."""

from __future__ import annotations

import pytest

from reading.ai import attempts, runner, services
from reading.ai.errors import AIRequestError
from reading.ai.models import AIJob, ErrorKind, FindingLink, JobStatus
from reading.ai.tasks import run_analysis
from reading.annotations.models import Annotation, ReviewState
from reading.worklist.models import ReadingItem
from tests.ai.conftest import TOKENS, series_uid


def _ai_annotations(job):
    return Annotation.objects.filter(ai_link__job=job)


def test_findings_on_a_radiograph_are_stored_as_pending_ai_annotations(demo, medgemma, resident):
    cr = demo["Chest radiograph PA"]
    job = services.request_analysis(
        resident, cr.study_instance_uid, series_uid(cr), "findings", parameters=TOKENS
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 1 and job.random_weights and job.tokens == TOKENS["max_new_tokens"]
    assert job.images_used == 1 and job.device.startswith("cpu")
    assert job.text and job.result["status"] in ("parsed", "unparsed")
    annotations = list(_ai_annotations(job))
    assert annotations and all(a.source == "ai" for a in annotations)
    assert all(
        a.review_state == ReviewState.PENDING and a.tool == "ai_finding" for a in annotations
    )
    sop = cr.series.get().instances.get().sop_instance_uid
    first = annotations[0].provenance
    assert annotations[0].sop_instance_uid == sop
    assert first["job_id"] == str(job.pk) and first["random_weights"] is True
    assert first["images"][0]["sop_instance_uid"] == sop and first["task"] == "findings"
    assert first["model"] and first["version"] == "local" and first["raw_output"]
    assert {"prefill_s", "decode_s", "new_tokens"} <= set(first["timings"])
    assert ReadingItem.objects.get(pk=cr.pk).ai_status == "done"


def test_ct_analysis_reads_the_series_and_records_every_slice_used(demo, medgemma, attending):
    ct = demo["Chest CT"]
    job = services.request_analysis(
        attending, ct.study_instance_uid, series_uid(ct), "localise", parameters=TOKENS
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    slices = ct.series.get().instances.count()
    assert job.images_used == slices
    assert len(job.provenance["images"]) == slices
    assert job.provenance["windows"][0].startswith("wide")
    # Random weights rarely answer JSON: whatever came back is kept with its parse status.
    assert job.result["status"] in ("parsed", "partial", "unparsed")
    assert _ai_annotations(job).count() == len(job.result["boxes"])


def test_compare_with_prior_puts_the_prior_images_first(demo, medgemma, attending):
    ct, prior = demo["Chest CT"], demo["Chest CT prior"]
    job = services.request_analysis(
        attending, ct.study_instance_uid, series_uid(ct), "compare_prior", parameters=TOKENS
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.prior_study == prior
    roles = [ref["role"] for ref in job.provenance["images"]]
    n = prior.series.get().instances.count()
    assert roles[:n] == ["prior"] * n and set(roles[n:]) == {"current"}


def test_compare_needs_a_prior(demo, medgemma, attending):
    prior = demo["Chest CT prior"]
    with pytest.raises(AIRequestError):
        services.request_analysis(
            attending, prior.study_instance_uid, series_uid(prior), "compare_prior"
        )


def test_impression_is_kept_on_the_job_never_as_a_mark(demo, medgemma, attending):
    ct = demo["Chest CT"]
    job = services.request_analysis(
        attending,
        ct.study_instance_uid,
        task="impression",
        text="Spiculated 14 mm nodule in the right upper lobe.",
        parameters=TOKENS,
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.result["status"] in ("parsed", "unparsed")
    assert job.images_used == 0 and not FindingLink.objects.filter(job=job).exists()


def test_model_not_installed_fails_once_with_the_instruction(demo, settings, attending):
    settings.MEDGEMMA_MODEL = ""
    cr = demo["Chest radiograph PA"]
    job = services.request_analysis(attending, cr.study_instance_uid, series_uid(cr), "findings")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error_kind == ErrorKind.MODEL_NOT_INSTALLED and "MEDGEMMA_MODEL=" in job.error
    assert ReadingItem.objects.get(pk=cr.pk).ai_status == "failed"


def test_exception_mid_generation_is_retried_and_finishes_once(demo, medgemma, attending):
    from inference.loading import load_medgemma

    engine = load_medgemma(str(medgemma), "cpu")
    calls = {"n": 0}

    def fail_on_fourth_token(module, args, output):
        calls["n"] += 1
        if calls["n"] == 4:  # a few tokens in: e.g. out of memory on the device
            raise RuntimeError("CUDA out of memory (injected)")

    hook = engine.model.get_output_embeddings().register_forward_hook(fail_on_fourth_token)
    try:
        cr = demo["Chest radiograph PA"]
        job = services.request_analysis(
            attending, cr.study_instance_uid, series_uid(cr), "findings", parameters=TOKENS
        )
    finally:
        hook.remove()
    job.refresh_from_db()
    # Back in the queue with the reason; Huey holds the retry with its back-off.
    assert job.status == JobStatus.QUEUED and job.error_kind == ErrorKind.INFERENCE_ERROR
    assert "out of memory" in job.error and job.attempts == 1
    assert not FindingLink.objects.filter(job=job).exists()
    run_analysis.call_local(str(job.pk))  # the retry
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.error == ""
    count = FindingLink.objects.filter(job=job).count()
    assert count >= 1
    assert runner.run_job(str(job.pk)) == "skipped"  # a duplicate delivery does nothing
    assert FindingLink.objects.filter(job=job).count() == count


def test_a_presumed_dead_attempt_cannot_finish_after_its_successor(demo, medgemma, attending):
    """Attempt 1 stalls past its lease; the sweep requeues; attempt 2 finishes; then the
    stalled attempt wakes up and tries to save: nothing changes."""
    from datetime import timedelta

    from django.utils import timezone

    cr = demo["Chest radiograph PA"]
    job = services.create_job(
        cr, task="findings", series_uid=series_uid(cr), parameters=TOKENS, delay=3600
    )
    first = attempts.claim_job(job.pk, "worker-a")
    AIJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert attempts.sweep_stale_jobs() == [str(job.pk)]  # requeued and run (immediate mode)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2
    count = FindingLink.objects.filter(job=job).count()
    assert attempts.complete_job(first, {}, [{"data": {}, "provenance": {}}]) is None
    assert attempts.record_progress(first, stage="tokens") is False
    assert FindingLink.objects.filter(job=job).count() == count


def test_cancel_a_queued_job(demo, medgemma, attending):
    cr = demo["Chest radiograph PA"]
    job = services.create_job(cr, task="findings", series_uid=series_uid(cr), delay=3600)
    services.cancel_job(job, by=attending)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert runner.run_job(str(job.pk)) == "skipped"
    assert ReadingItem.objects.get(pk=cr.pk).ai_status == "none"


def test_a_worklist_rule_starts_an_analysis_when_a_study_arrives(
    transactional_db, medgemma, settings
):
    from reading.worklist.models import Worklist

    settings.AI_AUTO_DELAY_S = 0
    Worklist.objects.create(name="Chest XR", modalities="CR", auto_ai_task="findings")
    from tests.ai.conftest import _seed

    cr = _seed(("Chest radiograph",))["Chest radiograph PA"]
    job = AIJob.objects.get(study=cr)
    assert job.trigger == "worklist" and job.requested_by is None
    assert job.status == JobStatus.DONE and job.series_instance_uid == series_uid(cr)
    assert ReadingItem.objects.get(pk=cr.pk).ai_status == "done"
