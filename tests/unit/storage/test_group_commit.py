import asyncio
import gc

import pytest

from kassagate.storage.group import GroupCommit


async def test_items_arriving_during_a_commit_share_the_next_one() -> None:
    batches: list[list[int]] = []

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)  # a slow fsync
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit, name="test")
    results = await asyncio.gather(*(group.submit(i) for i in range(50)))
    assert results == [i * 10 for i in range(50)]
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert len(batches) < 50  # shared transactions, not one each


async def test_a_failed_commit_fails_its_whole_batch_and_the_next_batch_still_commits() -> None:
    calls = 0

    async def commit(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return items

    group: GroupCommit[str, str] = GroupCommit(commit, max_batch=2, name="test")
    first = [asyncio.ensure_future(group.submit(x)) for x in ("a", "b", "c")]
    done = await asyncio.gather(*first, return_exceptions=True)
    assert [type(d) for d in done[:2]] == [OSError, OSError]
    assert done[2] == "c"
    await group.close()
    with pytest.raises(RuntimeError, match="closed"):
        await group.submit("d")


async def test_a_linger_lets_items_arriving_meanwhile_join_the_batch() -> None:
    batches: list[list[int]] = []

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    waits = [0.05]
    group: GroupCommit[int, int] = GroupCommit(commit, name="test", linger=lambda: waits[0])
    first = asyncio.ensure_future(group.submit(0))
    await asyncio.sleep(0.01)  # inside the linger
    rest = [asyncio.ensure_future(group.submit(i)) for i in (1, 2)]
    assert await asyncio.gather(first, *rest) == [0, 1, 2]
    assert batches == [[0, 1, 2]]

    waits[0] = 0.0  # nothing to wait for (no backlog): each commits at once
    await group.submit(3)
    await asyncio.sleep(0.01)
    await group.submit(4)
    assert batches[1:] == [[3], [4]]


async def test_a_submitter_that_goes_away_leaves_its_item_committed_and_the_batch_whole() -> None:
    batches: list[list[int]] = []
    fail = [False]

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)
        if fail[0]:
            raise OSError("disk full")
        return items

    group: GroupCommit[int, int] = GroupCommit(commit, name="test", linger=lambda: 0.02)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        for failing in (False, True):
            fail[0] = failing
            submitters = [asyncio.ensure_future(group.submit(i)) for i in range(3)]
            await asyncio.sleep(0.005)  # inside the linger: all three queued
            submitters[1].cancel()  # its client disconnected
            done = await asyncio.gather(*submitters, return_exceptions=True)
            assert isinstance(done[1], asyncio.CancelledError)
            if failing:
                assert [type(d) for d in (done[0], done[2])] == [OSError, OSError]
            else:
                assert (done[0], done[2]) == (0, 2)
            assert batches[-1] == [0, 1, 2]  # the cancelled item was committed with the rest
        gc.collect()
        await asyncio.sleep(0)
        assert unhandled == []  # no "exception was never retrieved" from a future nobody awaits
    finally:
        loop.set_exception_handler(None)
