"""The viewer bundle's hashed files are cached for ever; the entries the templates link are not."""

from __future__ import annotations

import re

from django.conf import settings


def _immutable(url: str) -> bool:
    return bool(re.search(settings.WHITENOISE_IMMUTABLE_FILE_TEST, url))


def test_hashed_chunks_workers_and_codecs_are_immutable():
    for name in (
        "vtk-BcfMluOn.js",
        "decodeImageFrameWorker-CvQCdX_m.js",
        "openjpegwasm_decode-BP3l1OXH.wasm",
        "preload-helper-CWyMwfO9.js",
    ):
        assert _immutable(f"/static/viewer/assets/{name}"), name


def test_entries_and_other_static_files_are_not():
    for url in (
        "/static/viewer/viewer.js",
        "/static/viewer/viewer.css",
        "/static/viewer/worklist.js",
        "/static/css/app.css",
        "/static/js/idle.js",
    ):
        assert not _immutable(url), url
