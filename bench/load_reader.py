"""One simulated reader of ``bench/load.py``: logs in through the form, then repeats the
worklist, a study's metadata and frames, a live session (join, chat, annotation) and a
report draft save over the report's Yjs socket, timing each operation."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict

PASSWORD = "bench-load-password-1"
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


class Reader:
    def __init__(self, username: str, bases: list[str], rr, studies: list[dict], record):
        import httpx2

        self.username = username
        self.bases = bases
        self.rr = rr
        self.studies = studies
        self.record = record
        self.http = httpx2.AsyncClient(timeout=60, follow_redirects=False)

    def url(self, path: str) -> str:
        return self.bases[next(self.rr) % len(self.bases)] + path

    async def timed(self, op: str, coro):
        started = time.perf_counter()
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            self.record(op, None, f"{type(exc).__name__}: {exc}"[:200])
            return
        self.record(op, (time.perf_counter() - started) * 1000, None)

    async def get(self, path: str, accept: str | None = None) -> None:
        headers = {"Accept": accept} if accept else {}
        response = await self.http.get(self.url(path), headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        await response.aread()

    async def login(self) -> None:
        await self.http.get(self.url("/accounts/login/"))
        response = await self.http.post(
            self.url("/accounts/login/"),
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
        )
        if response.status_code != 302 or "sessionid" not in self.http.cookies:
            raise RuntimeError(f"login: {response.status_code}")

    async def session_round(self, study: dict, n: int) -> None:
        from tests.reading_sessions.wsclient import WSClient

        cookie = self.http.cookies["sessionid"]
        base = self.url("")
        started = time.perf_counter()
        try:
            client = await WSClient.open(base, f"/ws/sessions/{study['session']}/", cookie)
            await client.until("session.state", timeout=60)
        except Exception as exc:  # noqa: BLE001
            self.record("session join", None, f"{type(exc).__name__}: {exc}"[:200])
            return
        self.record("session join", (time.perf_counter() - started) * 1000, None)
        try:
            ref = f"{self.username}-{n}"
            await self.timed("chat (ack)", self._acked(client, {"type": "chat.send", "text": ref}))
            annotation = {
                "sop_instance_uid": study["sops"][n % 3],
                "tool": "length",
                "geometry": {"points": [[1.0 + n % 50, 2.0], [30.0, 40.0]]},
                "label": ref,
            }
            command = {"type": "annotation.create", "annotation": annotation}
            await self.timed("annotation (ack)", self._acked(client, command))
        finally:
            await client.close()

    async def _acked(self, client, message: dict) -> None:
        ref = f"{message['type']}-{time.perf_counter_ns()}"
        await client.send({**message, "ref": ref})
        while True:
            _, event = await client.recv(timeout=60)
            payload = event.get("payload") or {}
            if event["type"] in ("ack", "error") and payload.get("ref") == ref:
                if event["type"] == "error":
                    raise RuntimeError(f"error {payload.get('code')}: {payload.get('detail')}")
                return

    async def report_save(self, study: dict, n: int) -> None:
        from pycrdt import (
            Doc,
            Text,
            YMessageType,
            YSyncMessageType,
            create_update_message,
            write_message,
        )
        from websockets.asyncio.client import connect

        def sync_message(step: int, payload: bytes) -> bytes:
            return bytes([YMessageType.SYNC, step]) + write_message(payload)

        base = self.url("")
        host = base.split("//", 1)[1]
        async with connect(
            f"ws://{host}/ws/reports/{study['report']}/",
            origin=f"http://{host}",
            additional_headers={"Cookie": f"sessionid={self.http.cookies['sessionid']}"},
            open_timeout=60,
            compression=None,
        ) as ws:
            doc = Doc()
            await ws.send(sync_message(YSyncMessageType.SYNC_STEP1, doc.get_state()))
            await self._until_step2(ws, doc, YMessageType, YSyncMessageType)
            before = doc.get_state()
            text = doc.get("text", type=Text)
            text.insert(len(str(text)), f" {self.username}.{n}")
            await ws.send(create_update_message(doc.get_update(before)))
            # Messages are handled in order: the answer to this request means it is stored.
            await ws.send(sync_message(YSyncMessageType.SYNC_STEP1, doc.get_state()))
            await self._until_step2(ws, doc, YMessageType, YSyncMessageType)

    @staticmethod
    async def _until_step2(ws, doc, YMessageType, YSyncMessageType) -> None:
        from pycrdt import read_message

        while True:
            message = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(message, str):
                continue
            if message[0] == YMessageType.SYNC and message[1] == YSyncMessageType.SYNC_STEP2:
                doc.apply_update(read_message(message[2:]))
                return
            if message[0] == YMessageType.SYNC and message[1] == YSyncMessageType.SYNC_UPDATE:
                doc.apply_update(read_message(message[2:]))

    async def run(self, index: int, stop_at: float) -> None:
        n = 0
        while time.monotonic() < stop_at:
            study = self.studies[(index + n) % len(self.studies)]
            uid = study["uid"]
            await self.timed("worklist page", self.get("/"))
            await self.timed("worklist API", self.get("/api/worklist/?limit=50"))
            await self.timed(
                "study metadata",
                self.get(f"/dicomweb/studies/{uid}/metadata", "application/dicom+json"),
            )
            for sop in study["sops"]:
                path = f"/dicomweb/studies/{uid}/series/{study['series']}/instances/{sop}/frames/1"
                await self.timed("frame", self.get(path, FRAME_ACCEPT))
            await self.session_round(study, n)
            await self.timed("report save", self.report_save(study, n))
            n += 1
        await self.http.aclose()


async def drive(users: list[str], studies: list[dict], bases: list[str], seconds: float, mark):
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)

    def record(op, ms, error):
        if error is None:
            samples[op].append(ms)
        else:
            errors[op].append(error)

    rr = itertools.count()
    readers = [Reader(u, bases, rr, studies, record) for u in users]
    # Everyone logs in first (a password hash each, on the server's one thread for sync
    # views): timed, but outside the steady-state window that gives ops/s.
    await asyncio.gather(*(reader.timed("login", reader.login()) for reader in readers))
    mark()
    started = time.monotonic()
    stop_at = started + seconds
    # Users start over the first two seconds, not all in the same millisecond.
    tasks = []
    for i, reader in enumerate(readers):
        tasks.append(asyncio.ensure_future(reader.run(i, stop_at)))
        await asyncio.sleep(2.0 / len(readers))
    await asyncio.gather(*tasks)
    return samples, errors, time.monotonic() - started
