"""What the two merchant clients share: their settings, the local receipt check, the
envelope, the paths and headers of the front protocol. The clients are in
:mod:`kassagate.client.http`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from kassagate.client.answers import ProtocolError, ReceiptInvalid, TransportError
from kassagate.client.envelope import DEFAULT_CHECK_TYPE, KeysError, PublicKeys, seal
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


def moscow_today() -> dt.date:
    """Today's date in Moscow time (UTC+3, no daylight saving), the default settlement date
    of the local receipt check."""
    return dt.datetime.now(_MSK).date()


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

    @staticmethod
    def _keys_from(response: httpx.Response) -> PublicKeys:
        if response.status_code != 200:
            raise ProtocolError(f"HTTP {response.status_code} from GET /v1/keys", http_status=response.status_code)
        try:
            return PublicKeys.from_json(response.json())
        except (ValueError, KeysError) as exc:
            raise ProtocolError(f"GET /v1/keys: {exc}", http_status=response.status_code) from None


def transport_error(exc: httpx.HTTPError, what: str) -> TransportError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return TransportError(f"{what} {kind}: {type(exc).__name__}")


HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}


