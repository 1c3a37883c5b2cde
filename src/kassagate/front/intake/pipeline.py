"""The intake's pipeline: :class:`Intake` runs the checks in order around the I/O (the
crypto pool, both layers in one round trip; the account lookups; the durable store) and
hands each accepted request over to processing."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kassagate.core.codes import FrontCode
from kassagate.core.debug import debug_fiscal_data
from kassagate.core.receipt import Receipt
from kassagate.front import envelope
from kassagate.front.backpressure import Gate
from kassagate.front.intake.accounts import (
    check_cluster_fields,
    check_cluster_state,
    check_fn,
    check_kassa_fields,
    check_kassa_state,
    kassa_can_fiscalize,
    pick_kassa,
)
from kassagate.front.intake.answer import Answer, Mode, answer, refused
from kassagate.front.intake.outer import Outer, check_opened, check_outer, is_test, parse_outer
from kassagate.front.intake.receipt import (
    MSK,
    check_layer1,
    check_receipt,
    check_rid,
    check_vending_cluster,
    check_vending_kassa,
)
from kassagate.front.intake.wait import wait_seconds
from kassagate.logs import current_trace
from kassagate.storage.errors import StorageError
from kassagate.storage.repos import Cluster, Kassa
from kassagate.storage.request_store import NewRequest, Stored

log = logging.getLogger("kassagate.front.intake")


def new_request_ids() -> tuple[str, str]:
    """``nuid`` and ``qnuid``: 23 decimal digits each (about 76 random bits each), from one
    read of the OS's CSPRNG (two 128-bit numbers reduced mod 10**23: a bias of 10**-15)."""
    raw = os.urandom(32)  # what secrets.token_bytes reads, without its two Python calls
    return (
        f"{int.from_bytes(raw[:16], 'big') % 10**23:023d}",
        f"{int.from_bytes(raw[16:], 'big') % 10**23:023d}",
    )


class AccountSource(Protocol):
    async def kassa(self, kassaid: str) -> Kassa | None: ...
    async def cluster(self, cluster_id: str) -> Cluster | None: ...
    async def cluster_members(self, cluster_id: str) -> list[Kassa]: ...
    async def pending_counts(self, kassaids: list[str]) -> dict[str, int]: ...
    async def verify_token(self, token: str, account: Kassa | Cluster | None) -> bool: ...


class CryptoSource(Protocol):
    outer_sizes: frozenset[int]

    async def open(self, aab: bytes, dde: bytes) -> envelope.Opened: ...


class RequestStore(Protocol):
    async def insert(self, request: NewRequest) -> Stored: ...


class Handover(Protocol):
    """Processing in this process, told about each accepted request.

    ``lease()`` before the store: ``(owner, lease_until_us)`` to store the request already
    claimed by this process's worker (as its claim would: under a lease, one attempt
    counted), or None to leave it to the queue. ``accepted(request_id, request)`` after
    the store: the request as stored; one stored under the lease is the worker's to
    process now, any other is claimed from the queue."""

    def lease(self) -> tuple[str, int] | None: ...
    def accepted(self, request_id: int, request: NewRequest) -> None: ...


def _trace_kassa(kassaid: str) -> None:
    trace = current_trace()
    if trace is not None:
        trace.kassaid = kassaid


