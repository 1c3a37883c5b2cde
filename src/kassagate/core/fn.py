"""The fiscal drive (FN), emulated (``fiscal-rules.md``).

Pure: no I/O. The FN's key, the current time and every state change are passed in and
returned; the register's journal (``kassagate.cashbox.journal``) persists the state.

- FD numbers start at 1 and go up by one per fiscal document, never reused.
- Fiscal sign (tag 1077): HMAC-SHA256 of the document's canonical bytes under the FN key,
  truncated to 6 bytes; the printed FP is bytes 2..5 as a big-endian unsigned 32-bit int.
- Exhaustion: the document capacity, the validity period, a manual "full" (fault
  injection) and the 30-day unsent rule; "broken" refuses everything.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kassagate.core.tables import FN_WARN_FRACTION, OFD_MAX_UNSENT_AGE

FnState = Literal["ok", "full", "broken", "blocked"]
FnFault = Literal["ok", "full", "broken"]

#: Fiscal document types (what an FD is), as written in the journal.
FD_TYPES = frozenset({"registration", "open_shift", "close_shift", "receipt", "correction"})

#: Warning flags (FFD tags).
WARN_EXHAUSTION_SOON = 1050
WARN_URGENT_REPLACEMENT = 1051
WARN_MEMORY_NEARLY_FULL = 1052

_URGENT_DAYS = 3
_URGENT_FILL = 0.99


class FnRefused(Exception):
    """The FN refuses to issue a document; ``state`` says why (full, broken, blocked, none)."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def add_months(day: dt.datetime, months: int) -> dt.datetime:
    """``day`` plus whole calendar months (the day clamped to the month's length)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    last = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return day.replace(year=year, month=month, day=min(day.day, last))


#: The last time ``minute_text`` rendered and its text: a request renders its ``now`` for
#: the fiscal sign and again for the QR string. One tuple, swapped whole (thread-safe).
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


@functools.lru_cache(maxsize=256)
def _expiry(registered_at: str, months: int) -> dt.datetime:
    return add_months(dt.datetime.fromisoformat(registered_at), months)


def canonical_bytes(fd_type: str, fn_serial: str, fd: int, when: dt.datetime, total: int, sign: int) -> bytes:
    """The bytes the fiscal sign covers. They use the same fields (and the same minute
    precision) as the receipt's QR string, so that a receipt can be verified from its QR
    alone with the FN key."""
    return (
        f"kassagate-fd-1\ntype={fd_type}\nfn={fn_serial}\ni={fd}\nt={minute_text(when)}"
        f"\ns={total}\nn={sign}\n"
    ).encode()


def fiscal_sign(key: bytes, data: bytes) -> bytes:
    """The 6-byte fiscal sign of ``data`` under the FN ``key``."""
    return _signer(key)(data)


_BLOCK = 64  # SHA-256 block size (bytes)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@functools.lru_cache(maxsize=64)
def _signer(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 (RFC 2104) under ``key``, truncated to 6 bytes, with the key's inner and
    outer pad hashed once: a sign then costs two copies of a hash state instead of a new
    HMAC object. Same bytes as ``hmac.new(key, data, hashlib.sha256).digest()[:6]``."""
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


def printed_fp(sign: bytes) -> int:
    """The printed fiscal sign: bytes 2..5 of the 6-byte sign, big-endian unsigned."""
    return int.from_bytes(sign[2:6], "big")


def verify_fp(key: bytes, data: bytes, fp: int | str) -> bool:
    """Whether ``fp`` (as printed) is the fiscal sign of ``data`` under ``key``."""
    try:
        expected = printed_fp(fiscal_sign(key, data))
        return hmac.compare_digest(str(expected).encode(), str(int(fp)).encode())
    except (TypeError, ValueError):
        return False


