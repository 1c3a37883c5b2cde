"""Group commit: items submitted while a commit runs are committed together by the next
one, so many writers share one transaction (and one fsync)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``submit(item)`` waits until ``commit`` has written its batch and returns the
    item's result; ``commit(items)`` returns one result per item, in order, or raises
    (then every item of that batch gets the exception). ``linger()``, when given, is asked
    before each batch how long to wait for more items to join it (0: commit at once)."""

    def __init__(
        self,
        commit: Callable[[list[T]], Awaitable[list[R]]],
        *,
        max_batch: int = 256,
        name: str,
        linger: Callable[[], float] | None = None,
    ) -> None:
        self._commit = commit
        self._linger = linger
        self._max_batch = max_batch
        self._name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: T) -> R:
        if self._closed:
            raise RuntimeError(f"{self._name} closed")
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        # Not shielded: a submitter that goes away (its client disconnected) cancels only
        # its own future; its item stays in the batch and is committed all the same, and
        # the commit skips the result of a future already done.
        return await fut

    async def _run(self) -> None:
        while self._queue:
            if self._linger is not None and len(self._queue) < self._max_batch:
                wait = self._linger()
                if wait > 0:
                    await asyncio.sleep(wait)  # let more items join this batch
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                results = await self._commit([item for item, _ in batch])
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), res in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(res)

    async def close(self) -> None:
        """Refuse new items; wait for the batches already submitted."""
        self._closed = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
