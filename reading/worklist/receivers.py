"""Reactions to the archive: a stored instance makes (or refreshes) a worklist row."""

from __future__ import annotations

from reading.worklist import services


def on_instance_stored(sender, study_id: int, created_study: bool, **kwargs) -> None:
    services.register_study(study_id, created_study=created_study)
