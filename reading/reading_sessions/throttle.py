"""Latest-value throttling for streams where only the newest value matters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class LatestOnly:
    """Pass at most one value per ``interval`` seconds; in between, keep only the latest
    and send it when the interval is over, so the final position always arrives."""

    def __init__(self, interval: float, send: Callable[[Any], Awaitable[None]]):
        self.interval = interval
        self._send = send
        self._last = float("-inf")
        self._pending: Any = None
        self._has_pending = False
        self._timer: asyncio.Task | None = None

    async def submit(self, value: Any) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last + self.interval - loop.time()
        if wait <= 0 and self._timer is None:
            self._last = loop.time()
            await self._send(value)
            return
        self._pending, self._has_pending = value, True
        if self._timer is None:
            self._timer = asyncio.ensure_future(self._flush_later(max(wait, 0.0)))

    async def _flush_later(self, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
            while self._has_pending:
                value, self._pending, self._has_pending = self._pending, None, False
                self._last = asyncio.get_running_loop().time()
                await self._send(value)
                if self._has_pending:  # arrived while sending
                    await asyncio.sleep(self.interval)
        finally:
            self._timer = None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TokenBucket:
    """At most ``rate`` messages a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._at: float | None = None

    def allow(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
