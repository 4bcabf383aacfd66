"""The frames fast path's caches: access decisions, frame locations, audit records.

- Access decisions: (session key, Authorization header, study) -> the user,
  for ``DICOMWEB_FAST_FRAMES_TTL`` seconds, made by Django's own rule and access
  functions (``edgeauth.frames_access``).
- Frame locations: SOP Instance UID -> ``FrameSource``, least recently used
  first out, for the same TTL. A miss loads the whole series the user may read
  in one query; an expired decision whose location is still fresh only
  re-checks the credential and ``get_study_for_user``.
- Audit: ``record_access`` on a worker thread, at most once per user, study,
  action and minute (its own de-duplication does the same).

Database work runs on a worker thread (``sync_to_async(thread_sensitive=False)``)
that closes its connection afterwards; concurrent misses for the same key share
one lookup (``shared``). ``fastpath.py`` says what the TTL means for access.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import OrderedDict
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import Http404

from reading.audit.services import DEDUP_SECONDS, record_access
from reading.studies.access import get_study_for_user
from reading.studies.dicomweb import edgeauth
from reading.studies.dicomweb.frames import FrameSource

MAX_SOURCES = 20_000  # about a hundred CT series of frame locations
MAX_GRANTS = 10_000


@dataclass(frozen=True)
class Grant:
    """A credential found to give ``user`` access to a study, valid until ``expires``."""

    user: object
    expires: float


@dataclass(frozen=True)
class Located:
    """An instance's frame location, trusted until ``expires``."""

    source: FrameSource
    expires: float


class EdgeCaches:
    """What the frames fast path keeps between requests (per process)."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        """Forget every cached decision and location (tests; a settings change)."""
        self._grants: OrderedDict[tuple, Grant] = OrderedDict()
        self._sources: OrderedDict[str, Located] = OrderedDict()
        self._hosts: dict[tuple, bool] = {}
        self._audited: dict[tuple, float] = {}
        self._pending: dict[tuple, asyncio.Future] = {}

    def fresh_source(self, sop_uid: str) -> FrameSource | None:
        """The cached location of an instance, if it has not expired."""
        located = self._sources.get(sop_uid)
        if located is None or located.expires <= time.monotonic():
            return None
        return located.source

    def host_allowed(self, request, scope) -> bool:
        """Django's ALLOWED_HOSTS check (``HttpRequest.get_host``), remembered per Host value."""
        key = (request.host, request.forwarded_host, tuple(settings.ALLOWED_HOSTS))
        allowed = self._hosts.get(key)
        if allowed is None:
            try:
                ASGIRequest(scope, io.BytesIO()).get_host()
                allowed = True
            except DisallowedHost:
                allowed = False
            if len(self._hosts) > 1000:
                self._hosts.clear()
            self._hosts[key] = allowed
        return allowed

    async def grant_and_source(self, request) -> tuple[Grant, FrameSource] | None:
        """The access decision for this credential and study, and the instance's location.

        Both are at most ``DICOMWEB_FAST_FRAMES_TTL`` seconds old: a location
        does not change, but an instance or series deleted (in the admin) must
        stop being served as surely as a deactivated user.
        """
        now = time.monotonic()
        grant_key = (request.credential, request.study)
        grant = self._grants.get(grant_key)
        if grant is not None and grant.expires <= now:
            grant = None
        located = self._sources.get(request.sop)
        if located is not None and located.expires <= now:
            located = None
        if grant is not None and located is not None:
            self._sources.move_to_end(request.sop)
            return grant, located.source
        # A fresh location with an expired grant needs the credential checked, not the series.
        load_series = located is None
        key = ("lookup", request.credential, request.study, request.series, grant is None)
        found = await self.shared(
            (*key, load_series),
            edgeauth.frames_access,  # looked up at call time: the tests count the lookups
            request.session_key,
            request.authorization,
            request.study,
            request.series,
            grant.user if grant is not None else None,
            load_series,
        )
        if found is None:
            return None
        user, sources = found
        expires = time.monotonic() + float(settings.DICOMWEB_FAST_FRAMES_TTL)
        if grant is None:
            grant = Grant(user, expires)
            self._grants[grant_key] = grant
            self._grants.move_to_end(grant_key)
            while len(self._grants) > MAX_GRANTS:
                self._grants.popitem(last=False)
        if not load_series:
            return grant, located.source
        for sop, source in sources.items():
            self._sources[sop] = Located(source, expires)
            self._sources.move_to_end(sop)
        while len(self._sources) > MAX_SOURCES:
            self._sources.popitem(last=False)
        if request.sop not in sources:
            return None  # no such instance, or none this user may see: Django says which
        return grant, sources[request.sop]

    async def audit(self, user, study_uid: str, scope, action: str, detail: str) -> bool:
        """Write the audit record when one may be due; False when the study is no longer there."""
        key = (user.pk, study_uid, action, detail)
        if self._audited.get(key, 0.0) > time.monotonic():
            return True
        written = await self.shared(
            ("audit", *key), _record_access, user, study_uid, scope, action, detail
        )
        if written is None:
            return False
        # Written now: none is due for a minute. Refused by record_access's own
        # de-duplication (written earlier, maybe by another path): ask again soon.
        wait = DEDUP_SECONDS if written else float(settings.DICOMWEB_FAST_FRAMES_TTL)
        self._audited[key] = time.monotonic() + wait
        if len(self._audited) > MAX_GRANTS:
            now = time.monotonic()
            self._audited = {k: t for k, t in self._audited.items() if t > now}
        return True

    async def shared(self, key: tuple, func, *args):
        """Run ``func(*args)`` on a worker thread, once for all concurrent callers with ``key``."""
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(sync_to_async(func, thread_sensitive=False)(*args))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(task)


def _record_access(user, study_uid: str, scope, action: str, detail: str) -> bool | None:
    """``record_access`` as the frames, pixel data and rendered views call it; True when
    written."""
    try:
        study = get_study_for_user(user, study_uid)
        request = ASGIRequest(scope, io.BytesIO())
        request.user = user
        event = record_access(user, action, study=study, request=request, detail=detail)
        return event is not None
    except (PermissionDenied, Http404):
        return None
    finally:
        connection.close()
