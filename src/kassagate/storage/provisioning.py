"""Provisioning's writes that the ``Accounts`` repository does not make: a virtual
register's row stored together with its journal, in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import insert, update

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.schema import kkts


@dataclass(frozen=True, slots=True)
class Journal:
    """Where a new virtual register keeps its journal, and the identity it was given."""

    path: str  # relative to the data dir
    fn_serial: str | None
    kkt_reg_number: str | None


async def add_virtual_kkt(db: Database, merchant_id: str, create: Callable[[int], Awaitable[Journal]]) -> int:
    """Store a virtual register whose journal ``create(kkt_id)`` makes, and return its id.

    The row is inserted, the journal created and the row completed in one transaction:
    nobody (processing's monitor, the workers, the cabinet) ever sees the register without
    its journal. When ``create`` fails, nothing is stored (``create`` removes what it
    made). On SQLite the database's write lock is held while the journal is created (a
    few milliseconds)."""
    async with db.write_connection() as conn:
        res = await conn.execute(
            insert(kkts)
            .values(kind="virtual", merchant_id=merchant_id, fn_state="ok", updated_at=utc_micros())
            .returning(kkts.c.id)
        )
        kkt_id = int(res.scalar_one())
        journal = await create(kkt_id)
        await conn.execute(
            update(kkts)
            .where(kkts.c.id == kkt_id)
            .values(
                journal_path=journal.path,
                fn_serial=journal.fn_serial,
                kkt_reg_number=journal.kkt_reg_number,
                updated_at=utc_micros(),
            )
        )
    return kkt_id
