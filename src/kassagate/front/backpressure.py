"""Backpressure and fairness at the intake: code 70 with ``Retry-After`` instead of
accepting more than processing can take, or more than one kassa's share.

- **Behind:** the queue is deeper than ``KASSAGATE_MAX_QUEUE_DEPTH``, or a due request has
  waited for a worker longer than ``KASSAGATE_MAX_PENDING_AGE_SECONDS``. The intake never
  reads the database for this: it looks at an estimate that one query refreshes at most
  every ``REFRESH_SECONDS`` while requests come (and each ``/metrics`` scrape). An
  estimate older than ``STALE_SECONDS`` (the refresh failed) refuses nothing.
- **Rate:** a token bucket per kassa (per cluster in cluster mode) of
  ``KASSAGATE_KASSA_BURST`` requests, refilled at ``KASSAGATE_KASSA_RATE`` per second.
  Only authenticated requests take tokens, so nobody can spend another kassa's share.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kassagate.storage.metrics import QueueStats

log = logging.getLogger("kassagate.front.backpressure")

REFRESH_SECONDS = 0.5
STALE_SECONDS = 5.0
#: What a client is told to wait when processing is behind.
BEHIND_RETRY_SECONDS = 5
#: Buckets not touched for this long are dropped (they are full again by then).
BUCKET_IDLE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # queue | rate
    retry_after: int  # whole seconds, at least 1
    text: str


class QueueWatch:
    """The intake's estimate of the queue (``depth`` and ``lag``)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[QueueStats]],
        *,
        max_depth: int,
        max_lag: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.max_depth = max_depth
        self.max_lag = max_lag
        self._clock = clock
        self._stats: QueueStats | None = None
        self._at = -math.inf
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.max_depth > 0 or self.max_lag > 0

    def seen(self, stats: QueueStats) -> None:
        self._stats = stats
        self._at = self._clock()

    async def _refresh(self) -> None:
        try:
            self.seen(await self._read())
        except Exception as exc:
            log.warning("reading the queue's depth failed (%s); backpressure waits for the next read",
                        type(exc).__name__)
        finally:
            self._task = None

    def check(self) -> Refusal | None:
        if not self.enabled:
            return None
        now = self._clock()
        if now - self._at >= REFRESH_SECONDS and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        stats = self._stats
        if stats is None or now - self._at > STALE_SECONDS:
            return None
        if self.max_depth > 0 and stats.depth > self.max_depth:
            why = f"{stats.depth} requests are waiting to be fiscalized (limit {self.max_depth})"
        elif self.max_lag > 0 and stats.lag > self.max_lag:
            why = f"requests have waited {stats.lag:.0f} s for a worker (limit {self.max_lag:g} s)"
        else:
            return None
        text = f"Processing is behind: {why}. Retry in {BEHIND_RETRY_SECONDS} s."
        return Refusal("queue", BEHIND_RETRY_SECONDS, text)

    async def close(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class KassaBuckets:
    """A token bucket per key: ``burst`` requests at once, ``rate`` per second after."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst or max(10, math.ceil(rate * 2)))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._swept = clock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str, label: str) -> Refusal | None:
        """Take a token for ``key``; a refusal when none is left. ``label`` names the
        account in the text (``kassa 123``)."""
        if self.rate <= 0:
            return None
        now = self._clock()
        tokens, when = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._sweep(now)
            return None
        self._buckets[key] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        text = f"Too many requests from {label}: at most {self.rate:g} a second. Retry in {wait} s."
        return Refusal("rate", wait, text)

    def _sweep(self, now: float) -> None:
        if now - self._swept < BUCKET_IDLE_SECONDS:
            return
        self._swept = now
        idle = [k for k, (_t, when) in self._buckets.items() if now - when > BUCKET_IDLE_SECONDS]
        for key in idle:
            del self._buckets[key]


class Gate:
    """The intake's admission checks (``Intake.gate``)."""

    def __init__(self, queue: QueueWatch | None, buckets: KassaBuckets | None) -> None:
        self.queue = queue if queue is not None and queue.enabled else None
        self.buckets = buckets if buckets is not None and buckets.enabled else None
        #: Called with the reason of each refusal (metrics).
        self.on_refusal: Callable[[str], None] | None = None

    def _refused(self, refusal: Refusal | None) -> Refusal | None:
        if refusal is not None and self.on_refusal is not None:
            self.on_refusal(refusal.reason)
        return refusal

    def rate(self, key: str, label: str) -> Refusal | None:
        return None if self.buckets is None else self._refused(self.buckets.check(key, label))

    def behind(self) -> Refusal | None:
        return None if self.queue is None else self._refused(self.queue.check())
