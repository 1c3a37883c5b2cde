"""The crypto worker processes hold the private keys: they must not outlive a server that
is killed without shutting its pool down (kill -9). A worker that dies is replaced, and
what it held is opened by another worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from support.front import PublishedKeys, envelope, seed_keys

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from kassagate.config import load_settings
    from kassagate.front.context import FrontContext

    async def main():
        ctx = await FrontContext.open(load_settings(data_dir=sys.argv[1]), crypto_workers=2)
        pids = ctx.crypto.pids
        print(" ".join(str(p) for p in pids), flush=True)
        await asyncio.sleep(600)

    if __name__ == "__main__":
        asyncio.run(main())
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_workers_exit_when_the_server_is_killed(tmp_path: Path) -> None:
    seed_keys(tmp_path)
    script = tmp_path / "server.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KASSAGATE_RSA_BITS="2048")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- a worker that dies


def _pool_and_keys(tmp_path: Path) -> tuple[Any, Any]:
    from kassagate.front.crypto import CryptoPool
    from kassagate.front.keys import load_keys

    seed_keys(tmp_path)
    ring = load_keys(tmp_path)
    return CryptoPool(ring, workers=2), PublishedKeys.from_json(ring.current.public_json())


def _sealed(keys: Any, n: int) -> tuple[bytes, bytes]:
    import base64

    body = envelope(keys, {"n": n}, kassaid="1", token="t")
    return base64.b64decode(body["aab"]), base64.b64decode(body["dde"])


async def _wait_for_workers(pool: Any, count: int, old: set[int]) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = pool.pids
        if len(pids) == count and not set(pids) & old and all(alive(p) for p in pids):
            return list(pids)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pool did not come back to {count} new workers: {pool.pids}")


async def test_a_killed_worker_is_replaced_and_its_envelopes_opened_elsewhere(tmp_path: Path) -> None:
    pool, keys = _pool_and_keys(tmp_path)
    await pool.warm_up()
    try:
        first, second = pool.pids
        os.kill(first, signal.SIGSTOP)  # holds what it is given until killed
        opening = [asyncio.ensure_future(pool.open(*_sealed(keys, n))) for n in range(6)]
        await asyncio.sleep(0.3)
        os.kill(first, signal.SIGKILL)
        results = await asyncio.wait_for(asyncio.gather(*opening), 20)
        assert [r[0] for r in results] == ["ok"] * 6
        assert sorted(r[3]["n"] for r in results) == list(range(6))
        pids = await _wait_for_workers(pool, 2, {first})  # replaced
        assert second in pids
        stage, _, _, layer1 = await pool.open(*_sealed(keys, 99))
        assert (stage, layer1) == ("ok", {"n": 99})
    finally:
        await pool.close()


async def test_backlog_counts_the_envelopes_no_worker_holds_yet(tmp_path: Path) -> None:
    # The store lingers for more requests only while there is a backlog (front/context.py).
    from kassagate.front.crypto import PIPELINE

    pool, keys = _pool_and_keys(tmp_path)
    await pool.warm_up()
    try:
        pids = pool.pids
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        opening = [asyncio.ensure_future(pool.open(*_sealed(keys, n))) for n in range(len(pids) * PIPELINE + 3)]
        await asyncio.sleep(0.1)
        assert pool.backlog == 3  # the rest are in the workers' pipes
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        results = await asyncio.wait_for(asyncio.gather(*opening), 20)
        assert [r[0] for r in results] == ["ok"] * len(opening)
        assert pool.backlog == 0
    finally:
        await pool.close()


async def test_an_envelope_whose_workers_all_die_fails_alone(tmp_path: Path) -> None:
    from kassagate.front.crypto import MAX_TRIES, CryptoWorkerLost

    assert MAX_TRIES == 2
    pool, keys = _pool_and_keys(tmp_path)
    await pool.warm_up()
    try:
        old = set(pool.pids)
        for pid in old:
            os.kill(pid, signal.SIGSTOP)
        doomed = asyncio.ensure_future(pool.open(*_sealed(keys, 1)))
        for _ in range(MAX_TRIES):  # kill whichever worker holds it, then the next holder
            await asyncio.sleep(0.3)
            (holder,) = [w.process.pid for w in pool._current if w.inflight]
            os.kill(holder, signal.SIGKILL)
        with pytest.raises(CryptoWorkerLost):
            await asyncio.wait_for(doomed, 20)
        await _wait_for_workers(pool, 2, old)
        stage, _, _, layer1 = await asyncio.wait_for(pool.open(*_sealed(keys, 2)), 20)
        assert (stage, layer1) == ("ok", {"n": 2})
    finally:
        await pool.close()


async def test_close_leaves_no_worker(tmp_path: Path) -> None:
    pool, keys = _pool_and_keys(tmp_path)
    await pool.warm_up()
    pids = pool.pids
    assert (await pool.open(*_sealed(keys, 5)))[0] == "ok"
    await pool.close()
    assert not any(alive(p) for p in pids)
    with pytest.raises(RuntimeError):
        await pool.open(*_sealed(keys, 6))
