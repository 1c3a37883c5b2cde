"""The fiscal drive's speed code (``fn_fast``) gives what the plain computation gives: the
sign with its pads hashed once is ``hmac``'s, the remembered validity period is the one
computed afresh, the remembered time texts and wall times are those of the time given."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.fn import FiscalDrive, fiscal_sign, minute_text, naive
from kassagate.core.fn_fast import add_months, expiry, signer


@given(st.binary(min_size=0, max_size=200), st.binary(max_size=300))
def test_fiscal_sign_is_hmac_sha256_for_any_key(key: bytes, data: bytes) -> None:
    assert fiscal_sign(key, data) == hmac.new(key, data, hashlib.sha256).digest()[:6]


@given(st.binary(min_size=0, max_size=200), st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_signer_signs_each_message_of_a_key_as_hmac_does(key: bytes, messages: list[bytes]) -> None:
    sign = signer(key)
    for data in messages:
        assert sign(data) == hmac.new(key, data, hashlib.sha256).digest()[:6]


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9000, 12, 31)),
       st.sampled_from([13, 15, 36]))
def test_expiry_is_the_registration_plus_the_period(registered: dt.datetime, months: int) -> None:
    text = registered.isoformat(timespec="seconds")
    assert expiry(text, months) == add_months(dt.datetime.fromisoformat(text), months)
    fn = FiscalDrive(serial="1", reg_number="1", key_hex="11" * 32, registered_at=text, validity_months=months)
    assert fn.expiry() == add_months(registered.replace(microsecond=0), months)


def test_add_months_clamps_the_day_to_the_month() -> None:
    assert add_months(dt.datetime(2026, 1, 31, 12, 0), 1) == dt.datetime(2026, 2, 28, 12, 0)
    assert add_months(dt.datetime(2027, 11, 30), 3) == dt.datetime(2028, 2, 29)
    assert add_months(dt.datetime(2026, 3, 15), 36) == dt.datetime(2029, 3, 15)


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_minute_text_is_the_zero_padded_minute(when: dt.datetime) -> None:
    expected = f"{when.year:04d}{when.month:02d}{when.day:02d}T{when.hour:02d}{when.minute:02d}"
    assert minute_text(when) == expected
    assert minute_text(when) == expected  # the cached text of the same time


@pytest.mark.parametrize("fold", [0, 1])
def test_naive_keeps_the_wall_time_and_fold(fold: int) -> None:
    t = dt.datetime(2026, 10, 25, 2, 30, 5, 123, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"), fold=fold)
    n = naive(t)
    assert n == t.replace(tzinfo=None) and n.tzinfo is None and n.fold == fold
    assert naive(t) is n
    other = t + dt.timedelta(minutes=1)
    assert naive(other) == other.replace(tzinfo=None)
