"""kill -9 while hundreds of receipts are sent: every receipt that got 800 or 409 is
fiscalized exactly once, and the register's fiscal journal has no gap.

The system runs as real processes (``kassagate serve``, ``kassagate worker``). Client tasks
send receipts, each under its own RID; after a connection error or a timeout a client sends
the SAME receipt with the SAME RID again until it gets 800 or 409 (409 carries the first
request's nuid/qnuid). Meanwhile processes are killed with SIGKILL and restarted.

Afterwards, with the system running and nothing pending any more:

* every request that got 800 or 409 has status 1 (``GET /v1/status``);
* the register's journal (``kassagate kkt journal``) holds exactly one receipt per request
  (``docNumber`` = the request's nuid) and no other receipt;
* the journal's FD numbers run 1, 2, 3, ... without a gap or a duplicate;
* each status's ``check_num_fd``, ``check_num_fp``, ``check_fn_num`` and ``check_qr_code``
  match the journal entry of its document.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from kassagate.client import AsyncKassaClient, ProtocolError, TransportError
from support.proc_tree import descendants
from support.receipts import product, receipt
from support.system import Process, kassagate_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

KASSAID = "770001"
TOKEN = "kill9-token-0001"
LEASE_SECONDS = "3"
#: Codes after which the merchant sends the same request again: 70 says nothing was stored.
RETRY_CODES = {70}
ACCEPTED = {800, 409}


@dataclass
class Sent:
    rid: str
    amount: int
    code: int
    nuid: str
    qnuid: str
    tries: int


@dataclass
class Load:
    """What the client tasks saw."""

    sent: dict[str, Sent] = field(default_factory=dict)
    transport_errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    retried_codes: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.sent)


async def send_until_accepted(
    client: AsyncKassaClient, rid: str, amount: int, load: Load, deadline: float, *, first_timeout: float
) -> None:
    """Send until 800 or 409. The HTTP timeout starts at ``first_timeout`` and doubles after
    each timeout (up to 5 s): short ones make answers get lost after the request was stored."""
    body = receipt(KASSAID, TOKEN, products=[product(f"Item {rid}", price=amount, qty=1)])
    tries = 0
    client.timeout = first_timeout
    while time.monotonic() < deadline:
        tries += 1
        try:
            answer = await client.send(body, rid=rid)
        except TransportError as exc:
            load.transport_errors += 1
            load.error_kinds[str(exc)] += 1
            if "timed out" in str(exc):
                client.timeout = min(client.timeout * 2, 5.0)
            await asyncio.sleep(0.05)
            continue
        except ProtocolError as exc:  # an HTTP 5xx or a body that is not the protocol's
            load.unexpected.append(f"{rid}: {exc}")
            await asyncio.sleep(0.05)
            continue
        if answer.code in ACCEPTED and answer.nuid and answer.qnuid:
            load.sent[rid] = Sent(rid, amount, answer.code, answer.nuid, answer.qnuid, tries)
            return
        if answer.code in RETRY_CODES:
            load.retried_codes[answer.code] += 1
            await asyncio.sleep(0.05)
            continue
        load.unexpected.append(f"{rid}: code {answer.code} (HTTP {answer.http_status}): {answer.message}")
        await asyncio.sleep(0.05)
    load.unexpected.append(f"{rid}: never accepted before the deadline ({tries} tries)")


async def run_load(
    base_url: str, count: int, clients: int, load: Load, *, deadline_s: float = 60.0, prefix: str = "k9"
) -> None:
    """``clients`` tasks share ``count`` receipts, each sent until 800 or 409."""
    todo = list(range(count))
    deadline = time.monotonic() + deadline_s

    async def one_client(first_timeout: float) -> None:
        async with AsyncKassaClient(base_url, KASSAID, TOKEN, timeout=first_timeout) as client:
            while todo:
                i = todo.pop(0)
                await send_until_accepted(client, f"{prefix}-{i}", 100 + i, load, deadline,
                                          first_timeout=first_timeout)

    # Half the clients give up on an answer after 0.3 s (then retry), half wait up to 5 s.
    await asyncio.gather(*(one_client(0.3 if n % 2 else 5.0) for n in range(clients)))


async def when_done(load: Load, threshold: int, *, stop: Callable[[], bool] = lambda: False) -> None:
    while load.done < threshold and not stop():  # noqa: ASYNC110 - a counter shared by the client tasks
        await asyncio.sleep(0.005)


async def statuses(base_url: str, sent: list[Sent], *, budget: float = 45.0) -> dict[str, dict[str, Any]]:
    """The status of every request, once none is pending any more (bounded)."""
    out: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + budget
    sem = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as http:

        async def get(s: Sent) -> None:
            async with sem:
                r = await http.get("/v1/status", params={"nuid": s.nuid, "qnuid": s.qnuid})
            assert r.status_code == 200, (s.rid, r.status_code, r.text[:300])
            out[s.nuid] = r.json()

        while True:
            waiting = [s for s in sent if out.get(s.nuid, {}).get("check_status", 0) == 0]
            if not waiting:
                return out
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(waiting)} requests still pending after {budget}s, e.g. "
                    + ", ".join(f"{s.rid} ({out.get(s.nuid, {}).get('error_text')})" for s in waiting[:5])
                )
            await asyncio.gather(*(get(s) for s in waiting))
            await asyncio.sleep(0.25)


def diagnose(procs: list[Process]) -> None:
    """On failure: whether each process runs, its stacks (py-spy, where installed) and its log."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    for p in procs:
        alive = p.proc is not None and p.proc.poll() is None
        print(f"--- {p.args}: {'running' if alive else 'not running'}")
        if alive and p.ready_url:
            t0 = time.monotonic()
            try:
                r = httpx.get(p.ready_url, timeout=5.0)
                print(f"GET {p.ready_url}: HTTP {r.status_code} in {time.monotonic() - t0:.2f} s")
            except httpx.HTTPError as exc:
                print(f"GET {p.ready_url}: {exc!r} after {time.monotonic() - t0:.2f} s")
        if alive and spy and p.proc is not None:
            subprocess.run([spy, "dump", "--pid", str(p.proc.pid)], timeout=30, check=False)
        print(p.log())


