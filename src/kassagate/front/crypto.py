"""The crypto worker pool: RSA and AES work off the event loop, on every core.

One worker process per core (``forkserver`` start method, so that no worker inherits the
server's threads or sockets), each holding the private keys, loaded once at its start. A
request costs one round trip that opens both layers
(:func:`kassagate.front.envelope.open_envelope`).

The event loop talks to each worker over a pair of pipes read and written by the loop
itself (asyncio pipe transports): no thread in the server process hands work over, so a
worker never waits for the server's GIL to get its next envelope. Each worker has at most
:data:`PIPELINE` envelopes in flight, the next ones already in its pipe while it decrypts
(enough to keep it busy while the event loop is held up a few milliseconds, by a commit
or a burst of answers); the rest wait in the pool's queue and go to whichever worker frees first.

A worker that dies (killed, out of memory) is replaced; the envelopes it held go to
another worker, once: an envelope that kills a second worker fails (the intake answers
code 80) instead of taking the whole pool down. When the keys rotate, :meth:`CryptoPool.reload`
starts workers with the new key ring and lets the old ones finish what they hold.

(Not ``concurrent.futures.ProcessPoolExecutor``: it hands work over through two threads of
the server process, which under load wait for the event loop's GIL, and a single worker's
death breaks it for good, failing every later request.)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from kassagate.front import envelope
from kassagate.front.keys import KeyRing

log = logging.getLogger("kassagate.front.crypto")

Generation = tuple[bytes, bytes, bytes, bytes]

#: Envelopes in flight per worker: the one it opens and the next three, waiting in its pipe
#: (about 5 ms of RSA-4096 on a fast core: a worker does not run dry while the event loop
#: is busy elsewhere, where two leave it idle now and then; bench/RESULTS.md).
PIPELINE = 4
#: How many workers an envelope may be given to before it fails (a worker died holding it).
MAX_TRIES = 2
#: A worker that dies within this many seconds of its start is replaced only after as long.
RESTART_BACKOFF = 1.0

_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame: a signed 32-bit length


class CryptoWorkerLost(RuntimeError):
    """The envelope was held by workers that died (``MAX_TRIES`` times)."""


class CryptoWorkerError(RuntimeError):
    """Opening the envelope raised in the worker (the message names the exception type)."""


# ----------------------------------------------------------------------------- the worker side


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


def _worker_main(requests: Connection, replies: Connection, generations: list[Generation], server_pid: int) -> None:
    """A worker: load the keys, say ready, then open envelopes until the pipe closes.

    It ignores SIGINT: Ctrl-C on a terminal reaches the whole process group, and the server
    stops its workers itself (closing their pipes) once it has finished its requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_server, args=(server_pid,), name="kassagate-watch-server", daemon=True).start()
    first = envelope.Layer.from_pems([g[0] for g in generations], [g[2] for g in generations])
    second = envelope.Layer.from_pems([g[1] for g in generations], [g[3] for g in generations])
    replies.send_bytes(pickle.dumps((0, "ready", None)))
    while True:
        try:
            task_id, aab, dde = pickle.loads(requests.recv_bytes())  # noqa: S301 - from the server that started us
        except (EOFError, OSError):
            return
        try:
            opened = envelope.open_envelope(first, second, aab, dde)
            layer2 = opened[2]
            if layer2 is not None:  # layer 1's ciphertext, opened here: no need to send it back
                layer2.pop("ab", None)
                layer2.pop("de", None)
            reply = (task_id, "ok", opened)
        except Exception as exc:  # never the envelope's content: the type only
            reply = (task_id, "error", type(exc).__name__)
        replies.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- the server side


@dataclass(eq=False)
class _Task:
    id: int
    aab: bytes
    dde: bytes
    future: asyncio.Future[envelope.Opened]
    tries: int = 0


