"""The emulated fiscal drive: numbering, fiscal sign, exhaustion, warnings, 30-day rule."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.fn import (
    WARN_EXHAUSTION_SOON,
    WARN_MEMORY_NEARLY_FULL,
    WARN_URGENT_REPLACEMENT,
    FiscalDrive,
    FnRefused,
    add_months,
    canonical_bytes,
    fiscal_sign,
    printed_fp,
    verify_receipt,
)

T0 = dt.datetime(2026, 3, 1, 12, 0)
KEY = bytes(range(32))


def drive(**kw: object) -> FiscalDrive:
    args: dict[str, object] = {"serial": "9999078900006825", "reg_number": "0000000001012345", "key_hex": KEY.hex(),
                               "registered_at": T0.isoformat()}
    args.update(kw)
    return FiscalDrive(**args)  # type: ignore[arg-type]


def test_fiscal_sign_is_truncated_hmac_and_fp_is_bytes_2_to_5() -> None:
    data = canonical_bytes("receipt", "9999078900006825", 31, T0, 125000, 1)
    full = hmac.new(KEY, data, hashlib.sha256).digest()
    sign = fiscal_sign(KEY, data)
    assert sign == full[:6]
    assert printed_fp(sign) == int.from_bytes(full[2:6], "big")
    assert printed_fp(bytes([0, 0, 0, 0, 0, 1])) == 1
    assert printed_fp(bytes([9, 9, 0xFF, 0xFF, 0xFF, 0xFF])) == 2**32 - 1


def test_issue_numbers_from_one_and_signs_verifiably() -> None:
    fn = drive()
    out = [fn.issue("receipt", T0, 100 * i, 1) for i in range(1, 6)]
    assert [fd for fd, _ in out] == [1, 2, 3, 4, 5]
    for i, (fd, fp) in enumerate(out, start=1):
        assert verify_receipt(KEY, fn_serial=fn.serial, fd=fd, when=T0, total=100 * i, sign=1, fp=fp)
        assert not verify_receipt(KEY, fn_serial=fn.serial, fd=fd, when=T0, total=100 * i + 1, sign=1, fp=fp)
        assert not verify_receipt(bytes(32), fn_serial=fn.serial, fd=fd, when=T0, total=100 * i, sign=1, fp=fp)


@given(st.lists(st.sampled_from(["receipt", "open_shift", "close_shift", "correction", "bad", "refused"]),
                max_size=60))
def test_fd_numbering_has_no_gap_and_no_reuse(ops: list[str]) -> None:
    fn = drive(capacity=1000)
    seen: list[int] = []
    for op in ops:
        if op == "bad":
            with pytest.raises(ValueError):
                fn.issue("nonsense", T0)
        elif op == "refused":
            fn.set_fault("broken")
            with pytest.raises(FnRefused):
                fn.issue("receipt", T0)
            fn.set_fault("ok")
        else:
            seen.append(fn.issue(op, T0)[0])
    assert seen == list(range(1, len(seen) + 1))
    assert fn.last_fd == len(seen)


def test_capacity_exhaustion_allows_only_shift_close() -> None:
    fn = drive(capacity=3)
    fn.issue("receipt", T0)
    fn.issue("receipt", T0)
    fn.issue("receipt", T0)
    assert fn.state(T0) == "full"
    with pytest.raises(FnRefused) as e:
        fn.issue("receipt", T0)
    assert e.value.state == "full"
    assert fn.issue("close_shift", T0)[0] == 4


def test_validity_period_expires() -> None:
    fn = drive(validity_months=15)
    assert fn.expiry() == dt.datetime(2027, 6, 1, 12, 0)
    assert fn.state(dt.datetime(2027, 6, 1, 11, 59)) == "ok"
    assert fn.state(dt.datetime(2027, 6, 1, 12, 0)) == "full"
    assert add_months(dt.datetime(2026, 1, 31), 1) == dt.datetime(2026, 2, 28)


def test_warnings_at_90_percent() -> None:
    fn = drive(capacity=100, validity_months=36)
    assert fn.warnings(T0) == []
    fn.last_fd = 90
    assert fn.warnings(T0) == [WARN_MEMORY_NEARLY_FULL]
    fn.last_fd = 99
    assert fn.warnings(T0) == [WARN_URGENT_REPLACEMENT, WARN_MEMORY_NEARLY_FULL]
    fn.last_fd = 0
    late = T0 + (fn.expiry() - T0) * 0.91
    assert fn.warnings(late) == [WARN_EXHAUSTION_SOON]
    assert WARN_URGENT_REPLACEMENT in fn.warnings(fn.expiry() - dt.timedelta(days=2))


def test_30_day_unsent_rule_and_ofd_recovery() -> None:
    fn = drive()
    fn.ofd_down = True
    fn.issue("receipt", T0)
    fn.issue("receipt", T0 + dt.timedelta(days=1))
    assert fn.unsent == 2 and fn.oldest_unsent == T0.isoformat()
    assert fn.state(T0 + dt.timedelta(days=30)) == "ok"
    later = T0 + dt.timedelta(days=30, seconds=1)
    assert fn.state(later) == "blocked"
    with pytest.raises(FnRefused) as e:
        fn.issue("receipt", later)
    assert e.value.state == "blocked"
    fn.ofd_down = False
    assert fn.issue("receipt", later)[0] == 3
    assert fn.unsent == 0 and fn.state(later) == "ok"


def test_broken_refuses_everything() -> None:
    fn = drive()
    fn.set_fault("broken")
    for t in ("receipt", "open_shift", "close_shift", "correction"):
        with pytest.raises(FnRefused):
            fn.issue(t, T0)
    assert fn.last_fd == 0
    with pytest.raises(ValueError):
        fn.set_fault("melted")  # type: ignore[arg-type]


def test_round_trip_dict() -> None:
    fn = drive(last_fd=7, unsent=1, oldest_unsent=T0.isoformat())
    assert FiscalDrive.from_dict(fn.to_dict()) == fn
