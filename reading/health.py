"""Health and readiness endpoints for load balancers and process supervisors.

``/healthz``: the process is alive and serving (no dependency is touched), for
restarting a hung process. ``/readyz``: this process can do its work now (the
database answers, the channel layer delivers a message to itself, the DICOM
storage directory is writable), for taking a process out of rotation. Neither
needs a login, so neither says anything about patients: only check names and
``ok``/``failed`` with the exception's class name.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

LAYER_TIMEOUT_S = 2.0


@never_cache
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _layer_round_trip() -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), LAYER_TIMEOUT_S)
    if message.get("type") != "readyz.ping":
        raise RuntimeError("channel layer returned another message")


def _channel_layer() -> None:
    from asgiref.sync import async_to_sync

    async_to_sync(_layer_round_trip)()


def _storage() -> None:
    root = settings.STORAGE_DIR
    root.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=root, prefix=".readyz-")
    try:
        os.write(fd, b"ok")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)


CHECKS = {"database": _database, "channel_layer": _channel_layer, "storage": _storage}


@never_cache
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - reported as not ready, by class only
            ready = False
            results[name] = {"status": "failed", "error": type(exc).__name__}
        else:
            results[name] = {"status": "ok"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return JsonResponse(
        {"status": "ok" if ready else "failed", "checks": results}, status=200 if ready else 503
    )
