"""The Cashbox wire format: how a request and its signature travel.

Body: ``data=<D>&sign=<S>``; D = base64 of the request JSON (UTF-8), S = base64 of the
lowercase hex SHA-1 of D followed by the merchantID. ``=`` inside values may come as
``%3D`` or plain; any content type; a JSON body ``{"data": .., "sign": ..}`` is accepted
too. Errors: a missing ``data`` -> 3, a bad signature -> 1, undecodable data -> 2.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from typing import Any
from urllib.parse import unquote

import msgspec

from kassagate.core.codes import CashboxCode
from kassagate.core.register.model import CashboxError

_json_decode = msgspec.json.Decoder().decode
_SHA1 = hashlib.sha1(usedforsecurity=False)
#: ``base64.b64decode(s, validate=True)`` for bytes ``s``, without its argument conversion.
_b64decode_strict = functools.partial(binascii.a2b_base64, strict_mode=True)
_json_encode = msgspec.json.Encoder().encode


def _sha1_hex(text: str) -> str:
    h = _SHA1.copy()  # a copy of a fresh hash: no digest lookup by name per request
    h.update(text.encode())
    return h.hexdigest()


def sign_data(data: str, merchant_id: str) -> str:
    """S for the data text D."""
    return base64.b64encode(_sha1_hex(data + merchant_id).encode("ascii")).decode("ascii")


def encode_request(request: dict[str, Any], merchant_id: str) -> bytes:
    """The body a client sends: ``data=..&sign=..`` with every ``=`` written as ``%3D``."""
    data = base64.b64encode(_json_encode(request)).decode("ascii")
    sign = sign_data(data, merchant_id)
    return f"data={data.replace('=', '%3D')}&sign={sign.replace('=', '%3D')}".encode("ascii")


def _fields(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            obj = _json_decode(text)
        except (msgspec.DecodeError, RecursionError):
            raise CashboxError(CashboxCode.INVALID_JSON, "the body is neither data=..&sign=.. nor valid JSON") from None
        if not isinstance(obj, dict):
            raise CashboxError(CashboxCode.INVALID_JSON, "a JSON body must be an object {data, sign}")
        return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, str)}
    out: dict[str, str] = {}
    for part in text.split("&"):
        key, sep, value = part.partition("=")
        if sep:
            # '+' is part of base64 here (clients escape only '='): never read it as a space.
            value = value.strip()
            if "%" in value:
                value = value.replace("%3D", "=").replace("%3d", "=")
                if "%" in value:
                    value = unquote(value)
            out.setdefault(unquote(key.strip()) if "%" in key else key.strip(), value.replace(" ", "+"))
    return out


def decode_request(body: bytes, merchant_id: str) -> dict[str, Any]:
    """Parse, verify and decode a request body into its JSON object."""
    fields = _fields(body)
    data = fields.get("data")
    if not data:
        raise CashboxError(CashboxCode.MISSING_PARAMETER, "required parameter data is missing: send data=..&sign=..")
    sign = fields.get("sign", "")
    try:
        got = _b64decode_strict(sign.encode("ascii")) if sign else b""
    except (binascii.Error, UnicodeEncodeError, ValueError):
        got = b""
    expected = _sha1_hex(data + merchant_id).encode("ascii")
    if not got or not hmac.compare_digest(got.lower(), expected):
        raise CashboxError(CashboxCode.AUTH, "authorization error: sign is not base64(sha1_hex(data + merchantID))")
    try:
        raw = _b64decode_strict(data.encode("ascii") + b"=" * (-len(data) % 4))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise CashboxError(CashboxCode.INVALID_JSON, "data is not base64") from None
    try:
        obj = _json_decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise CashboxError(CashboxCode.INVALID_JSON, "data is not the base64 of a UTF-8 JSON document") from None
    except RecursionError:
        raise CashboxError(CashboxCode.INVALID_JSON, "data holds JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise CashboxError(CashboxCode.INVALID_JSON, "data must hold a JSON object")
    return obj


def encode_answer(answer: dict[str, Any]) -> bytes:
    return _json_encode(answer)
