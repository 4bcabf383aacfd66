"""Huey tasks of the AI app (djhuey finds this module in every installed app).

Tasks take ids only and are enqueued after commit (``services.create_job``).
Permanent failures (model not installed, no usable images) fail the job once;
anything else is retried with back-off. A worker killed mid-task cannot retry
by itself, so each worker sweeps jobs whose lease ran out when it starts and
then every minute (``attempts.sweep_stale_jobs``); the attempt fence
(``attempts``) makes the job finish exactly once either way.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from reading.ai import attempts, runner

logger = logging.getLogger(__name__)

RETRIES = 2


@db_task(retries=RETRIES, retry_delay=10, retry_backoff=2, context=True)
def run_analysis(job_id: str, task=None) -> str:
    """Run (one attempt of) AI job ``job_id``."""
    final = task is None or task.retries == 0
    return runner.run_job(job_id, final_attempt=final)


@db_periodic_task(crontab(minute="*"))
def sweep_stale_ai_jobs() -> None:
    requeued = attempts.sweep_stale_jobs()
    if requeued:
        logger.warning("requeued AI jobs whose worker stopped: %s", ", ".join(requeued))


@HUEY.on_startup()
def _worker_started() -> None:
    """In the worker process: route realtime events through the outbox, then sweep."""
    from django.db import close_old_connections

    from reading import realtime

    if realtime.use_outbox():
        logger.info("realtime events go through the outbox to the server's relay")
    try:
        attempts.sweep_stale_jobs()
    finally:
        close_old_connections()
