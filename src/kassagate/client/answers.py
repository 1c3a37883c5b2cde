"""Typed answers of the front server (the intake's answer and ``GET /v1/status``, see
``docs/front.md``) and the client's errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kassagate.core.codes import FrontCode
from kassagate.core.receipt import ReceiptError
from kassagate.core.states import RequestStatus

__all__ = [
    "ACCEPTED_CODES",
    "Answer",
    "ClientError",
    "ProtocolError",
    "ReceiptInvalid",
    "Status",
    "StatusNotFound",
    "TransportError",
    "WaitTimeout",
    "parse_answer",
    "parse_status",
]

#: Codes meaning "durably stored, will be fiscalized (or shown, for debug)".
ACCEPTED_CODES = frozenset(
    {FrontCode.ACCEPTED, FrontCode.ACCEPTED_RID_INVALID, FrontCode.ACCEPTED_NO_RID, FrontCode.ACCEPTED_DEBUG}
)
#: Success answers that store nothing: the connectivity check and the test mode.
_TEST_CODES = frozenset({FrontCode.TEST_CONNECT, FrontCode.TEST_DECRYPT})


class ClientError(Exception):
    """Base of the client library's errors."""


class ReceiptInvalid(ClientError):
    """The receipt breaks a rule (checked locally, nothing was sent). ``error`` is the
    :class:`~kassagate.core.receipt.ReceiptError` with its ``path`` and ``message``."""

    def __init__(self, error: ReceiptError) -> None:
        super().__init__(f"receipt not sent: {error}")
        self.error = error
        self.path = error.path
        self.message = error.message


class TransportError(ClientError):
    """The server could not be reached or did not answer in time. For a send, the outcome
    is unknown: resend with the same ``rid`` (a duplicate then answers 409)."""


class ProtocolError(ClientError):
    """The answer is not one of the protocol (not JSON, no ``code``, an HTTP 5xx of a proxy)."""

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class StatusNotFound(ClientError):
    """``GET /v1/status`` answered 404: no request with this ``nuid``/``qnuid`` pair."""


class WaitTimeout(ClientError):
    """:meth:`wait_fiscalized` ran out of time; ``last`` is the last status seen."""

    def __init__(self, message: str, last: Status | None) -> None:
        super().__init__(message)
        self.last = last


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 40:
        return int(value.strip())
    return None


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def _opt_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (1, "1", "true"):
        return True
    if value in (0, "0", "false"):
        return False
    return None


def _json_object(body: bytes, http_status: int) -> dict[str, Any] | None:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass(frozen=True)
class Answer:
    """The answer to a fiscalization request.

    ``code`` is the front code (:class:`~kassagate.core.codes.FrontCode`), ``status`` ``"success"`` or
    ``"error"``, ``message`` the human text (``success`` or ``error`` field). ``nuid`` and
    ``qnuid`` name an accepted request (and, on 409, the first request with that RID);
    ``rid_error`` (810) says why the RID was not recorded; ``same_request`` (409) whether
    the receipt equals the first one's. ``fiscal`` is the fiscal data when the server
    answered with them (the ``wait`` extension), else ``None``.
    """

    code: int
    status: str
    message: str
    http_status: int
    nuid: str | None = None
    qnuid: str | None = None
    rid_error: str | None = None
    same_request: bool | None = None
    fiscal: Status | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        """Durably stored by the server (800, 810, 820, 390)."""
        return self.code in ACCEPTED_CODES

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def duplicate(self) -> bool:
        """The RID was already recorded (409): ``nuid``/``qnuid`` are the first request's."""
        return self.code == FrontCode.RID_DUPLICATE

    @property
    def front_code(self) -> FrontCode | None:
        try:
            return FrontCode(self.code)
        except ValueError:
            return None


def parse_answer(http_status: int, body: bytes) -> Answer:
    """An :class:`Answer` from an intake HTTP answer; :class:`ProtocolError` when it is not
    one of the protocol. A 413 without a JSON body reads as code 413 (body too large)."""
    obj = _json_object(body, http_status)
    if obj is None:
        if http_status == 413:
            return Answer(code=413, status="error", message="request body too large", http_status=413)
        raise ProtocolError(f"HTTP {http_status}: the answer is not a JSON object", http_status=http_status)
    code = _opt_int(obj.get("code"))
    if code is None:
        if http_status == 413:
            code = 413
        else:
            raise ProtocolError(f"HTTP {http_status}: the answer has no numeric code", http_status=http_status)
    status = obj.get("status")
    if status not in ("success", "error"):
        status = "success" if code in ACCEPTED_CODES or code in _TEST_CODES else "error"
    message = _opt_str(obj.get("success") if status == "success" else obj.get("error"))
    if message is None:
        message = _opt_str(obj.get("error")) or _opt_str(obj.get("success")) or _opt_str(obj.get("message")) or ""
    fiscal = parse_status(obj) if "check_status" in obj else None
    return Answer(
        code=code,
        status=status,
        message=message,
        http_status=http_status,
        nuid=_opt_str(obj.get("nuid")),
        qnuid=_opt_str(obj.get("qnuid")),
        rid_error=_opt_str(obj.get("rid_error")),
        same_request=_opt_bool(obj.get("same_request")),
        fiscal=fiscal,
        raw=obj,
    )


