"""Typed errors of the model engines.

``ModelNotInstalled`` is permanent until someone installs the weights: task
runners must not retry it. ``InferenceCancelled`` is the normal end of a
cancelled job, not a failure.
"""

from __future__ import annotations

MODEL_SETTINGS = {
    "medasr": ("MedASR", "MEDASR_MODEL", "google/medasr"),
    "medgemma": ("MedGemma", "MEDGEMMA_MODEL", "google/medgemma-1.5-4b-it"),
}


class InferenceError(Exception):
    """Base class of the engines' errors."""


class ModelNotInstalled(InferenceError):
    """The weights of a model are not configured, absent, or unreachable.

    The message carries the exact instructions to fix it.
    """

    def __init__(self, model: str, reason: str = "", source: str = ""):
        name, setting, hub_id = MODEL_SETTINGS[model]
        self.model = model
        self.setting = setting
        self.source = source
        self.reason = reason
        self.instructions = (
            f"set {setting}=<hub id or local dir> (e.g. {setting}={hub_id} with a Hugging Face "
            f"token that has accepted the model's terms, or a folder holding a downloaded copy); "
            f"for random-weight test models run `python manage.py build_tiny_models` and use "
            f"the {setting}= line it prints"
        )
        where = f" ({source!r}: {reason})" if source else (f" ({reason})" if reason else "")
        super().__init__(f"{name} not installed{where}: {self.instructions}")


class InferenceCancelled(InferenceError):
    """A generation was cancelled by its caller."""