def journal(data_dir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = run_cli("kkt", "journal", KASSAID, data_dir=data_dir, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def expected_qr(entry: dict[str, Any], fn_serial: str) -> str:
    """The QR string of a receipt (tag 1196: t, s, fn, i, fp, n), from the journal entry alone."""
    when = dt.datetime.fromisoformat(entry["time"])  # the register's local time, with its UTC offset
    return (
        f"t={when:%Y%m%dT%H%M}&s={entry['amount'] // 100}.{entry['amount'] % 100:02d}&fn={fn_serial}"
        f"&i={entry['fd']}&fp={entry['fiscalSign']}&n={entry['settlementSign']}"
    )


def assert_exactly_once(load: Load, status: dict[str, dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    assert not load.unexpected, load.unexpected[:20]
    sent = list(load.sent.values())
    nuids = {s.nuid for s in sent}
    assert len(nuids) == len(sent), "two RIDs were given the same nuid"

    # every accepted request fiscalized
    not_fiscalized = [(s.rid, status[s.nuid]["check_status"], status[s.nuid]["error_text"]) for s in sent
                      if status[s.nuid]["check_status"] != 1]
    assert not not_fiscalized, not_fiscalized[:20]

    # exactly one fiscal document per request, and none that belongs to no request
    receipts = [e for e in entries if e.get("docNumber")]
    per_doc = Counter(e["docNumber"] for e in receipts)
    twice = {d: n for d, n in per_doc.items() if n > 1}
    assert not twice, f"fiscalized more than once: {twice}"
    assert set(per_doc) - nuids == set(), f"documents of no accepted request: {sorted(set(per_doc) - nuids)[:10]}"
    assert nuids - set(per_doc) == set(), f"accepted requests without a document: {sorted(nuids - set(per_doc))[:10]}"

    # the FD numbers: 1, 2, 3, ... no gap, no duplicate
    fds = [e["fd"] for e in entries]
    dup = {fd: n for fd, n in Counter(fds).items() if n > 1}
    assert not dup, f"FD numbers used twice: {dup}"
    assert sorted(fds) == list(range(1, len(fds) + 1)), (
        f"gap in the FD numbers: missing {sorted(set(range(1, max(fds) + 1)) - set(fds))[:20]}"
    )

    # each status matches its journal entry
    by_doc = {e["docNumber"]: e for e in receipts}
    for s in sent:
        st, entry = status[s.nuid], by_doc[s.nuid]
        assert entry["amount"] == s.amount and st["check_itog"] == s.amount, (s.rid, entry, st["check_itog"])
        assert st["check_num_fd"] == entry["fd"], (s.rid, st["check_num_fd"], entry)
        assert st["check_num_fp"] == entry["fiscalSign"], (s.rid, st["check_num_fp"], entry)
        assert st["check_qr_code"] == expected_qr(entry, st["check_fn_num"]), (s.rid, st["check_qr_code"], entry)
        assert st["rid"] == s.rid


def kill9_all(proc: Process) -> None:
    """SIGKILL the process and every process it started (its crypto pool), as an init system
    killing the service's process group does. (The pool's processes do not notice their
    parent's death by themselves: left alone, they would keep running.)"""
    assert proc.proc is not None
    children = descendants(proc.proc.pid)
    proc.kill9()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def setup_kassa(data_dir: Path, env: dict[str, str]) -> None:
    run_cli("kassa", "add", KASSAID, "--token", TOKEN, "--kkt", "virtual", data_dir=data_dir, env=env)


async def restart(proc: Process) -> None:
    await asyncio.to_thread(proc.start, 60.0)


async def test_serve_killed_and_restarted_under_load(tmp_path: Path, data_dir: Path, port: int) -> None:
    """SQLite, ``kassagate serve`` (front, workers and the virtual register in one process),
    killed with SIGKILL four times at random moments of the load."""
    env = kassagate_env(data_dir, KASSAGATE_LEASE_SECONDS=LEASE_SECONDS, KASSAGATE_LOG_LEVEL="INFO")
    setup_kassa(data_dir, env)
    base_url = f"http://127.0.0.1:{port}"
    server = Process(["serve", "--port", str(port)], env=env, ready_url=base_url + "/v1/keys",
                     log_path=tmp_path / "serve.log")
    await asyncio.to_thread(server.start, 60.0)
    count, kills = 400, 4
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    load = Load()
    # Kill points: random moments spread over the load (by receipts accepted so far).
    points = sorted(rng.sample(range(count // 20, count * 9 // 10), kills))
    killed_at: list[int] = []
    load_task = asyncio.create_task(run_load(base_url, count, 8, load))
    watch = asyncio.create_task(watch_stall(load, [server], None, stall=25.0))
    try:
        for point in points:
            await when_done(load, point, stop=load_task.done)
            await asyncio.sleep(rng.uniform(0, 0.05))
            killed_at.append(load.done)
            await asyncio.to_thread(kill9_all, server)
            await asyncio.sleep(rng.uniform(0, 0.3))
            await restart(server)
        await asyncio.wait_for(load_task, 90)
        assert len(load.sent) == count, (len(load.sent), load.unexpected[:10])
        status = await statuses(base_url, list(load.sent.values()))
        entries = journal(data_dir, env)
        assert_exactly_once(load, status, entries)
        assert len(killed_at) == kills
    except BaseException:
        print(f"seed {seed}; killed at {killed_at} accepted; transport errors {dict(load.error_kinds)}")
        diagnose([server])
        raise
    finally:
        load_task.cancel()
        watch.cancel()
        server.stop()
    with sqlite3.connect(data_dir / "kassagate.sqlite3") as db:
        reclaimed = db.execute("SELECT count(*) FROM requests WHERE attempts > 1").fetchone()[0]
    print(f"seed {seed}; killed at {killed_at} of {count} accepted; transport errors {load.transport_errors}; "
          f"retried codes {dict(load.retried_codes)}; answers {Counter(s.code for s in load.sent.values())}; "
          f"requests claimed more than once {reclaimed}")


async def watch_stall(load: Load, procs: list[Process], pg: asyncpg.Connection | None, stall: float = 15.0) -> None:
    """Diagnostics at the moment the load stops making progress (not only at the end)."""
    last, since = -1, time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        if load.done != last:
            last, since = load.done, time.monotonic()
            continue
        if time.monotonic() - since > stall:
            print(f"!!! no progress for {stall}s at {load.done} accepted; errors {dict(load.error_kinds)}")
            if pg is not None:
                for row in await pg.fetch(
                    "SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS xact, left(query, 100) AS q"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                ):
                    print(dict(row))
            await asyncio.to_thread(diagnose, procs)
            return


async def leases_of(pg: asyncpg.Connection, pid: int) -> int:
    return int(await pg.fetchval(
        "SELECT count(*) FROM requests WHERE status = 0 AND lease_owner LIKE $1 AND lease_until > $2",
        f"{pid}-%", time.time_ns() // 1000,
    ))


async def until(cond: Callable[[], Awaitable[bool]], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await cond():
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.postgres
async def test_postgres_worker_killed_under_load(tmp_path: Path, data_dir: Path, port: int, pg_url: str) -> None:
    """PostgreSQL: a front (``serve --no-workers``) and two ``kassagate worker`` processes on
    one database and one data dir; one worker is killed with SIGKILL while it holds claims,
    restarted, and killed again (and left dead). Its claims come back after the lease."""
    env = kassagate_env(
        data_dir, KASSAGATE_DATABASE_URL=pg_url, KASSAGATE_LEASE_SECONDS=LEASE_SECONDS, KASSAGATE_LOG_LEVEL="INFO"
    )
    setup_kassa(data_dir, env)
    base_url = f"http://127.0.0.1:{port}"
    front = Process(["serve", "--no-workers", "--port", str(port)], env=env, ready_url=base_url + "/v1/keys",
                    log_path=tmp_path / "front.log")
    workers = [Process(["worker"], env=env, ready_url=None, log_path=tmp_path / f"worker-{i}.log") for i in (1, 2)]
    await asyncio.to_thread(front.start, 60.0)
    for w in workers:
        w.start()
    victim = workers[0]
    count = 400
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    load = Load()
    kills: list[tuple[int, int]] = []  # (accepted so far, leases the victim held)
    pg = await asyncpg.connect(pg_url)
    load_task = asyncio.create_task(run_load(base_url, count, 8, load))
    watch = asyncio.create_task(watch_stall(load, [front, *workers], pg))
    try:
        for point in sorted(rng.sample(range(count // 10, count * 3 // 4), 2)):
            await when_done(load, point, stop=load_task.done)
            assert victim.proc is not None
            pid = victim.proc.pid

            async def victim_holds_claims(pid: int = pid) -> bool:
                return await leases_of(pg, pid) > 0

            # Kill it while it holds claims (it is working on requests), if it gets any soon.
            await until(victim_holds_claims, 10.0)
            kills.append((load.done, await leases_of(pg, pid)))
            await asyncio.to_thread(kill9_all, victim)
            if len(kills) == 1:
                await asyncio.sleep(rng.uniform(0.2, 1.0))
                victim.start()
        await asyncio.wait_for(load_task, 90)
        assert len(load.sent) == count, (len(load.sent), load.unexpected[:10])
        status = await statuses(base_url, list(load.sent.values()))
        entries = journal(data_dir, env)
        assert_exactly_once(load, status, entries)
        # The kills hit work in flight: the victim held claims when it died.
        assert any(held > 0 for _, held in kills), f"the victim never held a claim when killed: {kills}"
        reclaimed = await pg.fetchval("SELECT count(*) FROM requests WHERE attempts > 1")
    except BaseException:
        print(f"seed {seed}; kills (accepted, leases held) {kills}; transport errors {dict(load.error_kinds)}")
        diagnose([front, *workers])
        raise
    finally:
        load_task.cancel()
        watch.cancel()
        await pg.close()
        for p in (*workers, front):
            p.stop()
    print(f"seed {seed}; kills (accepted, leases held) {kills}; requests claimed more than once {reclaimed}")
