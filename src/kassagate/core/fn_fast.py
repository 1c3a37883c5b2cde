"""The fiscal drive's speed code, apart from its rules (``kassagate.core.fn``).

Four computations run on every fiscal document and are kept here in their cheap form:

- :func:`signer`: HMAC-SHA256 under an FN key, truncated to the 6-byte fiscal sign, with
  the key's inner and outer pads hashed once per key: a sign then costs two copies of a
  hash state instead of a new HMAC. Same bytes as
  ``hmac.new(key, data, hashlib.sha256).digest()[:6]``;
- :func:`expiry`: the end of an FN's validity period, computed once per registration time
  and period;
- :func:`minute_text` and :func:`naive`: a request renders its one ``now`` as a minute text
  twice (fiscal sign, QR string) and converts it to wall time several times (FN state,
  shift age): the last result of each is kept, one tuple swapped whole (thread-safe) and
  found again by identity of the time object.

The memos are keyed by immutable values and hold a handful of entries. The property tests
in ``tests/unit/core/test_fn_fast.py`` hold each to its plain computation.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable

_BLOCK = 64  # SHA-256 block size (bytes)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@functools.lru_cache(maxsize=64)
def signer(key: bytes) -> Callable[[bytes], bytes]:
    """The 6-byte HMAC-SHA256 (RFC 2104) under ``key``, with its pads hashed once."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(key.translate(_IPAD))
    outer = hashlib.sha256(key.translate(_OPAD))

    def sign(data: bytes) -> bytes:
        h = inner.copy()
        h.update(data)
        o = outer.copy()
        o.update(h.digest())
        return o.digest()[:6]

    return sign


def add_months(day: dt.datetime, months: int) -> dt.datetime:
    """``day`` plus whole calendar months (the day clamped to the month's length)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    last = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return day.replace(year=year, month=month, day=min(day.day, last))


@functools.lru_cache(maxsize=256)
def expiry(registered_at: str, months: int) -> dt.datetime:
    """``registered_at`` (ISO local time) plus ``months``: the end of the validity period."""
    return add_months(dt.datetime.fromisoformat(registered_at), months)


#: The last time ``minute_text`` rendered and its text.
_MINUTE_TEXT: tuple[dt.datetime | None, str] = (None, "")


def minute_text(when: dt.datetime) -> str:
    """``YYYYMMDDTHHMM``: the time as the QR string and the fiscal sign carry it."""
    global _MINUTE_TEXT
    last = _MINUTE_TEXT
    if last[0] is when:
        return last[1]
    # YYYYMMDD and HHMM zero-padded: the digits of 1YYYYMMDD and 1HHMM (cheaper than format specs)
    day = str(100_000_000 + when.year * 10_000 + when.month * 100 + when.day)
    minute = str(10_000 + when.hour * 100 + when.minute)
    text = f"{day[1:]}T{minute[1:]}"
    _MINUTE_TEXT = (when, text)
    return text


_combine = dt.datetime.combine

#: The last time ``naive`` converted and its result.
_NAIVE: tuple[dt.datetime | None, dt.datetime | None] = (None, None)


def naive(t: dt.datetime) -> dt.datetime:
    """``t`` without its time zone (the wall time, its fold kept)."""
    global _NAIVE
    last = _NAIVE
    if last[0] is t and last[1] is not None:
        return last[1]
    n = _combine(t.date(), t.time())  # = t.replace(tzinfo=None) (fold kept), without its argument parsing
    _NAIVE = (t, n)
    return n
