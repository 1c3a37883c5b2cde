"""The front server's shared state: database, repositories, keys, crypto pool, caches.

``FrontContext.open(settings)`` prepares everything (keys generated on first start,
migrations applied, crypto workers started); ``await ctx.close()`` releases it. The ``serve``
command composes the front app with processing on one context.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from kassagate.config import Settings
from kassagate.front import keys as keyfiles
from kassagate.front.backpressure import Gate, KassaBuckets, QueueWatch
from kassagate.front.crypto import CryptoPool
from kassagate.front.intake import Handover, Intake
from kassagate.storage.db import Database, open_database
from kassagate.storage.metrics import queue_stats
from kassagate.storage.repos import Accounts, Cluster, Kassa
from kassagate.storage.request_store import Requests, RequestWriter
from kassagate.storage.tokens import TokenVerifier

log = logging.getLogger("kassagate.front")

T = TypeVar("T")

#: Longest time a change made from the command line takes to reach a running server.
ACCOUNT_TTL = 1.0
KEY_CHECK_INTERVAL = 1.0
#: While envelopes wait for a crypto worker (the server is saturated: answers wait on RSA
#: anyway), each durable store of accepted requests waits this long for more to join it.
#: Fewer, larger transactions mean fewer wake-ups of the event loop and the SQLite thread,
#: each of which takes a crypto worker off its core, and larger batches downstream (the
#: worker, the register's journal, the ends): measured, 25 ms cut the server's own CPU per
#: request by a fifth against 8 ms; 50 ms gained nothing more (docs/processing.md).
STORE_LINGER_SECONDS = 0.025


#: Kassas an ``AccountCache`` holds at most (then it starts over).
KASSAS_KEPT = 100_000


class AccountCache:
    """Account reads for the intake, none older than ``ttl`` seconds (0: no cache).

    Kassas stay cached while the accounts do not change: once per ``ttl`` one query reads
    a fingerprint of every kassa and register row (``Accounts.fingerprint``), and a new
    one empties the cache of kassas. So the cost of a request does not depend on how many
    kassas send (with each kassa's entry expiring on its own, a kassa that sends less
    often than every ``ttl`` would cost a read each time). Clusters and their members are
    cached for ``ttl`` each. Requests that miss the same entry together share one read."""

    def __init__(self, accounts: Accounts, requests: Requests, token_key: bytes, ttl: float = ACCOUNT_TTL) -> None:
        self._accounts = accounts
        self._requests = requests
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._tokens = TokenVerifier(token_key)
        self._kassas: dict[str, Kassa | None] = {}
        self._generation = 0  # counts the emptyings of ``_kassas`` (a read older than one is not kept)
        self._print: str | None = None
        self._print_at = float("-inf")  # (monotonic) when the fingerprint was last read
        self._checking: asyncio.Future[None] | None = None

    async def _check_changes(self) -> None:
        """Empty the kassas when the accounts' fingerprint changed (read at most once per
        ``ttl``; the requests meanwhile wait for that one read)."""
        if time.monotonic() - self._print_at < self._ttl:
            return
        if self._checking is None:
            self._checking = asyncio.ensure_future(self._read_fingerprint())
            self._checking.add_done_callback(lambda _: setattr(self, "_checking", None))
        await asyncio.shield(self._checking)

    async def _read_fingerprint(self) -> None:
        started = time.monotonic()
        fingerprint = await self._accounts.fingerprint()
        if fingerprint != self._print:
            self._forget_kassas()
            self._print = fingerprint
        self._print_at = started

    def _forget_kassas(self) -> None:
        self._kassas.clear()
        self._generation += 1

    async def _cached(self, key: tuple[str, str], load: Callable[[], Awaitable[T]]) -> T:
        if self._ttl <= 0:
            return await load()
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]  # type: ignore[no-any-return]
        task = self._loading.get(key)
        if task is None:
            # The read runs as a task of its own: a waiter that goes away (its client
            # disconnected) does not cancel it for the others.
            task = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = task
            task.add_done_callback(lambda t: self._loading.pop(key, None))
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    async def _load(self, key: tuple[str, str], load: Callable[[], Awaitable[T]]) -> T:
        started = time.monotonic()  # the entry's age counts from before the read
        value = await load()
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = (started, value)
        return value

    async def kassa(self, kassaid: str) -> Kassa | None:
        if self._ttl <= 0:
            return await self._accounts.get_kassa(kassaid)
        await self._check_changes()
        try:
            return self._kassas[kassaid]
        except KeyError:
            pass
        generation = self._generation
        key = ("kassa", kassaid)
        task = self._loading.get(key)
        if task is None:  # (a task of its own, as in ``_cached``)
            task = asyncio.ensure_future(self._accounts.get_kassa(kassaid))
            self._loading[key] = task
            task.add_done_callback(lambda t: self._loading.pop(key, None))
        kassa: Kassa | None = await asyncio.shield(task)
        if generation == self._generation:  # (not read before a change was seen)
            if len(self._kassas) >= KASSAS_KEPT:
                self._kassas.clear()
            self._kassas[kassaid] = kassa
        return kassa

    async def cluster(self, cluster_id: str) -> Cluster | None:
        return await self._cached(("cluster", cluster_id), lambda: self._accounts.get_cluster(cluster_id))

    async def cluster_members(self, cluster_id: str) -> list[Kassa]:
        return await self._cached(("members", cluster_id), lambda: self._accounts.cluster_members(cluster_id))

    async def pending_counts(self, kassaids: list[str]) -> dict[str, int]:
        return await self._requests.pending_counts(kassaids)

    async def verify_token(self, token: str, account: Kassa | Cluster | None) -> bool:
        """Whether ``token`` is the account's; for no account (None) the same work is done
        and the answer is False. A good token against a row in the PBKDF2 form rewrites it
        in the HMAC form (``storage/tokens.py``)."""
        if account is None:
            return (await self._tokens.verify(token, None, None)).ok
        verdict = await self._tokens.verify(token, account.token_salt, account.token_hash)
        if verdict.rehashed is not None:
            kind: Literal["kassa", "cluster"] = "kassa" if isinstance(account, Kassa) else "cluster"
            ident = account.kassaid if isinstance(account, Kassa) else account.cluster_id
            salt, token_hash = verdict.rehashed
            try:
                await self._accounts.replace_token_hash(kind, ident, account.token_hash, salt, token_hash)
            except Exception as exc:  # the token was good: a failed upgrade is retried next time
                log.warning("token hash of %s %s not upgraded: %s", kind, ident, type(exc).__name__)
            self._cache.pop((kind, ident), None)
            if kind == "kassa":
                self._kassas.pop(ident, None)
            if kind == "kassa" and account.cluster_id is not None:
                self._cache.pop(("members", account.cluster_id), None)
        return verdict.ok


def backpressure_gate(settings: Settings, db: Database) -> Gate | None:
    """The intake's backpressure (``front/backpressure.py``), None when every limit is off."""
    watch = QueueWatch(
        lambda: queue_stats(db), max_depth=settings.max_queue_depth, max_lag=settings.max_pending_age_seconds
    )
    buckets = KassaBuckets(settings.kassa_rate, settings.kassa_burst)
    gate = Gate(watch, buckets)
    return gate if gate.queue is not None or gate.buckets is not None else None


