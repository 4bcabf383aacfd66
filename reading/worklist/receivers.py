"""Reactions to the archive: a stored instance makes (or refreshes) a worklist row."""

from __future__ import annotations

from django.core.cache import cache

from reading.worklist import events, services

# A 500-slice CT stores 500 instances; the worklist hears of it at most once a
# second per study (leading edge). Clients re-fetch a changed row shortly after
# the last event they saw, which covers the trailing instances.
UPDATE_THROTTLE_SECONDS = 1


def on_instance_stored(sender, study_id: int, created_study: bool, **kwargs) -> None:
    item_existed = not created_study
    item = services.register_study(study_id, created_study=created_study)
    if item is None or not item_existed:
        return
    services.sync_study_fields(study_id)
    if cache.add(f"worklist:updated:{study_id}", 1, UPDATE_THROTTLE_SECONDS):
        events.emit_on_commit(events.STUDY_UPDATED, study_id)
