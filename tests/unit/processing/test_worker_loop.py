"""The worker's loop on in-memory fakes (``tests/support/fakes.py``): exactly-once and
failover decided with no database and no register process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from kassagate.core.codes import CashboxCode, FrontCode
from kassagate.core.states import RequestStatus
from kassagate.processing.worker import ProcessingConfig, Worker
from support.fakes import FakeAccounts, FakeQueue, FakeRegister, FakeRegisters
from support.receipts import receipt

FAST = ProcessingConfig(poll_seconds=0.005, coalesce_seconds=0, retry_base_seconds=0.001, retry_max_seconds=0.002,
                        retry_budget=3)


def worker_on(queue: FakeQueue, accounts: FakeAccounts, registers: FakeRegisters,
              config: ProcessingConfig = FAST) -> Worker:
    return Worker(queue, accounts, registers, registers.ask, config)


async def run_until(worker: Worker, done: Callable[[], bool], *, seconds: float = 3.0) -> None:
    """Run the worker's loop until ``done()`` holds (or ``seconds`` pass), then stop it."""
    assert isinstance(worker.queue, FakeQueue)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await worker.queue.until(done, seconds=seconds)
    stop.set()
    await task


def body(kassaid: str) -> str:
    return json.dumps(receipt(kassaid, f"token-{kassaid}"))


async def test_a_kassa_receipt_is_fiscalized_once() -> None:
    register = FakeRegister(1)
    accounts = FakeAccounts()
    accounts.add_kassa("1001", register, callback_url="https://shop.example/cb")
    queue = FakeQueue(accounts)
    registers = FakeRegisters(register)
    request_id = queue.add("1001", body("1001"))
    stored = queue.requests[request_id]

    await run_until(worker_on(queue, accounts, registers), lambda: stored.status != RequestStatus.PENDING)

    assert stored.status == RequestStatus.FISCALIZED
    assert list(register.documents) == [stored.nuid]
    assert register.calls.count("sale") == 1
    fiscal = register.documents[stored.nuid]
    assert stored.values["fd_number"] == fiscal["extraParams"]["fdNumber"]
    assert stored.values["fiscal_sign"] == fiscal["fiscalID"]
    assert stored.values["fn_serial"] == register.fn_serial
    assert (stored.attempts, stored.kkt_id) == (1, 1)
    assert queue.outbox == [request_id]  # the kassa has a callback URL


async def test_a_cluster_fails_over_when_the_first_register_refuses_the_connection() -> None:
    down, up = FakeRegister(1, refuse_connections=True), FakeRegister(2)
    accounts = FakeAccounts()
    accounts.add_cluster("81")
    accounts.add_kassa("2001", down, cluster_id="81")  # lowest kassaid: picked first
    accounts.add_kassa("2002", up, cluster_id="81")
    queue = FakeQueue(accounts)
    request_id = queue.add("2001", body("81"), cluster_id="81")
    stored = queue.requests[request_id]

    await run_until(worker_on(queue, accounts, FakeRegisters(down, up)), lambda: stored.status != RequestStatus.PENDING)

    assert stored.status == RequestStatus.FISCALIZED
    assert (stored.kkt_id, stored.kassaid, stored.attempts) == (2, "2002", 1)
    assert down.documents == {} and list(up.documents) == [stored.nuid]
    assert [(e.kind, e.kkt_id) for e in stored.events] == [("failover", 2)]


async def test_a_lost_answer_is_found_at_the_register_and_finished_with_its_document() -> None:
    register = FakeRegister(1, lose_answers=True)
    accounts = FakeAccounts()
    accounts.add_kassa("1001", register)
    queue = FakeQueue(accounts)
    request_id = queue.add("1001", body("1001"))
    stored = queue.requests[request_id]

    await run_until(worker_on(queue, accounts, FakeRegisters(register)), lambda: stored.status != RequestStatus.PENDING)

    assert stored.status == RequestStatus.FISCALIZED
    assert register.calls.count("sale") == 1  # never sent again: asked instead
    assert register.calls.count("last_document") == 1
    assert stored.values["fd_number"] == register.documents[stored.nuid]["extraParams"]["fdNumber"]


async def test_an_unanswered_lookup_waits_for_that_register_and_never_tries_another() -> None:
    first, second = FakeRegister(1, lose_answers=True, lookups_fail=True), FakeRegister(2)
    accounts = FakeAccounts()
    accounts.add_cluster("81")
    accounts.add_kassa("2001", first, cluster_id="81")
    accounts.add_kassa("2002", second, cluster_id="81")
    queue = FakeQueue(accounts)
    request_id = queue.add("2001", body("81"), cluster_id="81")
    stored = queue.requests[request_id]
    worker = worker_on(queue, accounts, FakeRegisters(first, second))
    budget = FAST.retry_budget

    # Well past the retry budget: still waiting, in doubt at the first register.
    await run_until(worker, lambda: stored.attempts > budget + 2)

    assert stored.status == RequestStatus.PENDING
    assert (stored.kkt_id, stored.kkt_ruled_out) == (1, False)
    assert second.calls == [] and second.documents == {}
    assert first.calls.count("sale") == 1  # asked on every attempt, never sent again
    assert first.calls.count("last_document") >= budget + 2
    assert {e.kind for e in stored.events} == {"waiting"}

    # The register answers again: the request ends with the document it holds.
    first.lookups_fail = False
    await run_until(worker, lambda: stored.status != RequestStatus.PENDING)

    assert stored.status == RequestStatus.FISCALIZED
    assert (stored.kkt_id, stored.kassaid) == (1, "2001")
    assert first.calls.count("sale") == 1 and second.calls == []


async def test_a_refused_document_fails_the_request_with_60() -> None:
    register = FakeRegister(1, refuse_with=(CashboxCode.TAX_UNACCEPTABLE, "tax not acceptable"))
    accounts = FakeAccounts()
    accounts.add_kassa("1001", register)
    queue = FakeQueue(accounts)
    registers = FakeRegisters(register)
    request_id = queue.add("1001", body("1001"))
    stored = queue.requests[request_id]

    await run_until(worker_on(queue, accounts, registers), lambda: stored.status != RequestStatus.PENDING)

    assert (stored.status, stored.values["error_code"]) == (RequestStatus.FAILED, FrontCode.RECEIPT_INVALID)
    assert "Cashbox code 12" in stored.values["error_text"]
