"""The readers of a request's fields: integers, texts, flags, dates and the document time,
each lenient where clients are (integers sent as strings) and raising ``CashboxError`` with
the documented code and the field's name otherwise."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from kassagate.core.codes import CashboxCode as C
from kassagate.core.limits import MAX_MONEY
from kassagate.core.register.model import DATE_FORMAT, CashboxError


def get_int(obj: dict[str, Any], name: str, *, prefix: str = "", required: bool = False, default: int = 0,
            minimum: int | None = 0, maximum: int = MAX_MONEY, range_code: C = C.AMOUNT_MISMATCH) -> int:
    """An integer field: missing -> 3 (if required) or ``default``; not an integer -> 2;
    outside ``minimum``..``maximum`` -> ``range_code``. Integral strings are accepted."""
    v = obj.get(name)
    if v is None:
        if required:
            raise CashboxError(C.MISSING_PARAMETER, f"required parameter {prefix}{name} is missing")
        return default
    if v.__class__ is not int:
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be an integer, got {type(v).__name__}")
        if isinstance(v, str):
            s = v.strip()
            if not s.isascii() or not (s.isdigit() or (s[:1] == "-" and s[1:].isdigit())) or len(s) > 30:
                raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be an integer, got {v[:40]!r}")
            v = int(s)
    if minimum is not None and v < minimum:
        raise CashboxError(range_code, f"{prefix}{name} must be at least {minimum}, got {v}")
    if v > maximum:
        raise CashboxError(range_code, f"{prefix}{name} must be at most {maximum}, got {v}")
    return int(v)


def get_str(obj: dict[str, Any], name: str, *, prefix: str = "", required: bool = False,
            max_len: int = 256) -> str | None:
    """A text field (numbers are taken as their text): missing -> 3 (if required) or None."""
    v = obj.get(name)
    if v.__class__ is str and 0 < len(v) <= max_len:
        return v
    if v is None or v == "":
        if required:
            raise CashboxError(C.MISSING_PARAMETER, f"required parameter {prefix}{name} is missing")
        return None
    if v.__class__ is not str:
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be a string, got {type(v).__name__}")
        v = str(v)
    if len(v) > max_len:
        raise CashboxError(C.INVALID_JSON, f"{prefix}{name} must be at most {max_len} characters, got {len(v)}")
    return str(v)


def get_bool(obj: dict[str, Any], name: str) -> bool:
    v = obj.get(name)
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if v in (0, 1, "0", "1", "true", "false"):
        return v in (1, "1", "true")
    raise CashboxError(C.INVALID_JSON, f"{name} must be true or false")


def get_date(obj: dict[str, Any], name: str) -> dt.date:
    s = get_str(obj, name, required=True)
    try:
        return dt.datetime.strptime(str(s), DATE_FORMAT).date()
    except ValueError:
        raise CashboxError(C.INVALID_JSON, f"{name} must be a date yyyy-MM-dd, got {str(s)[:40]!r}") from None


_DOC_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def get_doc_time(obj: dict[str, Any]) -> str | None:
    s = obj.get("docTime")
    if s.__class__ is not str or not 0 < len(s) <= 19:
        s = get_str(obj, "docTime", max_len=19)
        if s is None:
            return None
    try:
        if not _DOC_TIME.fullmatch(s):
            raise ValueError(s)
        dt.datetime.fromisoformat(s)
    except ValueError:
        raise CashboxError(C.INVALID_JSON, f"docTime must be yyyy-MM-dd HH:mm:ss, got {s!r}") from None
    return s


def as_int(v: Any) -> int | None:
    """``v`` as an integer when it is one or a string of digits (optionally signed), else None."""
    if v.__class__ is int:
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.isascii() and 0 < len(s) <= 30 and (s.isdigit() or (s[:1] == "-" and s[1:].isdigit())):
            return int(s)
    return None
