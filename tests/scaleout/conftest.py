"""The tiny random-weight models of the AI and dictation tests, for the cluster tests."""

from tests.ai.conftest import tiny_medgemma  # noqa: F401
from tests.dictation.conftest import tiny_medasr  # noqa: F401
