"""What the two merchant clients share: their settings, the local receipt check, the
envelope, the paths and headers of the front protocol. The clients are in
:mod:`kassagate.client.http`."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from kassagate.client.answers import (
    Answer,
    ProtocolError,
    ReceiptInvalid,
    Status,
    TransportError,
    WaitTimeout,
    parse_answer,
    parse_status_answer,
)
from kassagate.client.envelope import DEFAULT_CHECK_TYPE, KeysError, PublicKeys, encode_json, seal
from kassagate.core.codes import FrontCode
from kassagate.core.receipt import Receipt, ReceiptError, parse_receipt

#: Pooled connections are dropped after 2 s idle, before a server's own keep-alive timeout
#: (uvicorn's is 5 s) closes them: a request sent on a connection the server is closing at
#: that moment fails unanswered.
LIMITS = httpx.Limits(keepalive_expiry=2.0)

KASSA_PATH = "/v1/fiscalize"
CLUSTER_PATH = "/v1/fiscalize/cluster"
STATUS_PATH = "/v1/status"
KEYS_PATH = "/v1/keys"
USER_AGENT = "kassagate-client/0.1"
#: Codes after which fresh keys are fetched and the request sent once more (nothing was
#: stored: the keys were probably rotated since they were fetched).
KEY_FAILURE_CODES = frozenset({FrontCode.RSA_FAILED, FrontCode.HMAC_FAILED})
_MSK = dt.timezone(dt.timedelta(hours=3), "MSK")
T = TypeVar("T")


def moscow_today() -> dt.date:
    """Today's date in Moscow time (UTC+3, no daylight saving), the default settlement date
    of the local receipt check."""
    return dt.datetime.now(_MSK).date()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP exchange of the front protocol, built once for both clients (as httpx
    builds a request in its base client): what to send and how to read the answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def what(self) -> str:
        """How a transport error names the exchange (``GET /v1/status``)."""
        return f"{self.method} {self.path}"


class Polling:
    """The schedule of ``wait_fiscalized``: a poll, then a pause growing by half up to
    ``max_interval``, until ``timeout`` seconds have passed."""

    def __init__(self, timeout: float, interval: float, max_interval: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.interval = interval
        self.max_interval = max_interval
        #: The last status read (kept when a later poll fails to reach the server).
        self.last: Status | None = None

    def pause(self) -> float:
        """Seconds to sleep before the next poll; :class:`WaitTimeout` (with the last
        status) once the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"request still pending after {self.timeout:g} s", self.last)
        pause = min(self.interval, remaining)
        self.interval = min(self.interval * 1.5, self.max_interval)
        return pause


