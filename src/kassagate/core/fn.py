"""The fiscal drive (FN), emulated.

Pure: no I/O. The FN's key, the current time and every state change are passed in and
returned; the register's journal (``kassagate.cashbox.journal``) persists the state.

- FD numbers start at 1 and go up by one per fiscal document, never reused.
- Fiscal sign (tag 1077): HMAC-SHA256 of the document's canonical bytes under the FN key,
  truncated to 6 bytes; the printed FP is bytes 2..5 as a big-endian unsigned 32-bit int.
- Exhaustion: the document capacity, the validity period, a manual "full" (fault
  injection) and the 30-day unsent rule (documents the OFD has not acknowledged for 30
  days block the FN); "broken" refuses everything.

The cheap forms of the sign, of the validity period and of the time conversions are in
``kassagate.core.fn_fast``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import asdict, dataclass, field
from typing import Any

from kassagate.core.fn_fast import add_months, expiry, minute_text, naive, signer
from kassagate.core.states import FN_FAULTS, FnFault, FnState
from kassagate.core.tables import FN_WARN_FRACTION, OFD_MAX_UNSENT_AGE

__all__ = [
    "FD_TYPES",
    "WARN_EXHAUSTION_SOON",
    "WARN_MEMORY_NEARLY_FULL",
    "WARN_URGENT_REPLACEMENT",
    "FiscalDrive",
    "FnFault",
    "FnRefused",
    "FnState",
    "add_months",
    "canonical_bytes",
    "fiscal_sign",
    "minute_text",
    "naive",
    "printed_fp",
    "verify_fp",
    "verify_receipt",
]

#: Fiscal document types (what an FD is), as written in the journal.
FD_TYPES = frozenset({"registration", "open_shift", "close_shift", "receipt", "correction"})

#: Warning flags (FFD tags).
WARN_EXHAUSTION_SOON = 1050
WARN_URGENT_REPLACEMENT = 1051
WARN_MEMORY_NEARLY_FULL = 1052

_URGENT_DAYS = 3
_URGENT_FILL = 0.99

# The states under plain names: every document asks for the state, and an enum attribute
# costs a lookup through its metaclass each time.
_OK, _FULL, _BROKEN, _BLOCKED = FnState.OK, FnState.FULL, FnState.BROKEN, FnState.BLOCKED


class FnRefused(Exception):
    """The FN refuses to issue a document; ``state`` says why (full, broken, blocked, none)."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def canonical_bytes(fd_type: str, fn_serial: str, fd: int, when: dt.datetime, total: int, sign: int) -> bytes:
    """The bytes the fiscal sign covers. They use the same fields (and the same minute
    precision) as the receipt's QR string, so that a receipt can be verified from its QR
    alone with the FN key."""
    return (
        f"kassagate-fd-1\ntype={fd_type}\nfn={fn_serial}\ni={fd}\nt={minute_text(when)}"
        f"\ns={total}\nn={sign}\n"
    ).encode()


def fiscal_sign(key: bytes, data: bytes) -> bytes:
    """The 6-byte fiscal sign of ``data`` under the FN ``key``: HMAC-SHA256, truncated."""
    return signer(key)(data)


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
        return bytes.fromhex(self.key_hex)

    def expiry(self) -> dt.datetime:
        return expiry(self.registered_at, self.validity_months)

    def fill_percent(self) -> float:
        return round(100.0 * self.last_fd / self.capacity, 2) if self.capacity > 0 else 100.0

    def state(self, now: dt.datetime) -> FnState:
        """ok, full (capacity, validity or injected), broken, or blocked (30-day rule)."""
        if self.fault == _BROKEN:
            return _BROKEN
        if self.fault == _FULL or self.last_fd >= self.capacity or naive(now) >= self.expiry():
            return _FULL
        if self.oldest_unsent is not None and not self.unsent_within_limit(now):
            return _BLOCKED
        return _OK

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
        if st == _BROKEN:
            raise FnRefused(st, "the fiscal drive (FN) is broken: it refuses every document")
        if st in (_FULL, _BLOCKED) and fd_type != "close_shift":
            if st == _FULL:
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
        if fault not in FN_FAULTS:
            raise ValueError("the FN state must be ok, full or broken")
        self.fault = fault

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FiscalDrive:
        return cls(**d)


def verify_receipt(key: bytes, *, fn_serial: str, fd: int, when: dt.datetime, total: int, sign: int,
                   fp: int | str, fd_type: str = "receipt") -> bool:
    """Verify a receipt's (or correction's) printed fiscal sign with the FN key."""
    return verify_fp(key, canonical_bytes(fd_type, fn_serial, fd, when, total, sign), fp)
