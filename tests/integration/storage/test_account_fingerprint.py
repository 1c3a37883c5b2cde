"""``Accounts.fingerprint`` changes with every change the intake reads of a kassa or its
register, and with nothing else, on both engines."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from kassagate.storage.db import Database, open_database
from kassagate.storage.repos import Accounts


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await open_database(database_url)
    try:
        yield database
    finally:
        await database.close()


async def test_the_fingerprint_follows_every_change_of_a_kassa_or_register(db: Database) -> None:
    accounts = Accounts(db, secrets.token_bytes(32))
    seen = [await accounts.fingerprint()]

    async def changed() -> None:
        now = await accounts.fingerprint()
        assert now not in seen
        assert await accounts.fingerprint() == now  # stable while nothing changes
        seen.append(now)

    kkt = await accounts.add_kkt(kind="virtual", merchant_id="m")
    await changed()
    await accounts.add_kassa("1001", token="t-1001", kkt_id=kkt)
    await changed()
    await accounts.set_token("kassa", "1001", "t-other")
    await changed()
    for values in ({"debug": True}, {"activated": False}, {"type": "vending"}, {"kkt_id": None},
                   {"callback_url": "http://127.0.0.1:9/cb"}):
        await accounts.update_kassa("1001", **values)
        await changed()
    await accounts.set_fn_state(kkt, "full")
    await changed()
    await accounts.update_kkt(kkt, fn_serial="9999000011112222")
    await changed()
    await accounts.add_kassa("1002", token="t-1002")
    await changed()