class BaseClient:
    """What both clients share: configuration, the receipt check and the envelope."""

    def __init__(
        self,
        base_url: str,
        kassaid: str,
        kassatoken: str,
        *,
        cluster: bool = False,
        keys: PublicKeys | None = None,
        timeout: float = 30.0,
        check: bool = True,
        today: Callable[[], dt.date] = moscow_today,
        fiscalize_path: str | None = None,
        refresh_keys: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.kassaid = str(kassaid)
        self._kassatoken = kassatoken
        self.cluster = cluster
        self.keys = keys
        self.timeout = timeout
        self.check = check
        self._today = today
        self.fiscalize_path = fiscalize_path or (CLUSTER_PATH if cluster else KASSA_PATH)
        self.refresh_keys = refresh_keys

    def __repr__(self) -> str:
        mode = "cluster" if self.cluster else "kassa"
        return f"{type(self).__name__}({self.base_url!r}, {mode} {self.kassaid!r})"

    def _url(self, path: str) -> str:
        return self.base_url + path

    def prepare_receipt(self, receipt: Receipt | Mapping[str, Any]) -> dict[str, Any]:
        """The receipt's wire form with this client's ``kassaid``/``kassatoken`` filled in,
        checked with :func:`parse_receipt` (unless ``check=False``); raises
        :class:`ReceiptInvalid` without sending anything."""
        if isinstance(receipt, Receipt):
            wire = receipt.to_wire()
        elif isinstance(receipt, Mapping):
            wire = dict(receipt)
        else:
            raise TypeError(f"expected a Receipt or a mapping, got {type(receipt).__name__}")
        if not wire.get("kassaid"):
            wire["kassaid"] = self.kassaid
        elif str(wire["kassaid"]) != self.kassaid:
            raise ReceiptInvalid(
                ReceiptError("kassaid", f"the receipt names {wire['kassaid']!r}, this client sends as {self.kassaid!r}")
            )
        if not wire.get("kassatoken"):
            wire["kassatoken"] = self._kassatoken
        elif wire["kassatoken"] != self._kassatoken:
            raise ReceiptInvalid(ReceiptError("kassatoken", "the receipt carries another token than this client's"))
        if not self.check:
            return wire
        try:
            return parse_receipt(wire, today=self._today()).to_wire()
        except ReceiptError as exc:
            raise ReceiptInvalid(exc) from None

    def build_body(
        self,
        receipt: Receipt | Mapping[str, Any],
        keys: PublicKeys,
        *,
        rid: str | None = None,
        test: bool = False,
        wait: float | None = None,
        check_type: str | None = DEFAULT_CHECK_TYPE,
    ) -> dict[str, str]:
        """The encrypted wire body for ``receipt`` (see :func:`kassagate.client.envelope.seal`)."""
        return self._seal(self.prepare_receipt(receipt), keys, rid=rid, test=test, wait=wait, check_type=check_type)

    def _seal(
        self,
        prepared: dict[str, Any],
        keys: PublicKeys,
        *,
        rid: str | None,
        test: bool,
        wait: float | None,
        check_type: str | None,
    ) -> dict[str, str]:
        return seal(
            prepared,
            keys,
            kassaid=self.kassaid,
            kassatoken=self._kassatoken,
            test=test,
            rid=rid,
            check_type=check_type,
            wait=wait,
        )

    def _send_timeout(self, wait: float | None) -> float:
        return self.timeout if wait is None else max(self.timeout, wait + 10.0)

    def _sender(
        self,
        prepared: dict[str, Any],
        *,
        rid: str | None,
        test: bool,
        wait: float | None,
        check_type: str | None,
    ) -> Callable[[PublicKeys], Call[Answer]]:
        """The POST of ``prepared`` sealed with the keys it is given (``send`` seals it
        again with fresh keys after an answer 120 or 130)."""
        seal_with = functools.partial(self._seal, prepared, rid=rid, test=test, wait=wait, check_type=check_type)
        return lambda keys: self._fiscalize_call(seal_with(keys), self._send_timeout(wait))

    def _retry_with_fresh_keys(self, answer: Answer) -> bool:
        return answer.code in KEY_FAILURE_CODES and self.refresh_keys

    def _fiscalize_call(self, body: Mapping[str, Any] | bytes, http_timeout: float | None) -> Call[Answer]:
        content = body if isinstance(body, bytes) else encode_json(body)
        options = {"content": content, "headers": HEADERS, "timeout": http_timeout or self.timeout}
        return Call("POST", self.fiscalize_path, _answer, options)

    def _status_call(self, nuid: str, qnuid: str) -> Call[Status]:
        return Call("GET", STATUS_PATH, _status, {"params": {"nuid": nuid, "qnuid": qnuid}, "headers": HEADERS})

    def _keys_call(self) -> Call[PublicKeys]:
        return Call("GET", KEYS_PATH, self._keys_from, {"headers": HEADERS})

    @staticmethod
    def _keys_from(response: httpx.Response) -> PublicKeys:
        if response.status_code != 200:
            raise ProtocolError(f"HTTP {response.status_code} from GET /v1/keys", http_status=response.status_code)
        try:
            return PublicKeys.from_json(response.json())
        except (ValueError, KeysError) as exc:
            raise ProtocolError(f"GET /v1/keys: {exc}", http_status=response.status_code) from None


def _answer(response: httpx.Response) -> Answer:
    return parse_answer(response.status_code, response.content)


def _status(response: httpx.Response) -> Status:
    return parse_status_answer(response.status_code, response.content)


def transport_error(exc: httpx.HTTPError, what: str) -> TransportError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return TransportError(f"{what} {kind}: {type(exc).__name__}")


HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}


