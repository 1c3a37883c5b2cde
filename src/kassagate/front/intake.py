"""The intake checks of front.md §5, in the order of its table.

The decisions are pure functions (one per group of codes) that return an :class:`Answer`
when they decide the request, ``None`` (or the data the next step needs) when it goes on.
:class:`Intake` runs them in order around the I/O: the crypto pool (both layers in one
round trip), the account lookups and the durable store.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec

from kassagate.core.codes import FRONT_MESSAGES, FrontCode
from kassagate.core.qr import build_qr
from kassagate.core.receipt import Receipt, ReceiptError, parse_receipt
from kassagate.core.states import RequestStatus
from kassagate.core.tables import DEBUG_FD_NUMBER, DEBUG_FISCAL_SIGN, DEBUG_FN_SERIAL
from kassagate.front import envelope
from kassagate.front.backpressure import Gate, Refusal
from kassagate.logs import current_trace
from kassagate.processing.routing import Candidate, pick_at_intake
from kassagate.storage.errors import StorageError
from kassagate.storage.repos import Cluster, Kassa
from kassagate.storage.request_store import NewRequest, Stored

log = logging.getLogger("kassagate.front.intake")

Mode = Literal["kassa", "cluster"]

#: Merchants' local time: the settlement date of the VAT table and the QR's ``t``. 54-FZ
#: receipts of this service are dated in Moscow time (UTC+3, no daylight saving).
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")

KASSAID_RE = re.compile(r"[0-9]{1,20}")
RID_RE = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
VEND_FIELDS = ("check_vend_address", "check_vend_mesto", "check_vend_num_avtovat")
KNOWN_TYPES = ("standard", "vending")
#: Fake registration number and shift of a debug receipt (FN, FD and FP are core/tables.py's).
DEBUG_KKT_REG_NUMBER = "9999999999999999"
DEBUG_SHIFT_NUMBER = 0
DEBUG_NUMBER_IN_SHIFT = 0

_json_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Answer:
    """One intake answer: the code, a human text, and the extra fields of the body."""

    code: FrontCode
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    #: Seconds for the ``Retry-After`` header (code 70 from backpressure).
    retry_after: int | None = None

    @property
    def http_status(self) -> int:
        return self.code.http_status

    def body(self) -> dict[str, Any]:
        ok = self.code.is_success
        out: dict[str, Any] = {"status": "success" if ok else "error", "code": str(int(self.code))}
        out["success" if ok else "error"] = self.text
        out.update(self.fields)
        return out


def answer(code: FrontCode, detail: str = "", **fields: Any) -> Answer:
    base = FRONT_MESSAGES[code]
    return Answer(code, f"{base} {detail}".strip() if detail else base, fields)


#: The longest synchronous wait a client may ask for (layer 2 ``"wait"``, seconds).
MAX_SYNC_WAIT = 30.0


def wait_seconds(layer2: dict[str, Any]) -> float:
    """Layer 2's ``wait`` (kassagate extension): seconds to wait for the fiscal data before
    answering, at most ``MAX_SYNC_WAIT``; absent, malformed or not positive: 0 (no wait)."""
    raw = layer2.get("wait")
    if isinstance(raw, bool) or raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return 0.0
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, MAX_SYNC_WAIT)


def new_request_ids() -> tuple[str, str]:
    """``nuid`` and ``qnuid``: 23 decimal digits each (about 76 random bits each), from one
    read of the OS's CSPRNG (two 128-bit numbers reduced mod 10**23: a bias of 10**-15)."""
    raw = os.urandom(32)  # what secrets.token_bytes reads, without its two Python calls
    return (
        f"{int.from_bytes(raw[:16], 'big') % 10**23:023d}",
        f"{int.from_bytes(raw[16:], 'big') % 10**23:023d}",
    )


# --------------------------------------------------------------------------- outer body


def parse_outer(body: bytes, content_type: str) -> Any:
    """The outer body as a JSON value or a dict of form fields; None when it is neither.

    Lenient about content types: a JSON text is read as JSON whatever the header says, a
    form-encoded body (``aab=…&dde=…&test=0``) as its fields."""
    stripped = body.strip()
    if stripped[:1] in (b"{", b"[", b'"') or stripped[:1].isdigit() or stripped in (b"true", b"false", b"null"):
        try:
            return _json_decoder.decode(stripped)
        except (msgspec.DecodeError, RecursionError, ValueError):
            return None
    if not stripped:
        return None
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "=" not in text:
        return None
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except ValueError:
        return None
    if not pairs:
        return None
    return {k: v for k, v in pairs}


