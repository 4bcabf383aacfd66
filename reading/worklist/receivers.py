"""Reactions to other apps: a stored instance makes (or refreshes) a worklist row; a user
who lost access (``reading.accounts.signals.access_lost``) holds no claim any more."""

from __future__ import annotations

from reading.worklist import claims, services


def on_instance_stored(sender, study_id: int, created_study: bool, **kwargs) -> None:
    services.register_study(study_id, created_study=created_study)


def on_access_lost(sender, user_id: int, **kwargs) -> None:
    claims.release_claims_of(user_id)
