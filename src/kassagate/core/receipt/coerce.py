"""Lenient reading of the receipt's JSON values: what each kind of field accepts (numbers
sent as strings, integral floats, a one-element array around an object, dates in three
forms) and the error, with its path, when a value is not one of them.

Error texts never show a secret value: ``describe`` of a secret gives its length only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kassagate.core.limits import MAX_MONEY
from kassagate.core.receipt.tags import KOLVO_DECIMALS, MAX_EMAIL, MAX_KOLVO, MSK
from kassagate.core.receipt.types import ReceiptError

_INT_RE = re.compile(r"-?[0-9]+")
_DEC_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
DIGITS_RE = re.compile(r"[0-9]+")
_EMAIL_RE = re.compile(r"[^@\s\"<>(),;:\\\[\]]+@[^@\s\"<>(),;:\\\[\]]+\.[^@\s\"<>(),;:\\\[\]]+")
_PHONE_STRIP_RE = re.compile(r"[\s()\-]")
_PHONE_RE = re.compile(r"\+?[0-9]{10,15}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_MAX_NUMBER_TEXT = 40  # longest digit string looked at (int() of huge strings is slow or refused)
_HUGE = 10**40  # integers this large are never printed (str() of huge ints is slow or refused)
_MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def describe(value: Any, *, secret: bool = False) -> str:
    """A short, log-safe description of a wrong value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        if secret:
            return f"a {len(value)}-character string"
        if len(value) > 40:
            return f"{value[:40]!r}… (a string of {len(value)} characters)"
        return repr(value) + " (string)"
    if isinstance(value, int) and abs(value) >= _HUGE:
        return "a number of more than 40 digits"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "…"
    return type(value).__name__


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Obj:
    """A JSON object being read, with its path."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def p(self, name: str) -> str:
        return join_path(self.path, name)

    def get(self, name: str) -> Any:
        """The value, ``None`` when missing or null."""
        return self.data.get(name)

    def required(self, name: str) -> Any:
        if name not in self.data:
            raise ReceiptError(self.p(name), "required field is missing")
        value = self.data[name]
        if value is None:
            raise ReceiptError(self.p(name), "required field is null")
        return value


def as_object(value: Any, path: str) -> Mapping[str, Any]:
    """A JSON object; a one-element array holding an object is taken as that object (some
    PHP clients wrap ``oplata_arr``/``itog_arr`` in an array)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        raise ReceiptError(path, f"expected a JSON object, got {describe(value)}")
    return value


def read_int(value: Any, path: str, what: str) -> int:
    """An integer: a JSON integer, an integral JSON number (``100.0``) or a string of digits
    (``"100"``, as PHP clients send). Anything else is refused with ``what`` expected."""
    if isinstance(value, bool):
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    if isinstance(value, int):
        if abs(value) >= _HUGE:
            raise ReceiptError(path, f"expected {what}, got {describe(value)}")
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) <= 2**53:
            return int(value)
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    if isinstance(value, str):
        if len(value) <= _MAX_NUMBER_TEXT and _INT_RE.fullmatch(value):
            return int(value)
        if len(value) <= _MAX_NUMBER_TEXT and _DEC_RE.fullmatch(value):
            raise ReceiptError(path, f"expected {what}, got {describe(value)}: a decimal string is ambiguous here")
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    raise ReceiptError(path, f"expected {what}, got {describe(value)}")


def read_money(value: Any, path: str) -> int:
    what = "a non-negative integer number of kopecks"
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        raise ReceiptError(
            path, f"expected {what}, got {describe(value)}: money is in kopecks (12.50 roubles is 1250)"
        )
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT and "." in value and _DEC_RE.fullmatch(value):
        raise ReceiptError(
            path, f"expected {what}, got {describe(value)}: money is in kopecks (12.50 roubles is 1250)"
        )
    amount = read_int(value, path, what)
    if amount < 0:
        raise ReceiptError(path, f"expected {what}, got {amount}")
    if amount > MAX_MONEY:
        raise ReceiptError(path, f"expected at most {MAX_MONEY} kopecks, got {amount}")
    return amount


def read_kolvo(value: Any, path: str) -> Decimal:
    what = f'a quantity > 0 with at most {KOLVO_DECIMALS} decimals (a number or a string like "1.5")'
    if isinstance(value, bool):
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    if isinstance(value, int):
        qty = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ReceiptError(path, f"expected {what}, got {describe(value)}")
        qty = Decimal(repr(value))  # the shortest decimal that reads back as this float
    elif isinstance(value, str):
        text = value
        if len(text) > _MAX_NUMBER_TEXT or not _DEC_RE.fullmatch(text):
            hint = " (use a dot as decimal separator)" if "," in text else ""
            raise ReceiptError(path, f"expected {what}, got {describe(value)}{hint}")
        qty = Decimal(text)
    else:
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    try:
        exponent = qty.normalize().as_tuple().exponent
    except InvalidOperation as exc:  # pragma: no cover - finite decimals always normalise
        raise ReceiptError(path, f"expected {what}, got {describe(value)}") from exc
    if not isinstance(exponent, int):
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    if qty <= 0:
        raise ReceiptError(path, f"expected a quantity > 0, got {describe(value)}")
    if -exponent > KOLVO_DECIMALS:
        raise ReceiptError(path, f"expected at most {KOLVO_DECIMALS} decimals, got {describe(value)}")
    if qty > MAX_KOLVO:
        raise ReceiptError(path, f"expected a quantity of at most {MAX_KOLVO}, got {describe(value)}")
    qty = qty.normalize()
    if qty == qty.to_integral_value():
        qty = qty.quantize(Decimal(1))
    return qty


