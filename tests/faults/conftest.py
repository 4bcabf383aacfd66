"""A stored study and a live session on it (the sessions tests' fixtures)."""

from tests.reading_sessions.conftest import ct_study, session  # noqa: F401