@dataclass
class FrontContext:
    settings: Settings
    db: Database
    accounts: Accounts
    requests: Requests
    writer: RequestWriter
    keyring: keyfiles.KeyRing
    crypto: CryptoPool
    account_cache: AccountCache
    gate: Gate | None = None
    _keys_checked: float = 0.0
    _keys_json: bytes = b""
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    async def open(
        cls, settings: Settings, *, crypto_workers: int | None = None, account_ttl: float = ACCOUNT_TTL
    ) -> FrontContext:
        data_dir = Path(settings.data_dir)
        ring = await asyncio.to_thread(keyfiles.load_or_create_keys, data_dir, settings.rsa_bits)
        db = await open_database(settings.effective_database_url)
        crypto: CryptoPool | None = None
        try:
            crypto = CryptoPool(ring, crypto_workers)
            await crypto.warm_up()
        except BaseException:
            await db.close()
            if crypto is not None:
                await crypto.close()
            raise
        token_key = await asyncio.to_thread(keyfiles.load_or_create_token_key, data_dir)
        accounts = Accounts(db, token_key)
        requests = Requests(db)
        ctx = cls(
            settings=settings,
            db=db,
            accounts=accounts,
            requests=requests,
            writer=RequestWriter(db, linger=lambda: STORE_LINGER_SECONDS if crypto.backlog else 0.0),
            keyring=ring,
            crypto=crypto,
            account_cache=AccountCache(accounts, requests, token_key, account_ttl),
            gate=backpressure_gate(settings, db),
        )
        ctx._keys_checked = time.monotonic()
        log.info(
            "front context ready: database %s, %d crypto workers, key generation %s",
            db.engine.dialect.name,
            crypto.workers,
            ring.current.generation,
        )
        return ctx

    def intake(
        self,
        handover: Handover | None = None,
        wait_for: Callable[[int, float], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> Intake:
        return Intake(
            self.crypto, self.account_cache, self.writer, handover=handover, wait_for=wait_for, gate=self.gate
        )

    def keys_json(self) -> dict[str, str]:
        return self.keyring.current.public_json()

    async def refresh_keys(self) -> None:
        """Pick up a rotation (or the end of a grace period) at most once a second."""
        now = time.monotonic()
        if now - self._keys_checked < KEY_CHECK_INTERVAL:
            return
        self._keys_checked = now
        gen = keyfiles.current_generation(Path(self.settings.data_dir))
        ring = self.keyring
        grace_over = ring.previous_until is not None and time.time() >= ring.previous_until
        if (gen is None or gen == ring.current.generation) and not grace_over:
            return
        async with self._reload_lock:
            if keyfiles.current_generation(Path(self.settings.data_dir)) == self.crypto.generation and not grace_over:
                return
            new_ring = await asyncio.to_thread(keyfiles.load_keys, Path(self.settings.data_dir))
            await self.crypto.reload(new_ring)
            self.keyring = new_ring
            log.info("keys reloaded: current generation %s", new_ring.current.generation)

    async def close(self) -> None:
        if self.gate is not None and self.gate.queue is not None:
            await self.gate.queue.close()
        await self.writer.close()
        await self.crypto.close()
        await self.db.close()
