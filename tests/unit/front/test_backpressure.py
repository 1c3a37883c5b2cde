"""The intake's backpressure: the per-kassa token bucket and the queue estimate."""

from __future__ import annotations

import asyncio

from kassagate.front.backpressure import BEHIND_RETRY_SECONDS, STALE_SECONDS, Gate, KassaBuckets, QueueWatch
from kassagate.storage.metrics import QueueStats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate_per_kassa() -> None:
    clock = Clock()
    buckets = KassaBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.check("a", "kassa a") for _ in range(3)] == [None, None, None]
    refusal = buckets.check("a", "kassa a")
    assert refusal is not None and refusal.reason == "rate" and refusal.retry_after == 1
    assert "kassa a" in refusal.text and "at most 2 a second" in refusal.text
    assert buckets.check("b", "kassa b") is None  # another kassa has its own bucket
    clock.now += 0.5  # one token back at 2 a second
    assert buckets.check("a", "kassa a") is None
    assert buckets.check("a", "kassa a") is not None
    clock.now += 60  # never more than the burst
    assert [buckets.check("a", "kassa a") is None for _ in range(4)] == [True, True, True, False]


def test_bucket_retry_after_is_the_time_to_the_next_token() -> None:
    buckets = KassaBuckets(rate=0.1, burst=1, clock=Clock())
    assert buckets.check("a", "kassa a") is None
    refusal = buckets.check("a", "kassa a")
    assert refusal is not None and refusal.retry_after == 10


def test_bucket_off_and_default_burst() -> None:
    assert not KassaBuckets(0, 0).enabled and KassaBuckets(0, 0).check("a", "a") is None
    assert KassaBuckets(50, 0).burst == 100 and KassaBuckets(1, 0).burst == 10


async def test_queue_watch_refuses_on_depth_or_lag_and_never_on_a_stale_estimate() -> None:
    clock = Clock()
    reads: list[int] = []
    current = QueueStats(depth=0, oldest_pending_age=0, lag=0)

    async def read() -> QueueStats:
        reads.append(1)
        return current

    watch = QueueWatch(read, max_depth=10, max_lag=30, clock=clock)
    assert watch.check() is None  # nothing known yet: a read starts
    await asyncio.sleep(0)
    assert len(reads) == 1 and watch.check() is None
    assert len(reads) == 1  # within REFRESH_SECONDS: no other read
    current = QueueStats(depth=11, oldest_pending_age=50, lag=0)
    clock.now += 0.6
    watch.check()
    await asyncio.sleep(0)
    refusal = watch.check()
    assert refusal is not None and refusal.reason == "queue" and refusal.retry_after == BEHIND_RETRY_SECONDS
    assert "11 requests are waiting" in refusal.text
    watch.seen(QueueStats(depth=1, oldest_pending_age=900, lag=31))
    refusal = watch.check()
    assert refusal is not None and "waited 31 s for a worker" in refusal.text
    watch.seen(QueueStats(depth=1, oldest_pending_age=900, lag=29))
    assert watch.check() is None  # an old request waiting for a retry is not a backlog

    async def failing() -> QueueStats:
        raise OSError("database down")

    watch._read = failing
    watch.seen(QueueStats(depth=99, oldest_pending_age=0, lag=0))
    clock.now += STALE_SECONDS + 1
    assert watch.check() is None  # too old to refuse anyone on
    await watch.close()


def test_gate_counts_refusals() -> None:
    seen: list[str] = []
    gate = Gate(None, KassaBuckets(rate=1, burst=1, clock=Clock()))
    gate.on_refusal = seen.append
    assert gate.behind() is None and gate.rate("a", "kassa a") is None
    assert gate.rate("a", "kassa a") is not None and seen == ["rate"]

    async def read() -> QueueStats:
        return QueueStats(depth=10**9, oldest_pending_age=0, lag=0)

    assert Gate(QueueWatch(read, max_depth=0, max_lag=0), None).queue is None  # both limits off: no watch
