"""Encoded rendered images kept in memory, least recently used first out.

Only the bytes of an answer are kept, never a decision: the view checks access
(``instance_for_user``) and writes its audit record before it asks here, on
every request. A key names the stored file by path, size and modification
time (stored instances never change; a file replaced under the same name is
another key), the frame and every parameter that changes the image (window,
viewport, quality, media type). A deleted instance is refused by the access
check before its entry is looked at, and its entry leaves with the oldest.
Per process, at most ``RENDERED_CACHE_BYTES`` (0 keeps nothing).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings


class RenderedCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: tuple, body: bytes) -> None:
        limit = settings.RENDERED_CACHE_BYTES
        if len(body) > limit // 8:
            return  # nothing fills a large part of the budget alone
        with self._lock:
            old = self._entries.pop(key, None)
            self._bytes -= len(old) if old is not None else 0
            self._entries[key] = body
            self._bytes += len(body)
            while self._bytes > limit:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


rendered_cache = RenderedCache()
