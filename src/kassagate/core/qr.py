"""The receipt QR string, tag 1196: the settlement's minute, total in roubles, FN serial, FD
number, printed fiscal sign and settlement sign, which a buyer's app checks with the tax
office. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kassagate.core.fn import minute_text, verify_receipt


@dataclass(frozen=True, slots=True)
class QrFields:
    when: dt.datetime  # local date and time of the settlement (minute precision)
    total: int  # kopecks
    fn_serial: str
    fd: int
    fp: int
    sign: int  # 1054


def build_qr(*, when: dt.datetime, total: int, fn_serial: str, fd: int, fp: int, sign: int) -> str:
    """``t=YYYYMMDDTHHMM&s=RUB.KK&fn=..&i=..&fp=..&n=..``; ``i`` and ``fp`` without leading zeros."""
    if total < 0:
        raise ValueError("the total of a receipt cannot be negative")
    return (
        f"t={minute_text(when)}&s={total // 100}.{total % 100:02d}&fn={fn_serial}"
        f"&i={int(fd)}&fp={int(fp)}&n={int(sign)}"
    )


def parse_qr(text: str) -> QrFields:
    """Parse a QR string; raises ``ValueError`` saying which part is wrong."""
    parts: dict[str, str] = {}
    for chunk in text.strip().split("&"):
        key, sep, value = chunk.partition("=")
        if not sep:
            raise ValueError(f"QR part {chunk!r} is not key=value")
        parts[key] = value
    for key in ("t", "s", "fn", "i", "fp", "n"):
        if key not in parts:
            raise ValueError(f"QR string lacks {key}=")
    try:
        when = dt.datetime.strptime(parts["t"][:13], "%Y%m%dT%H%M")
    except ValueError:
        raise ValueError("QR t= must be YYYYMMDDTHHMM") from None
    rub, dot, kop = parts["s"].partition(".")
    if not _digits(rub) or (dot and (len(kop) != 2 or not _digits(kop))):
        raise ValueError("QR s= must be roubles with two decimals, e.g. 1250.00")
    total = int(rub) * 100 + (int(kop) if dot else 0)
    for key in ("i", "fp", "n"):
        if not _digits(parts[key]):
            raise ValueError(f"QR {key}= must be a number")
    return QrFields(when, total, parts["fn"], int(parts["i"]), int(parts["fp"]), int(parts["n"]))


def verify_qr(key: bytes, text: str) -> bool:
    """Whether the QR's fiscal sign verifies under the FN ``key`` (receipt or correction)."""
    q = parse_qr(text)
    return any(
        verify_receipt(key, fn_serial=q.fn_serial, fd=q.fd, when=q.when, total=q.total, sign=q.sign, fp=q.fp,
                       fd_type=t)
        for t in ("receipt", "correction")
    )


def _digits(s: str) -> bool:
    return s.isascii() and s.isdigit()
