"""The queries behind the gauges of ``/metrics`` and the intake's backpressure.

Each is one read, bounded by what is pending (not by the history): the queue's by the
index on ``requests (status, next_attempt_at)``, the callbacks' by their primary key from
the oldest callback still pending (a watermark kept by the caller, less a margin).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select

from kassagate.core.states import RequestStatus
from kassagate.storage.db import Database, utc_micros
from kassagate.storage.schema import callbacks, requests

PENDING = RequestStatus.PENDING
WATERMARK_MARGIN = 1000

@dataclass(frozen=True, slots=True)
class QueueStats:
    #: Pending requests (accepted, not yet fiscalized or failed), retries included.
    depth: int
    #: Seconds since the oldest pending request was accepted (0 when none is).
    oldest_pending_age: float
    #: Seconds the longest-waiting due request has waited for a worker: due (its time to be
    #: tried has come) and not held by a live lease. 0 when none waits.
    lag: float


async def queue_stats(db: Database, now_us: int | None = None) -> QueueStats:
    now = utc_micros() if now_us is None else now_us
    waiting = and_(
        requests.c.next_attempt_at <= now,
        or_(requests.c.lease_until.is_(None), requests.c.lease_until < now),
    )
    stmt = select(
        func.count(),
        func.min(requests.c.accepted_at),
        func.min(case((waiting, requests.c.next_attempt_at), else_=None)),
    ).where(requests.c.status == PENDING)
    async with db.engine.connect() as conn:
        depth, oldest, due = (await conn.execute(stmt)).one()
    return QueueStats(
        depth=int(depth or 0),
        oldest_pending_age=max(0.0, (now - oldest) / 1e6) if oldest is not None else 0.0,
        lag=max(0.0, (now - due) / 1e6) if due is not None else 0.0,
    )


@dataclass(frozen=True, slots=True)
class CallbackStats:
    #: Callbacks not yet delivered and not given up.
    pending: int
    #: The watermark for the next read: no callback below it is pending.
    low: int


async def callback_stats(db: Database, low: int = 0) -> CallbackStats:
    """Pending callbacks, reading from ``low`` (the previous answer's watermark) up."""
    pending = and_(callbacks.c.id >= low, callbacks.c.delivered_at.is_(None), callbacks.c.gave_up_at.is_(None))
    async with db.engine.connect() as conn:
        first, count = (await conn.execute(select(func.min(callbacks.c.id), func.count()).where(pending))).one()
        if first is None:
            top = (await conn.execute(select(func.max(callbacks.c.id)))).scalar()
            first = (top or 0) + 1
    # A margin below the watermark: on PostgreSQL a row may commit after one with a higher id.
    return CallbackStats(pending=int(count or 0), low=max(0, int(first) - WATERMARK_MARGIN))


async def ping(db: Database) -> None:
    """One round trip to the database (raises when it cannot be reached)."""
    async with db.engine.connect() as conn:
        await conn.execute(select(1))
