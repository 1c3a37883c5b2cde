"""What the endpoint families share besides the register itself: answer fields and the
``shiftID`` of a report request."""

from __future__ import annotations

from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.register.rules import get_int

#: The card fields of an answer without a card payment.
CARD_EMPTY = {"rrn": "", "auth": "", "cardNum": "", "checkNum": ""}


def fiscal_id(fd: int | None) -> str:
    """``fiscalID`` of a fiscal document: its FD number as 12 digits ("" for none).

    A string (the protocol's type) of digits (clients that read it as an integer parse it)
    and at least 12 characters (a client takes its first 12); ``fiscalNum`` is the plain
    FD number. ``parentDocID``, ``fiscalID`` and ``prepayDocNum`` take either form."""
    return "" if fd is None else f"{fd:012d}"


def echo_ext(answer: dict[str, Any], req: dict[str, Any]) -> None:
    """``documentExtID`` as the caller sent it (string or number); absent when not sent."""
    ext = req.get("documentExtID")
    if ext is not None and ext != "":
        answer["documentExtID"] = ext


def shift_ref(req: dict[str, Any], code: C) -> int:
    """``shiftID`` of a report request: 0 (the current shift) when absent or empty."""
    if req.get("shiftID") == "":
        return 0
    return get_int(req, "shiftID", default=0, maximum=2**62, range_code=code)
