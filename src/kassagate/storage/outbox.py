"""The callback outbox (the ``callbacks`` table): rows written when a request ends, taken
under a lease by the callback sender, marked delivered, retried or given up.

The row of an ended request is written in the transaction that ends it
(:mod:`kassagate.storage.queue`), by :data:`ENQUEUE`: an ``INSERT … SELECT`` from the
kassa, so that a kassa without a callback URL gets no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, String, bindparam, insert, literal, or_, select, update

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.schema import callbacks, kassas
from kassagate.storage.sqlite_thread import sqlite_statement


def _enqueue_statement() -> Any:
    now = bindparam("cb_now", type_=BigInteger)
    return insert(callbacks).from_select(
        ["request_id", "kassaid", "url", "attempts", "next_attempt_at", "created_at"],
        select(
            bindparam("cb_request_id", type_=BigInteger),
            kassas.c.kassaid,
            kassas.c.callback_url,
            literal(0, type_=Integer),
            now,
            now,
        ).where(
            kassas.c.kassaid == bindparam("cb_kassaid", type_=String),
            kassas.c.callback_url.is_not(None),
            kassas.c.callback_url != "",
        ),
    )


#: The outbox row of an ended request (parameters: :func:`enqueue_params`); PostgreSQL runs
#: the statement, the SQLite thread its compiled text.
ENQUEUE = _enqueue_statement()
ENQUEUE_SQLITE = sqlite_statement(ENQUEUE)


def enqueue_params(request_id: int, kassaid: str) -> dict[str, Any]:
    """The parameters of :data:`ENQUEUE`."""
    return {"cb_request_id": request_id, "cb_kassaid": kassaid, "cb_now": utc_micros()}


@dataclass(frozen=True, slots=True)
class DueCallback:
    """A callback taken for delivery: ``attempts`` counts this one."""

    id: int
    request_id: int
    kassaid: str
    url: str
    attempts: int


class CallbackOutbox:
    """The outbox as the callback sender uses it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def take_due(self, *, limit: int, lease_us: int) -> list[DueCallback]:
        """Up to ``limit`` callbacks whose time came and that no live lease holds, leased
        for ``lease_us`` with one more attempt counted (``SKIP LOCKED`` on PostgreSQL: any
        number of senders never take the same row at once)."""
        now = utc_micros()
        due = (
            select(callbacks.c.id)
            .where(
                callbacks.c.delivered_at.is_(None),
                callbacks.c.gave_up_at.is_(None),
                callbacks.c.next_attempt_at <= now,
                or_(callbacks.c.lease_until.is_(None), callbacks.c.lease_until < now),
            )
            .order_by(callbacks.c.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        columns = (callbacks.c.id, callbacks.c.request_id, callbacks.c.kassaid, callbacks.c.url, callbacks.c.attempts)
        async with self.db.write_connection() as conn:
            rows = (
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.id.in_(due.scalar_subquery()))
                    .values(lease_until=now + lease_us, attempts=callbacks.c.attempts + 1)
                    .returning(*columns)
                )
            ).mappings().all()
        return [DueCallback(**row) for row in rows]

    async def secret(self, kassaid: str) -> str | None:
        """The kassa's callback secret (None: unsigned callbacks)."""
        async with self.db.engine.connect() as conn:
            found = await conn.execute(select(kassas.c.callback_secret).where(kassas.c.kassaid == kassaid))
            return found.scalar()

    async def delivered(self, callback_id: int) -> None:
        await self._settle(callback_id, delivered_at=utc_micros(), last_error=None)

    async def retry(self, callback_id: int, error: str, *, delay_us: int) -> None:
        await self._settle(callback_id, next_attempt_at=utc_micros() + delay_us, last_error=error)

    async def give_up(self, callback_id: int, error: str) -> None:
        await self._settle(callback_id, gave_up_at=utc_micros(), last_error=error)

    async def _settle(self, callback_id: int, **values: Any) -> None:
        async with self.db.write_connection() as conn:
            settle = update(callbacks).where(callbacks.c.id == callback_id).values(lease_until=None, **values)
            await conn.execute(settle)
