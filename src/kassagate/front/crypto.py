"""The crypto worker pool: RSA and AES work off the event loop, on every core.

A :class:`concurrent.futures.ProcessPoolExecutor` (``forkserver`` start method, so that no
worker inherits the server's threads or sockets) with one process per core. Each worker
loads the private keys once, in its initializer; a request costs one round trip that opens
both layers (:func:`kassagate.front.envelope.open_envelope`).

When the keys rotate, :meth:`CryptoPool.reload` starts a new pool with the new key ring and
lets the old one finish what it has in flight.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor

from kassagate.front import envelope
from kassagate.front.keys import KeyRing

_first: envelope.Layer | None = None
_second: envelope.Layer | None = None

Generation = tuple[bytes, bytes, bytes, bytes]


def _ring_args(ring: KeyRing) -> list[Generation]:
    return [(m.rsa_first_pem, m.rsa_second_pem, m.hmac_first, m.hmac_second) for m in ring.accepted()]


def _watch_server(pid: int) -> None:
    """Exit when the server process is gone (killed without shutting the pool down): a
    worker must not outlive it holding the private keys."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    os._exit(0)
        except (OSError, IndexError):
            continue


def _init_worker(generations: list[Generation], server_pid: int) -> None:
    global _first, _second
    _first = envelope.Layer.from_pems([g[0] for g in generations], [g[2] for g in generations])
    _second = envelope.Layer.from_pems([g[1] for g in generations], [g[3] for g in generations])
    threading.Thread(target=_watch_server, args=(server_pid,), name="kassagate-watch-server", daemon=True).start()


def _open(aab: bytes, dde: bytes) -> envelope.Opened:
    assert _first is not None and _second is not None, "crypto worker not initialised"
    return envelope.open_envelope(_first, _second, aab, dde)


def _ready() -> bool:
    return _first is not None


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CryptoPool:
    """Opens envelopes in worker processes holding the private keys."""

    def __init__(self, ring: KeyRing, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._ring = ring
        self._pool = self._start(ring)
        self._set_sizes(ring)

    def _set_sizes(self, ring: KeyRing) -> None:
        accepted = ring.accepted()
        self.outer_sizes = frozenset(m.rsa_sizes()[1] for m in accepted)
        self.generation = ring.current.generation

    def _start(self, ring: KeyRing) -> Executor:
        ctx = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_init_worker, initargs=(_ring_args(ring), os.getpid())
        )

    async def warm_up(self) -> None:
        """Start every worker now rather than on the first requests."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, _ready) for _ in range(self.workers * 2)))

    async def open(self, aab: bytes, dde: bytes) -> envelope.Opened:
        return await asyncio.get_running_loop().run_in_executor(self._pool, _open, aab, dde)

    async def reload(self, ring: KeyRing) -> None:
        """Switch to a new key ring; requests already submitted finish on the old pool."""
        old = self._pool
        self._pool = self._start(ring)
        self._ring = ring
        self._set_sizes(ring)
        await self.warm_up()
        await asyncio.to_thread(old.shutdown, True)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