class _Replies(asyncio.Protocol):
    """Reads a worker's reply frames off its pipe."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= 4:
            (size,) = _HEADER.unpack_from(buf)
            if len(buf) < 4 + size:
                break
            with memoryview(buf) as view:
                message = pickle.loads(view[4 : 4 + size])  # noqa: S301 - our own worker's reply
            del buf[: 4 + size]
            self.worker.reply(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost()


@dataclass(eq=False)
class _Worker:
    pool: CryptoPool
    process: Any
    started: float
    ready: asyncio.Future[None]
    inflight: dict[int, _Task] = field(default_factory=dict)
    writer: asyncio.WriteTransport | None = None
    reader: asyncio.BaseTransport | None = None
    retiring: bool = False
    dead: bool = False

    def send(self, task: _Task) -> None:
        assert self.writer is not None
        task.tries += 1
        self.inflight[task.id] = task
        payload = pickle.dumps((task.id, task.aab, task.dde), protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_HEADER.pack(len(payload)) + payload)

    def reply(self, message: tuple[int, str, Any]) -> None:
        task_id, kind, value = message
        if kind == "ready":
            if not self.ready.done():
                self.ready.set_result(None)
            return
        task = self.inflight.pop(task_id, None)
        if task is not None and not task.future.done():
            if kind == "ok":
                task.future.set_result(value)
            else:
                task.future.set_exception(CryptoWorkerError(f"opening the envelope failed in the worker: {value}"))
        self.pool.worker_free(self)

    def lost(self) -> None:
        if self.dead:
            return
        self.dead = True
        if not self.ready.done():
            self.ready.set_exception(CryptoWorkerLost("a crypto worker exited while starting"))
            self.ready.exception()  # retrieved: a start failure is reported by warm_up
        if self.writer is not None:
            self.writer.close()
        self.pool.worker_lost(self)

    def close_input(self) -> None:
        """No more envelopes: the worker exits once it has answered what it holds."""
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()


class CryptoPool:
    """Opens envelopes in worker processes holding the private keys."""

    def __init__(self, ring: KeyRing, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._ring = ring
        self._set_sizes(ring)
        self._ctx = multiprocessing.get_context("forkserver")
        self._current: list[_Worker] = []
        self._retiring: list[_Worker] = []
        self._queue: collections.deque[_Task] = collections.deque()
        self._next_id = 1
        self._closed = False
        self._restarts: set[asyncio.Task[None]] = set()  # replacing and reaping dead workers
        self._start_lock = asyncio.Lock()

    def _set_sizes(self, ring: KeyRing) -> None:
        accepted = ring.accepted()
        self.outer_sizes = frozenset(m.rsa_sizes()[1] for m in accepted)
        self.generation = ring.current.generation

    @property
    def backlog(self) -> int:
        """Envelopes waiting for a worker (not yet given to one)."""
        return len(self._queue)

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (current key ring)."""
        return [w.process.pid for w in self._current if not w.dead]

    # -- workers ------------------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        loop = asyncio.get_running_loop()
        req_r, req_w = self._ctx.Pipe(duplex=False)
        rep_r, rep_w = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_worker_main,
            args=(req_r, rep_w, _ring_args(self._ring), os.getpid()),
            name="kassagate-crypto",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        req_r.close()  # the worker's ends: the pipes end when the worker does
        rep_w.close()
        worker = _Worker(self, process, time.monotonic(), loop.create_future())
        write_file = os.fdopen(os.dup(req_w.fileno()), "wb", buffering=0)
        read_file = os.fdopen(os.dup(rep_r.fileno()), "rb", buffering=0)
        req_w.close()
        rep_r.close()
        worker.writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, write_file)
        worker.reader, _ = await loop.connect_read_pipe(lambda: _Replies(worker), read_file)
        return worker

    async def _start_workers(self, count: int) -> list[_Worker]:
        """``count`` new workers with the current key ring, once each has loaded the keys."""
        started: list[_Worker] = []
        try:
            for _ in range(count):
                started.append(await self._spawn())
            await asyncio.gather(*(w.ready for w in started))
        except BaseException:
            for w in started:
                w.close_input()
            raise
        return started

    async def warm_up(self) -> None:
        """Start every worker now (with the keys loaded) rather than on the first request."""
        async with self._start_lock:
            missing = self.workers - len(self._current)
            if missing > 0 and not self._closed:
                self._current.extend(await self._start_workers(missing))
        self._pump()

    def worker_free(self, worker: _Worker) -> None:
        if worker.retiring and not worker.inflight:
            worker.close_input()
        self._pump()

    def worker_lost(self, worker: _Worker) -> None:
        for task in worker.inflight.values():
            if task.future.done():
                continue
            if task.tries >= MAX_TRIES:
                task.future.set_exception(CryptoWorkerLost("the crypto workers holding this envelope died"))
            else:
                self._queue.appendleft(task)
        worker.inflight.clear()
        if not self._closed:  # close() joins the workers itself
            reap = asyncio.get_running_loop().create_task(asyncio.to_thread(worker.process.join, 5))
            self._restarts.add(reap)
            reap.add_done_callback(self._restarts.discard)
        if worker in self._retiring:
            self._retiring.remove(worker)
            self._pump()
            return
        if worker in self._current:
            self._current.remove(worker)
            if not self._closed:
                log.warning("crypto worker %s exited; starting another", worker.process.pid)
                task = asyncio.get_running_loop().create_task(self._replace(worker))
                self._restarts.add(task)
                task.add_done_callback(self._restarts.discard)
        self._pump()

    async def _replace(self, dead: _Worker) -> None:
        wait = RESTART_BACKOFF - (time.monotonic() - dead.started)
        if wait > 0:
            await asyncio.sleep(wait)
        while not self._closed:
            try:
                self._current.extend(await self._start_workers(1))
                self._pump()
                return
            except Exception:
                log.exception("starting a crypto worker failed; retrying")
                await asyncio.sleep(RESTART_BACKOFF)

    def _pump(self) -> None:
        """Hand queued envelopes to ready workers, the least busy first."""
        while self._queue:
            ready = [w for w in self._current if not w.dead and w.ready.done() and len(w.inflight) < PIPELINE]
            if not ready:
                return
            worker = min(ready, key=lambda w: len(w.inflight))
            task = self._queue.popleft()
            if task.future.done():  # the request was cancelled meanwhile
                continue
            worker.send(task)

    # -- the API ------------------------------------------------------------------------

    async def open(self, aab: bytes, dde: bytes) -> envelope.Opened:
        if self._closed:
            raise RuntimeError("the crypto pool is closed")
        if not self._current:
            await self.warm_up()
        task = _Task(self._next_id, aab, dde, asyncio.get_running_loop().create_future())
        self._next_id += 1
        self._queue.append(task)
        self._pump()
        return await task.future

    async def reload(self, ring: KeyRing) -> None:
        """Switch to a new key ring: new workers take the envelopes from the moment they
        have loaded the keys; envelopes already given to an old worker finish there."""
        previous = self._ring
        self._ring = ring
        try:
            fresh = await self._start_workers(self.workers)
        except BaseException:
            self._ring = previous
            raise
        old, self._current = self._current, fresh
        self._set_sizes(ring)
        for w in old:
            w.retiring = True
            self._retiring.append(w)
            if not w.inflight:
                w.close_input()
        self._pump()

    async def close(self) -> None:
        self._closed = True
        for task in list(self._restarts):
            task.cancel()
        workers = self._current + self._retiring
        for w in workers:
            w.close_input()
        for task in self._queue:
            if not task.future.done():
                task.future.set_exception(RuntimeError("the crypto pool is closed"))
        self._queue.clear()
        await asyncio.gather(*(asyncio.to_thread(w.process.join, 10) for w in workers))
        for w in workers:
            if w.process.is_alive():
                w.process.kill()
            if w.reader is not None:
                w.reader.close()
