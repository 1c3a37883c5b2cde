"""The intake's account cache: at most ``ttl`` old, one database read per expiry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kassagate.front.context import AccountCache


class CountingAccounts:
    def __init__(self, delay: float = 0.01, fail: bool = False) -> None:
        self.reads = 0
        self.delay = delay
        self.fail = fail
        self.version = 0
        self.prints = 0

    async def get_kassa(self, kassaid: str) -> Any:
        self.reads += 1
        version = self.version  # (the row as it was when the read began)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise OSError("database down")
        return (kassaid, version)

    async def fingerprint(self) -> str:
        self.prints += 1
        return str(self.version)


def cache(accounts: CountingAccounts, ttl: float) -> AccountCache:
    return AccountCache(accounts, requests=None, token_key=bytes(32), ttl=ttl)  # type: ignore[arg-type]


async def test_concurrent_misses_share_one_read() -> None:
    accounts = CountingAccounts()
    c = cache(accounts, ttl=1.0)
    got = await asyncio.gather(*(c.kassa("1") for _ in range(50)))
    assert got == [("1", 0)] * 50
    assert accounts.reads == 1
    assert await c.kassa("1") == ("1", 0)
    assert accounts.reads == 1  # still fresh


async def test_an_entry_expires_after_ttl() -> None:
    accounts = CountingAccounts(delay=0)
    c = cache(accounts, ttl=0.05)
    assert await c.kassa("1") == ("1", 0)
    accounts.version = 1
    await asyncio.sleep(0.08)
    assert await c.kassa("1") == ("1", 1)
    assert accounts.reads == 2


async def test_a_failed_read_fails_its_waiters_and_is_not_cached() -> None:
    accounts = CountingAccounts(fail=True)
    c = cache(accounts, ttl=1.0)
    results = await asyncio.gather(*(c.kassa("1") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert accounts.reads == 1
    accounts.fail = False
    assert await c.kassa("1") == ("1", 0)
    assert accounts.reads == 2


async def test_a_waiter_that_goes_away_does_not_cancel_the_read_for_others() -> None:
    accounts = CountingAccounts(delay=0.05)
    c = cache(accounts, ttl=1.0)
    first = asyncio.ensure_future(c.kassa("1"))
    second = asyncio.ensure_future(c.kassa("1"))
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == ("1", 0)
    assert accounts.reads == 1


async def test_kassas_stay_cached_while_the_accounts_do_not_change() -> None:
    """Many kassas, each asked less often than every ``ttl``: one read each, then only the
    fingerprint once per ``ttl``, until a change empties the cache."""
    accounts = CountingAccounts(delay=0)
    c = cache(accounts, ttl=0.02)
    for _ in range(3):
        for k in range(200):
            assert await c.kassa(str(k)) == (str(k), 0)
        await asyncio.sleep(0.03)
    assert accounts.reads == 200
    assert 2 <= accounts.prints <= 10
    accounts.version = 1
    await asyncio.sleep(0.03)
    assert await c.kassa("7") == ("7", 1)
    assert await c.kassa("8") == ("8", 1)
    assert accounts.reads == 202


async def test_a_read_begun_before_a_change_was_seen_is_not_kept() -> None:
    accounts = CountingAccounts(delay=0.05)
    c = cache(accounts, ttl=0.01)
    slow = asyncio.ensure_future(c.kassa("1"))  # reads version 0 ...
    await asyncio.sleep(0.02)
    accounts.version = 1
    accounts.delay = 0
    assert await c.kassa("2") == ("2", 1)  # ... while this one sees the change
    assert await slow == ("1", 0)
    assert await c.kassa("1") == ("1", 1)  # the old read was not kept