def is_test(value: Any) -> bool:
    return value == "1" or (type(value) is int and value == 1) or value is True


@dataclass(frozen=True, slots=True)
class Outer:
    aab: bytes
    dde: bytes
    test: bool


def check_outer(obj: Any, mode: Mode, outer_sizes: frozenset[int]) -> Answer | Outer:
    """100, 90 (kassa) / 150 (cluster)."""
    bad = FrontCode.ENVELOPE_INVALID if mode == "kassa" else FrontCode.CLUSTER_ENVELOPE_INVALID
    if not isinstance(obj, dict):
        return answer(bad, "The body must be a JSON object {\"aab\": ..., \"dde\": ..., \"test\": \"0\"}.")
    test = is_test(obj.get("test"))
    if test and "aab" not in obj and "dde" not in obj:
        return answer(FrontCode.TEST_CONNECT)
    raw: dict[str, bytes] = {}
    for name in ("aab", "dde"):
        value = obj.get(name)
        if value is None or value == "":
            return answer(bad, f"{name} is missing.")
        if not isinstance(value, str):
            return answer(bad, f"{name} must be a base64 string, got {_type_name(value)}.")
        data = envelope.b64decode_lenient(value)
        if data is None:
            return answer(bad, f"{name} is not base64.")
        raw[name] = data
    if len(raw["aab"]) not in outer_sizes:
        sizes = "/".join(str(s) for s in sorted(outer_sizes))
        return answer(bad, f"aab decodes to {len(raw['aab'])} bytes, expected {sizes} (the RSA modulus size).")
    if len(raw["dde"]) < envelope.MIN_DATA_LEN:
        return answer(bad, f"dde decodes to {len(raw['dde'])} bytes, at least {envelope.MIN_DATA_LEN} expected.")
    return Outer(raw["aab"], raw["dde"], test)


def check_opened(stage: str, detail: str, mode: Mode) -> Answer | None:
    """90/150, 120, 130, 110/260 from the outcome of :func:`envelope.open_envelope`."""
    if stage == envelope.OK:
        return None
    if stage in (envelope.OUTER_RSA, envelope.INNER_RSA):
        return answer(FrontCode.RSA_FAILED, detail + ".")
    if stage in (envelope.OUTER_HMAC, envelope.INNER_HMAC):
        return answer(FrontCode.HMAC_FAILED, detail + ".")
    if stage == envelope.OUTER_NOT_OBJECT:
        code = FrontCode.ENVELOPE_INVALID if mode == "kassa" else FrontCode.CLUSTER_ENVELOPE_INVALID
        return answer(code, detail + ".")
    code = FrontCode.LAYER2_INVALID if mode == "kassa" else FrontCode.CLUSTER_LAYER2_INVALID
    return answer(code, detail + ".")


