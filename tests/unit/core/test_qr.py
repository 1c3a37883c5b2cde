"""The receipt QR string (tag 1196)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.fn import FiscalDrive
from kassagate.core.qr import build_qr, parse_qr, verify_qr


def test_spec_example() -> None:
    q = build_qr(when=dt.datetime(2017, 7, 15, 14, 38), total=125000, fn_serial="9999078900006825", fd=31,
                 fp=1879546968, sign=1)
    assert q == "t=20170715T1438&s=1250.00&fn=9999078900006825&i=31&fp=1879546968&n=1"
    p = parse_qr(q)
    assert (p.total, p.fd, p.fp, p.sign, p.fn_serial) == (125000, 31, 1879546968, 1, "9999078900006825")


@given(st.integers(0, 10**12), st.integers(1, 10**9), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_build_parse_round_trip(total: int, fd: int, fp: int, sign: int) -> None:
    when = dt.datetime(2026, 5, 6, 7, 8)
    p = parse_qr(build_qr(when=when, total=total, fn_serial="1" * 16, fd=fd, fp=fp, sign=sign))
    assert (p.when, p.total, p.fd, p.fp, p.sign) == (when, total, fd, fp, sign)


@pytest.mark.parametrize("bad", ["", "t=1&s=1.00", "t=20170715T1438&s=12.5&fn=1&i=1&fp=1&n=1",
                                 "t=2017&s=1.00&fn=1&i=1&fp=1&n=1", "t=20170715T1438&s=1.00&fn=1&i=x&fp=1&n=1"])
def test_parse_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_qr(bad)


def test_verify_qr_detects_forgery() -> None:
    fn = FiscalDrive(serial="9999078900006825", reg_number="1" * 16, key_hex="ab" * 32,
                     registered_at="2026-01-01T00:00:00")
    when = dt.datetime(2026, 3, 1, 10, 0, 59)
    fd, fp = fn.issue("receipt", when, 4200, 1)
    q = build_qr(when=when, total=4200, fn_serial=fn.serial, fd=fd, fp=fp, sign=1)
    assert verify_qr(fn.key, q)
    assert not verify_qr(fn.key, q.replace("s=42.00", "s=42.01"))
    assert not verify_qr(bytes(32), q)