@dataclass(frozen=True)
class Status:
    """A request's state (``GET /v1/status``), every field typed, under its wire name.

    ``check_status``: 0 pending, 1 fiscalized, 2 failed, 3 debug (fake fiscal data), the
    values of :class:`~kassagate.core.states.RequestStatus`.
    Fields the server left empty or null are ``None``.
    """

    check_nuid: str | None
    check_qnuid: str | None
    check_status: int
    check_status_info: str | None = None
    error_code: int | None = None
    error_text: str | None = None
    rid: str | None = None
    name_zakaz: str | None = None
    check_type: int | None = None
    check_sno: int | None = None
    check_itog: int | None = None
    check_vend_address: str | None = None
    check_vend_mesto: str | None = None
    check_vend_num_avtovat: str | None = None
    check_dt_unixtime: int | None = None
    check_num_fd: int | None = None
    check_num_fp: str | None = None
    check_fn_num: str | None = None
    check_kkt_rn: str | None = None
    check_shift: int | None = None
    check_num_in_shift: int | None = None
    check_qr_code: str | None = None
    check_qr_code_img_b64: str | None = field(default=None, repr=False)
    status_code: str | None = None
    check_name: str | None = None
    check_dt_ofdtime: str | None = None
    check_kkt_operator: str | None = None
    check_site_fns: str | None = None
    check_qr_code_img_url: str | None = None
    check_qr_code_nano_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.check_status == RequestStatus.PENDING

    @property
    def fiscalized(self) -> bool:
        return self.check_status == RequestStatus.FISCALIZED

    @property
    def failed(self) -> bool:
        return self.check_status == RequestStatus.FAILED

    @property
    def debug(self) -> bool:
        return self.check_status == RequestStatus.DEBUG

    @property
    def final(self) -> bool:
        """No longer pending: fiscalized, failed or debug."""
        return self.check_status != RequestStatus.PENDING

    @property
    def fiscal_datetime(self) -> dt.datetime | None:
        """``check_dt_unixtime`` as an aware UTC datetime."""
        if self.check_dt_unixtime is None:
            return None
        return dt.datetime.fromtimestamp(self.check_dt_unixtime, tz=dt.UTC)

    @property
    def qr_png(self) -> bytes | None:
        """The PNG bytes of ``check_qr_code_img_b64`` (a ``data:image/png;base64,`` URI)."""
        import base64
        import binascii

        uri = self.check_qr_code_img_b64
        if not uri:
            return None
        _, _, data = uri.partition("base64,")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None


_STATUS_INT_FIELDS = (
    "error_code",
    "check_type",
    "check_sno",
    "check_itog",
    "check_dt_unixtime",
    "check_num_fd",
    "check_shift",
    "check_num_in_shift",
)
_STATUS_STR_FIELDS = (
    "check_nuid",
    "check_qnuid",
    "check_status_info",
    "error_text",
    "rid",
    "name_zakaz",
    "check_vend_address",
    "check_vend_mesto",
    "check_vend_num_avtovat",
    "check_num_fp",
    "check_fn_num",
    "check_kkt_rn",
    "check_qr_code",
    "check_qr_code_img_b64",
    "status_code",
    "check_name",
    "check_dt_ofdtime",
    "check_kkt_operator",
    "check_site_fns",
    "check_qr_code_img_url",
    "check_qr_code_nano_url",
)


def parse_status(obj: Mapping[str, Any]) -> Status:
    """A :class:`Status` from the JSON object of ``GET /v1/status`` (numbers may come as
    strings; empty strings read as ``None`` for numeric fields)."""
    status = _opt_int(obj.get("check_status"))
    if status is None:
        raise ProtocolError("the status answer has no numeric check_status", http_status=200)
    values: dict[str, Any] = {name: _opt_int(obj.get(name)) for name in _STATUS_INT_FIELDS}
    if obj.get("error_code") in ("000", ""):  # "000": no error (pending, fiscalized, debug)
        values["error_code"] = None
    values.update({name: _opt_str(obj.get(name)) for name in _STATUS_STR_FIELDS})
    return Status(check_status=status, raw=dict(obj), **values)


def parse_status_answer(http_status: int, body: bytes) -> Status:
    """A :class:`Status` from a status HTTP answer; 404 raises :class:`StatusNotFound`."""
    if http_status == 404:
        raise StatusNotFound("no request with this nuid/qnuid")
    obj = _json_object(body, http_status)
    if http_status != 200 or obj is None:
        detail = _opt_str(obj.get("error")) if obj else None
        raise ProtocolError(
            f"HTTP {http_status}: unexpected status answer" + (f": {detail}" if detail else ""),
            http_status=http_status,
        )
    try:
        return parse_status(obj)
    except ProtocolError as exc:
        raise ProtocolError(str(exc), http_status=http_status) from None
