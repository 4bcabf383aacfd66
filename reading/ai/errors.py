"""Failure types of AI jobs: permanent ones fail the job once, the rest are retried.

Callers branch on the class and its ``kind`` (an ``ErrorKind`` value); the
message is for people.
"""

from __future__ import annotations

from reading.ai.models import ErrorKind


class JobError(Exception):
    kind = ErrorKind.INFERENCE_ERROR
    retriable = True


class PermanentJobError(JobError):
    """Retrying cannot help until a person changes something."""

    retriable = False

    def __init__(self, message: str, kind: str = ErrorKind.INVALID_INPUT):
        super().__init__(message)
        self.kind = kind


class NoUsableImages(PermanentJobError):
    def __init__(self, message: str):
        super().__init__(message, ErrorKind.NO_USABLE_IMAGES)


class NoPrior(PermanentJobError):
    def __init__(self, message: str):
        super().__init__(message, ErrorKind.NO_PRIOR)


class AIRequestError(Exception):
    """A request the AI services refuse (validation); ``str()`` says why."""