def read_text(
    value: Any,
    path: str,
    *,
    max_len: int,
    required: bool = False,
    numbers_ok: bool = False,
    secret: bool = False,
) -> str:
    """A string of at most ``max_len`` characters without control characters. Missing or
    null is ``""`` unless ``required``. ``numbers_ok`` takes a JSON integer as its digits
    (identifiers that PHP clients may send as numbers)."""
    if value is None:
        if required:
            raise ReceiptError(path, "required field is null")
        return ""
    if numbers_ok and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _HUGE:
        value = str(value)
    if not isinstance(value, str):
        raise ReceiptError(path, f"expected a string, got {describe(value, secret=secret)}")
    if len(value) > max_len:
        raise ReceiptError(path, f"expected at most {max_len} characters, got {len(value)}")
    if _CONTROL_RE.search(value):
        raise ReceiptError(path, "control characters (line breaks, tabs, NUL ...) are not allowed")
    if _SURROGATE_RE.search(value):
        raise ReceiptError(path, "invalid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character")
    if required and not value.strip():
        raise ReceiptError(path, "must not be empty")
    return value


def read_inn(value: Any, path: str, *, required: bool = False) -> str:
    text = read_text(value, path, max_len=_MAX_NUMBER_TEXT, required=required, numbers_ok=True, secret=True)
    if not text and not required:
        return ""
    if not (DIGITS_RE.fullmatch(text) and len(text) in (10, 12)):
        raise ReceiptError(path, f"expected an INN of 10 or 12 digits, got {describe(text, secret=True)}")
    return text


def read_phone(value: Any, path: str, *, required: bool = False, secret: bool = False) -> str:
    text = read_text(value, path, max_len=19, required=required, numbers_ok=True, secret=True)
    if not text and not required:
        return ""
    if not _PHONE_RE.fullmatch(_PHONE_STRIP_RE.sub("", text)):
        shown = describe(text, secret=secret)
        raise ReceiptError(path, f"expected a phone number of 10 to 15 digits like +79991234567, got {shown}")
    return text


def read_email(value: Any, path: str, *, required: bool = False) -> str:
    text = read_text(value, path, max_len=MAX_EMAIL, required=required, secret=True)
    if not text and not required:
        return ""
    if not _EMAIL_RE.fullmatch(text):
        raise ReceiptError(
            path, f"expected an e-mail address like name@example.com, got {describe(text, secret=True)}"
        )
    return text


def read_enum(value: Any, path: str, allowed: Mapping[int, str] | frozenset[int], what: str) -> int:
    code = read_int(value, path, f"{what} (an integer)")
    if code not in allowed:
        raise ReceiptError(path, f"expected {what}, got {code}")
    return code


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fmt_qty(qty: Decimal) -> str:
    return format(qty, "f")


def read_date(value: Any, path: str) -> dt.date:
    what = 'a date "YYYY-MM-DD" (or "DD.MM.YYYY")'
    if not isinstance(value, str):
        raise ReceiptError(path, f"expected {what}, got {describe(value)}")
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ReceiptError(path, f"expected {what}, got {describe(value)}")


def read_unix_date(value: Any, path: str) -> dt.date:
    """``date_doc_korr``: unix seconds (a number or a string of digits, read in Moscow time)
    or a date string as :func:`read_date` reads it."""
    if isinstance(value, str) and not DIGITS_RE.fullmatch(value.strip()):
        try:
            return read_date(value, path)
        except ReceiptError:
            pass
    elif not isinstance(value, bool) and isinstance(value, int | float | str):
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, float) and not (math.isfinite(text) and text.is_integer()):
            text = -1
        seconds = int(text) if not isinstance(text, str) or len(text) <= _MAX_NUMBER_TEXT else -1
        if 0 <= seconds <= _MAX_UNIX_SECONDS:
            return dt.datetime.fromtimestamp(seconds, MSK).date()
    raise ReceiptError(
        path,
        f'expected a date: unix seconds (a number or a string of digits), "YYYY-MM-DD" or "DD.MM.YYYY", '
        f"got {describe(value)}",
    )


def pick(o: Obj, names: tuple[str, ...]) -> tuple[str, Any]:
    """The first of ``names`` (a field and its aliases) with a non-empty value, else the
    first one present, else the first name; and its value (``None`` when none is sent)."""
    present = None
    for name in names:
        value = o.get(name)
        if value is None:
            continue
        if value != "" and value is not False:
            return name, value
        if present is None:
            present = (name, value)
    return present if present is not None else (names[0], None)