class Intake:
    """Runs the checks for one request in the order of the code table (docs/front.md)."""

    def __init__(
        self,
        crypto: CryptoSource,
        accounts: AccountSource,
        store: RequestStore,
        *,
        handover: Handover | None = None,
        wait_for: Callable[[int, float], Awaitable[dict[str, Any] | None]] | None = None,
        clock: Callable[[], float] = time.time,
        gate: Gate | None = None,
    ) -> None:
        self.gate = gate
        self.crypto = crypto
        self.accounts = accounts
        self.store = store
        self.handover = handover
        self.wait_for = wait_for
        self.clock = clock

    async def handle(self, mode: Mode, body: bytes, content_type: str = "application/json") -> Answer:
        """The answer to one request; never raises (80 with a correlation id instead)."""
        try:
            return await self._handle(mode, body, content_type)
        except (StorageError, OSError, TimeoutError) as exc:
            cid = uuid.uuid4().hex[:16]
            log.error("storage failure (correlation id %s): %s", cid, type(exc).__name__, exc_info=exc)
            return answer(FrontCode.STORE_FAILED, f"Correlation id: {cid}.")
        except Exception as exc:
            cid = uuid.uuid4().hex[:16]
            log.error("unexpected failure (correlation id %s): %s", cid, type(exc).__name__, exc_info=exc)
            return answer(FrontCode.UNEXPECTED, f"Correlation id: {cid}.")

    async def _handle(self, mode: Mode, body: bytes, content_type: str) -> Answer:
        outer_obj = parse_outer(body, content_type)
        outer = check_outer(outer_obj, mode, self.crypto.outer_sizes)
        if isinstance(outer, Answer):
            return outer
        stage, detail, layer2, layer1 = await self.crypto.open(outer.aab, outer.dde)
        decided = check_opened(stage, detail, mode)
        if decided is not None:
            return decided
        assert layer2 is not None
        if mode == "kassa":
            return await self._kassa(outer, layer2, layer1, detail)
        return await self._cluster(outer, layer2, layer1, detail)

    async def _kassa(self, outer: Outer, layer2: dict[str, Any], layer1: Any, detail: str) -> Answer:
        fields = check_kassa_fields(layer2)
        if isinstance(fields, Answer):
            return fields
        kassaid, token = fields
        _trace_kassa(kassaid)
        kassa = await self.accounts.kassa(kassaid)
        # Checked against a dummy when there is no such kassa: both answers cost the same.
        token_ok = await self.accounts.verify_token(token, kassa)
        if kassa is None:
            return answer(FrontCode.KASSA_UNKNOWN)
        if not token_ok:
            return answer(FrontCode.TOKEN_WRONG)
        if self.gate is not None and (refusal := self.gate.rate(kassaid, f"kassa {kassaid}")):
            return refused(refusal)
        decided = check_kassa_state(kassa)
        if decided is not None:
            return decided
        checked = self._receipt(layer1, detail, kassaid, token, "kassa", kassa.type)
        if isinstance(checked, Answer):
            return checked
        receipt, now = checked
        decided = check_fn(kassa)
        if decided is not None:
            return decided
        if outer.test or is_test(layer2.get("test")):
            return answer(FrontCode.TEST_DECRYPT)
        return await self._accept(layer2, receipt, kassa, None, now)

    async def _cluster(self, outer: Outer, layer2: dict[str, Any], layer1: Any, detail: str) -> Answer:
        fields = check_cluster_fields(layer2)
        if isinstance(fields, Answer):
            return fields
        cluster_id, token = fields
        _trace_kassa(cluster_id)
        cluster = await self.accounts.cluster(cluster_id)
        token_ok = await self.accounts.verify_token(token, cluster) and bool(token)
        if cluster is None:
            return answer(FrontCode.CLUSTER_ID_INVALID, "No such cluster.")
        if not token_ok:
            return answer(FrontCode.CLUSTER_TOKEN_WRONG)
        if self.gate is not None and (refusal := self.gate.rate(f"cluster:{cluster_id}", f"cluster {cluster_id}")):
            return refused(refusal)
        members = await self.accounts.cluster_members(cluster_id)
        decided = check_cluster_state(cluster, members)
        if decided is not None:
            return decided
        checked = self._receipt(layer1, detail, cluster_id, token, "cluster", cluster.type)
        if isinstance(checked, Answer):
            return checked
        receipt, now = checked
        candidates = [k for k in members if kassa_can_fiscalize(k)]
        loads = await self.accounts.pending_counts([k.kassaid for k in candidates]) if len(candidates) > 1 else {}
        kassa = pick_kassa(members, loads, cluster.type)
        if kassa is None:
            return answer(FrontCode.CLUSTER_ALL_FN_DOWN)
        if outer.test or is_test(layer2.get("test")):
            return answer(FrontCode.TEST_DECRYPT)
        return await self._accept(layer2, receipt, kassa, cluster, now)

    def _receipt(
        self, layer1: Any, detail: str, ident: str, token: str, mode: Mode, account_type: str
    ) -> tuple[Receipt, float] | Answer:
        """Layer 1 opened and checked against the account, the vending fields of its type,
        then the receipt's rules on today's date: the receipt and the time it was read, or
        the answer that refuses it."""
        obj = check_layer1(layer1, detail, ident, token, mode)
        if isinstance(obj, Answer):
            return obj
        check_vending = check_vending_kassa if mode == "kassa" else check_vending_cluster
        decided = check_vending(obj, account_type)
        if decided is not None:
            return decided
        now = self.clock()
        receipt = check_receipt(obj, dt.datetime.fromtimestamp(now, MSK).date())
        if isinstance(receipt, Answer):
            return receipt
        return receipt, now

    async def _accept(
        self, layer2: dict[str, Any], receipt: Receipt, kassa: Kassa, cluster: Cluster | None, now: float
    ) -> Answer:
        if self.gate is not None and not kassa.debug and (refusal := self.gate.behind()):
            return refused(refusal)
        rid, rid_error = check_rid(layer2)
        accepted_at = int(now * 1_000_000)
        nuid, qnuid = new_request_ids()
        receipt_json, receipt_hash = receipt.stored_form()
        scope = f"kassa:{kassa.kassaid}" if cluster is None else f"cluster:{cluster.cluster_id}"
        fields: dict[str, Any] = {"next_attempt_at": accepted_at}
        if kassa.debug:
            fields = debug_fiscal_data(accepted_at, receipt)
            code = FrontCode.ACCEPTED_DEBUG
        elif rid is not None:
            fields.update(rid=rid, rid_scope=scope)
            code = FrontCode.ACCEPTED
        elif rid_error is not None:
            code = FrontCode.ACCEPTED_RID_INVALID
        else:
            code = FrontCode.ACCEPTED_NO_RID
        handover = self.handover
        if handover is not None and not kassa.debug:
            lease = handover.lease()
            if lease is not None:
                fields.update(lease_owner=lease[0], lease_until=lease[1], attempts=1)
        request = NewRequest(
            nuid=nuid,
            qnuid=qnuid,
            mode="kassa" if cluster is None else "cluster",
            kassaid=kassa.kassaid,
            cluster_id=None if cluster is None else cluster.cluster_id,
            receipt=receipt_json,
            receipt_hash=receipt_hash,
            check_type=int(receipt.itog_arr.priznak_rascheta),
            debug=kassa.debug,
            accepted_at=accepted_at,
            kkt_id=kassa.kkt_id,
            order_label=receipt.name_zakaz or None,
            **fields,
        )
        stored = await self.store.insert(request)
        if stored.id is None:
            first = stored.duplicate_of or {}
            return answer(
                FrontCode.RID_DUPLICATE,
                nuid=first.get("nuid"),
                qnuid=first.get("qnuid"),
                same_request=first.get("receipt_hash") == receipt_hash,
            )
        log.debug(
            "accepted request %s (code %d, mode %s, kassa %s)", stored.id, int(code), request.mode, kassa.kassaid
        )
        trace = current_trace()
        if trace is not None:
            trace.stored_id = stored.id
        if handover is not None and not kassa.debug:
            try:
                handover.accepted(stored.id, request)
            except Exception:
                log.exception("handing request %s over failed (the request stays accepted)", stored.id)
        extra: dict[str, Any] = {"nuid": nuid, "qnuid": qnuid}
        if code == FrontCode.ACCEPTED_RID_INVALID:
            extra["rid_error"] = rid_error
        if code == FrontCode.ACCEPTED:
            extra["rid"] = rid
        seconds = wait_seconds(layer2)
        if seconds and self.wait_for is not None:
            # The synchronous option: the fiscal data in the answer when they come in time.
            try:
                fiscal = await self.wait_for(stored.id, seconds)
            except Exception:
                log.exception("waiting for request %s failed (the request stays accepted)", stored.id)
                fiscal = None
            if fiscal:
                extra.update({k: v for k, v in fiscal.items() if k not in ("status", "rid")})
        return answer(code, **extra)
