"""The outer body and the envelope's layers: codes 100, 90/150, 120, 130, 110/260."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import msgspec

from kassagate.core.codes import FrontCode
from kassagate.front import envelope
from kassagate.front.intake.answer import Answer, Mode, answer, type_name

_json_decoder = msgspec.json.Decoder()


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
            return answer(bad, f"{name} must be a base64 string, got {type_name(value)}.")
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