# --------------------------------------------------------------------------- accounts


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", float: "a number", int: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _id_text(value: Any) -> str | None:
    """An id as text: strings as they are, integers (not booleans) in decimal."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    return None


def check_kassa_fields(layer2: dict[str, Any]) -> Answer | tuple[str, str]:
    """270, 280, 290."""
    raw_id = layer2.get("kassaid")
    if raw_id is None or raw_id == "":
        return answer(FrontCode.KASSAID_MISSING)
    kassaid = _id_text(raw_id)
    if kassaid is None or not KASSAID_RE.fullmatch(kassaid):
        return answer(FrontCode.KASSAID_MALFORMED)
    token = layer2.get("kassatoken")
    if token is None or token == "":
        return answer(FrontCode.TOKEN_MISSING)
    token_text = _id_text(token)
    if token_text is None:
        return answer(FrontCode.TOKEN_MISSING, f"kassatoken must be a string, got {_type_name(token)}.")
    return kassaid, token_text


def check_kassa_state(kassa: Kassa) -> Answer | None:
    """310, 40, 50 (after 300 and 320)."""
    if not kassa.activated:
        return answer(FrontCode.KASSA_NOT_ACTIVATED)
    if kassa.kkt is None:
        return answer(FrontCode.NO_KKT)
    if not kassa.kkt.registered:
        return answer(FrontCode.KKT_NOT_REGISTERED)
    return None


def check_cluster_fields(layer2: dict[str, Any]) -> Answer | tuple[str, str]:
    """160 for a missing or malformed id; the token is checked against the cluster (180).

    The cluster's id and token travel in ``clusterid``/``clustertoken`` or, as existing
    clients send them, in ``kassaid``/``kassatoken``."""
    id_key, token_key = ("clusterid", "clustertoken") if "clusterid" in layer2 else ("kassaid", "kassatoken")
    cid = _id_text(layer2.get(id_key))
    if cid is None or cid == "":
        return answer(FrontCode.CLUSTER_ID_INVALID, f"{id_key} (the cluster id) is missing.")
    if not KASSAID_RE.fullmatch(cid):
        return answer(FrontCode.CLUSTER_ID_INVALID, f"{id_key} (the cluster id) must be 1 to 20 digits.")
    token = _id_text(layer2.get(token_key))
    return cid, token or ""


def check_cluster_state(cluster: Cluster, members: Sequence[Kassa]) -> Answer | None:
    """170, 220, 190 (after 160 and 180)."""
    if not cluster.activated:
        return answer(FrontCode.CLUSTER_NOT_ACTIVATED)
    if cluster.type not in KNOWN_TYPES:
        return answer(FrontCode.CLUSTER_TYPE_UNKNOWN, f"Known types: {', '.join(KNOWN_TYPES)}.")
    if not members:
        return answer(FrontCode.CLUSTER_EMPTY)
    return None


# --------------------------------------------------------------------------- layer 1


def check_layer1(layer1: Any, detail: str, ident: str, token: str, mode: Mode) -> Answer | dict[str, Any]:
    """60 (not a JSON object), then 350 (the receipt names another kassa or token)."""
    if not isinstance(layer1, dict):
        why = detail or f"layer 1 is JSON {_type_name(layer1)}"
        return answer(FrontCode.RECEIPT_INVALID, f"(receipt): {why}; expected a JSON object (the receipt).")
    id_key, token_key = "kassaid", "kassatoken"
    if mode == "cluster" and "clusterid" in layer1:
        id_key, token_key = "clusterid", "clustertoken"
    rid = _id_text(layer1.get(id_key))
    if rid != ident:
        return answer(FrontCode.RECEIPT_ACCOUNT_MISMATCH, f"The receipt's {id_key} differs from layer 2's.")
    rtoken = _id_text(layer1.get(token_key))
    if rtoken is None or not hmac.compare_digest(rtoken.encode("utf-8", "replace"), token.encode("utf-8", "replace")):
        return answer(FrontCode.RECEIPT_ACCOUNT_MISMATCH, f"The receipt's {token_key} differs from layer 2's.")
    return layer1


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    return True


def check_vending_kassa(receipt: dict[str, Any], kassa_type: str) -> Answer | None:
    """4040."""
    if kassa_type != "vending":
        return None
    missing = [f for f in VEND_FIELDS if not _filled(receipt.get(f))]
    if missing:
        return answer(FrontCode.VENDING_FIELDS_MISSING, f"Missing or empty: {', '.join(missing)}.")
    return None


def check_vending_cluster(receipt: dict[str, Any], cluster_type: str) -> Answer | None:
    """230."""
    if cluster_type == "vending":
        missing = [f for f in VEND_FIELDS if not _filled(receipt.get(f))]
        if missing:
            return answer(
                FrontCode.CLUSTER_RECEIPT_TYPE_MISMATCH,
                f"The cluster is of type vending; missing or empty: {', '.join(missing)}.",
            )
        return None
    present = [f for f in VEND_FIELDS if _filled(receipt.get(f))]
    if present:
        return answer(
            FrontCode.CLUSTER_RECEIPT_TYPE_MISMATCH,
            f"The cluster is of type {cluster_type}; vending fields must be empty: {', '.join(present)}.",
        )
    return None


def check_receipt(obj: dict[str, Any], today: dt.date) -> Answer | Receipt:
    """60 for any receipt rule (``core/receipt``); the text names the path."""
    try:
        return parse_receipt(obj, today=today)
    except ReceiptError as exc:
        return answer(FrontCode.RECEIPT_INVALID, f"(receipt) {exc}")


def check_fn(kassa: Kassa) -> Answer | None:
    """330, 340 (kassa mode)."""
    state = kassa.kkt.fn_state if kassa.kkt is not None else "ok"
    if state == "broken":
        return answer(FrontCode.FN_BROKEN)
    if state in ("full", "blocked"):
        return answer(FrontCode.FN_EXHAUSTED)
    return None


def kassa_can_fiscalize(kassa: Kassa) -> bool:
    return kassa.activated and kassa.kkt is not None and kassa.kkt.registered and kassa.kkt.fn_state == "ok"


def pick_kassa(members: Sequence[Kassa], loads: dict[str, int], cluster_type: str) -> Kassa | None:
    """The kassa of a cluster that takes the request (``routing.pick_at_intake``: the
    cluster's routing policy, with the fewest pending requests as the load). None: code 200."""
    candidates = [
        Candidate(
            kassaid=k.kassaid, kassa_type=k.type, activated=k.activated, kkt_id=k.kkt_id,
            registered=k.kkt is not None and k.kkt.registered, fn_state=k.kkt.fn_state if k.kkt else "ok",
            load=loads.get(k.kassaid, 0),
        )
        for k in members
    ]
    route = pick_at_intake(candidates, cluster_type=cluster_type)
    return next((k for k in members if k.kassaid == route.kassaid), None)


def check_rid(layer2: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(rid, None)`` for a valid RID, ``(None, None)`` when none was sent, ``(None, why)``
    when one was sent but is not valid (code 810)."""
    value = layer2.get("rid")
    if value is None or value == "":
        return None, None
    text = _id_text(value)
    if text is None:
        return None, f"rid must be a string, got {_type_name(value)}"
    if len(text) > 64:
        return None, f"rid is {len(text)} characters long; at most 64 are allowed"
    if not RID_RE.fullmatch(text):
        return None, "rid may contain only A-Z a-z 0-9 _ - . : (1 to 64 characters)"
    return text, None


# --------------------------------------------------------------------------- the pipeline


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


def refused(refusal: Refusal) -> Answer:
    """Code 70 from backpressure: nothing was accepted; retry after ``retry_after`` s."""
    return Answer(FrontCode.STORE_FAILED, refusal.text, retry_after=refusal.retry_after)


def _trace_kassa(kassaid: str) -> None:
    trace = current_trace()
    if trace is not None:
        trace.kassaid = kassaid


def debug_fiscal_data(accepted_at: int, receipt: Receipt) -> dict[str, Any]:
    """The stored fields of a debug-mode request: its final status and fake fiscal data
    (front.md §6)."""
    when = dt.datetime.fromtimestamp(accepted_at / 1_000_000, MSK)
    qr = build_qr(
        when=when,
        total=receipt.total,
        fn_serial=DEBUG_FN_SERIAL,
        fd=DEBUG_FD_NUMBER,
        fp=int(DEBUG_FISCAL_SIGN),
        sign=int(receipt.itog_arr.priznak_rascheta),
    )
    return {
        "status": RequestStatus.DEBUG,
        "fiscal_dt": accepted_at,
        "fd_number": DEBUG_FD_NUMBER,
        "fiscal_sign": DEBUG_FISCAL_SIGN,
        "fn_serial": DEBUG_FN_SERIAL,
        "kkt_reg_number": DEBUG_KKT_REG_NUMBER,
        "shift_number": DEBUG_SHIFT_NUMBER,
        "number_in_shift": DEBUG_NUMBER_IN_SHIFT,
        "qr": qr,
        "finished_at": accepted_at,
    }


class Intake:
    """Runs the checks of front.md §5 for one request."""

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
        obj = check_layer1(layer1, detail, kassaid, token, "kassa")
        if isinstance(obj, Answer):
            return obj
        decided = check_vending_kassa(obj, kassa.type)
        if decided is not None:
            return decided
        now = self.clock()
        receipt = check_receipt(obj, dt.datetime.fromtimestamp(now, MSK).date())
        if isinstance(receipt, Answer):
            return receipt
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
        obj = check_layer1(layer1, detail, cluster_id, token, "cluster")
        if isinstance(obj, Answer):
            return obj
        decided = check_vending_cluster(obj, cluster.type)
        if decided is not None:
            return decided
        now = self.clock()
        receipt = check_receipt(obj, dt.datetime.fromtimestamp(now, MSK).date())
        if isinstance(receipt, Answer):
            return receipt
        candidates = [k for k in members if kassa_can_fiscalize(k)]
        loads = await self.accounts.pending_counts([k.kassaid for k in candidates]) if len(candidates) > 1 else {}
        kassa = pick_kassa(members, loads, cluster.type)
        if kassa is None:
            return answer(FrontCode.CLUSTER_ALL_FN_DOWN)
        if outer.test or is_test(layer2.get("test")):
            return answer(FrontCode.TEST_DECRYPT)
        return await self._accept(layer2, receipt, kassa, cluster, now)

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