@dataclass(slots=True)
class FiscalDrive:
    """The state of one FN. Mutated only through ``issue`` / ``set_fault`` / ``sync_ofd``."""

    serial: str
    reg_number: str
    key_hex: str = field(repr=False)  # the FN's secret key
    registered_at: str = ""  # ISO local time
    capacity: int = 250_000
    validity_months: int = 36
    last_fd: int = 0
    fault: str = "ok"  # ok | full | broken (fault injection)
    ofd_down: bool = False
    unsent: int = 0
    oldest_unsent: str | None = None  # ISO local time of the oldest unacknowledged FD

    @property
    def key(self) -> bytes:
        return _key_bytes(self.key_hex)

    def expiry(self) -> dt.datetime:
        return _expiry(self.registered_at, self.validity_months)

    def fill_percent(self) -> float:
        return round(100.0 * self.last_fd / self.capacity, 2) if self.capacity > 0 else 100.0

    def state(self, now: dt.datetime) -> FnState:
        """ok, full (capacity, validity or injected), broken, or blocked (30-day rule)."""
        if self.fault == "broken":
            return "broken"
        if self.fault == "full" or self.last_fd >= self.capacity or naive(now) >= self.expiry():
            return "full"
        if self.oldest_unsent is not None and not self.unsent_within_limit(now):
            return "blocked"
        return "ok"

    def unsent_within_limit(self, now: dt.datetime) -> bool:
        if self.oldest_unsent is None:
            return True
        return naive(now) - dt.datetime.fromisoformat(self.oldest_unsent) <= OFD_MAX_UNSENT_AGE

    def warnings(self, now: dt.datetime) -> list[int]:
        """The 1050/1051/1052 flags that apply at ``now``."""
        out: list[int] = []
        start = dt.datetime.fromisoformat(self.registered_at)
        end = self.expiry()
        total = (end - start).total_seconds()
        used = (naive(now) - start).total_seconds()
        fill = self.last_fd / self.capacity if self.capacity > 0 else 1.0
        if total > 0 and used >= FN_WARN_FRACTION * total:
            out.append(WARN_EXHAUSTION_SOON)
        if end - naive(now) <= dt.timedelta(days=_URGENT_DAYS) or fill >= _URGENT_FILL:
            out.append(WARN_URGENT_REPLACEMENT)
        if fill >= FN_WARN_FRACTION:
            out.append(WARN_MEMORY_NEARLY_FULL)
        return out

    def sync_ofd(self) -> None:
        """The virtual OFD acknowledges every unsent document at once while it is up."""
        if not self.ofd_down:
            self.unsent = 0
            self.oldest_unsent = None

    def check(self, fd_type: str, now: dt.datetime) -> None:
        """Raise ``FnRefused`` when the FN would refuse a document of ``fd_type``.

        Broken refuses everything; an exhausted (full) or blocked FN still closes a shift
        (its shift report), and refuses everything else."""
        self.sync_ofd()
        st = self.state(now)
        if st == "broken":
            raise FnRefused(st, "the fiscal drive (FN) is broken: it refuses every document")
        if st in ("full", "blocked") and fd_type != "close_shift":
            if st == "full":
                raise FnRefused(st, "the fiscal drive (FN) is exhausted (documents or validity period): replace it")
            raise FnRefused(
                st, "the fiscal drive (FN) is blocked: documents older than 30 days were not acknowledged by the OFD"
            )

    def issue(self, fd_type: str, now: dt.datetime, total: int = 0, sign: int = 0, *,
              checked: bool = False) -> tuple[int, int]:
        """Issue the next FD: check (unless the caller just did, ``checked``), number it,
        sign it. Returns (FD number, printed FP)."""
        if fd_type not in FD_TYPES:
            raise ValueError(f"unknown fiscal document type {fd_type!r}")
        if not checked:
            self.check(fd_type, now)
        fd = self.last_fd + 1
        fp = printed_fp(fiscal_sign(self.key, canonical_bytes(fd_type, self.serial, fd, now, total, sign)))
        self.last_fd = fd
        if self.ofd_down:
            self.unsent += 1
            if self.oldest_unsent is None:
                self.oldest_unsent = naive(now).isoformat(timespec="seconds")
        return fd, fp

    def set_fault(self, fault: FnFault) -> None:
        if fault not in ("ok", "full", "broken"):
            raise ValueError("the FN state must be ok, full or broken")
        self.fault = fault

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FiscalDrive:
        return cls(**d)


@functools.lru_cache(maxsize=64)
def _key_bytes(key_hex: str) -> bytes:
    return bytes.fromhex(key_hex)


_combine = dt.datetime.combine

#: The last time ``naive`` converted and its result (one tuple, swapped whole).
_NAIVE: tuple[dt.datetime | None, dt.datetime | None] = (None, None)


def naive(t: dt.datetime) -> dt.datetime:
    """``t`` without its time zone (the wall time). A request converts its one ``now``
    several times (FN state, shift age): the last conversion is kept."""
    global _NAIVE
    last = _NAIVE
    if last[0] is t and last[1] is not None:
        return last[1]
    n = _combine(t.date(), t.time())  # = t.replace(tzinfo=None) (fold kept), without its argument parsing
    _NAIVE = (t, n)
    return n


def verify_receipt(key: bytes, *, fn_serial: str, fd: int, when: dt.datetime, total: int, sign: int,
                   fp: int | str, fd_type: str = "receipt") -> bool:
    """Verify a receipt's (or correction's) printed fiscal sign with the FN key."""
    return verify_fp(key, canonical_bytes(fd_type, fn_serial, fd, when, total, sign), fp)
