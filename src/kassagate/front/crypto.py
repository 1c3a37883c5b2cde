"""The crypto pool: RSA and AES work off the event loop, on every core.

A :class:`concurrent.futures.ThreadPoolExecutor` with one thread per core. ``cryptography``
(47 and newer) releases the GIL for the whole RSA private-key operation, which is nearly all
of a request's crypto cost (two RSA-OAEP decryptions of 1–5 ms each at 4096 bits), so the
threads run it on every core at once while the event loop goes on. Measured on a 2-core
machine: one thread 212 decryptions/s, two threads 429/s. Threads rather than worker
processes: no pickling, no feeder and result threads, no second copy of the keys, and the
private keys stay in the one process that loaded them. (A process pool cost about a third
of the main process's CPU per request in ``bench/front.py``.)

A request costs one call that opens both layers (:func:`kassagate.front.envelope.open_envelope`).
When the keys rotate, :meth:`CryptoPool.reload` swaps the key ring: calls already running
finish with the ring they started with.
"""

from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from kassagate.front import envelope
from kassagate.front.keys import KeyRing


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Layers:
    """Both layers' private keys of one key ring, loaded once."""

    def __init__(self, ring: KeyRing) -> None:
        accepted = ring.accepted()
        self.first = envelope.Layer.from_pems([m.rsa_first_pem for m in accepted], [m.hmac_first for m in accepted])
        self.second = envelope.Layer.from_pems([m.rsa_second_pem for m in accepted], [m.hmac_second for m in accepted])
        self.outer_sizes = frozenset(m.rsa_sizes()[1] for m in accepted)
        self.generation = ring.current.generation

    def open(self, aab: bytes, dde: bytes) -> envelope.Opened:
        return envelope.open_envelope(self.first, self.second, aab, dde)


#: The interpreter's switch interval in a process with a crypto pool. A thread back from
#: its RSA work needs the GIL for a few microseconds of Python; with the default 5 ms it
#: can wait that long behind a busy event loop while its core idles (measured with a busy
#: main thread and two decrypting threads: 158 decryptions/s at 5 ms, 223/s at 1 ms, 229/s
#: at 0.2 ms).
SWITCH_INTERVAL = 0.0005


class CryptoPool:
    """Opens envelopes on a pool of threads, one per core."""

    def __init__(self, ring: KeyRing, workers: int | None = None) -> None:
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self.workers = workers or default_workers()
        self._layers = _Layers(ring)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kassagate-crypto")

    @property
    def outer_sizes(self) -> frozenset[int]:
        return self._layers.outer_sizes

    @property
    def generation(self) -> str:
        return self._layers.generation

    async def warm_up(self) -> None:
        """Start every thread now rather than on the first requests."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, int) for _ in range(self.workers * 2)))

    async def open(self, aab: bytes, dde: bytes) -> envelope.Opened:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._layers.open, aab, dde)

    async def reload(self, ring: KeyRing) -> None:
        """Switch to a new key ring; envelopes already being opened finish with the old one."""
        self._layers = await asyncio.to_thread(_Layers, ring)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
