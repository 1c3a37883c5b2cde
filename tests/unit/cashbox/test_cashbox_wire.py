"""The Cashbox wire format: the signed form of a request and its faults."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.cashbox.wire import decode_request, encode_request, sign_data
from kassagate.core.register import CashboxError

EXAMPLE = (b"data=eyJlbXBsb3llZU5hbWUiOiJKb2huIERvZSJ9"
           b"&sign=NmEwZmU0OTgxNDY5ODgxZDVlMTE1ODc4MmU2NDcwY2E2MzcxYmQzMA%3D%3D")


def test_worked_example_of_the_spec() -> None:
    assert encode_request({"employeeName": "John Doe"}, "MERCHANT123") == EXAMPLE
    assert decode_request(EXAMPLE, "MERCHANT123") == {"employeeName": "John Doe"}
    assert decode_request(EXAMPLE.replace(b"%3D", b"="), "MERCHANT123") == {"employeeName": "John Doe"}
    d = "eyJlbXBsb3llZU5hbWUiOiJKb2huIERvZSJ9"
    assert sign_data(d, "MERCHANT123") == base64.b64encode(
        hashlib.sha1((d + "MERCHANT123").encode(), usedforsecurity=False).hexdigest().encode()).decode()


@given(st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=30), st.booleans()),
                       max_size=6), st.text(min_size=1, max_size=30))
def test_round_trip(obj: dict[str, object], merchant: str) -> None:
    body = encode_request(obj, merchant)
    assert decode_request(body, merchant) == obj
    assert decode_request(body.replace(b"%3D", b"="), merchant) == obj


def _code(body: bytes, merchant: str = "M") -> int:
    with pytest.raises(CashboxError) as e:
        decode_request(body, merchant)
    return int(e.value.code)


def test_errors() -> None:
    assert _code(EXAMPLE, "OTHER") == 1
    assert _code(b"sign=abc") == 3
    assert _code(b"") == 3
    assert _code(b"data=abc&sign=%%%") == 1
    bad = "%%%"
    assert _code(f"data={bad}&sign={sign_data(bad, 'M')}".encode()) == 2
    notjson = base64.b64encode(b"\xff\xfe").decode()
    assert _code(f"data={notjson}&sign={sign_data(notjson, 'M')}".encode()) == 2
    assert _code(b"{broken json") == 2


def test_plus_in_base64_is_not_a_space() -> None:
    obj = {"x": "\u00fe\u00ff>>>???"}  # base64 with '+' and '/'
    body = encode_request(obj, "M")
    assert b"+" in body or b"/" in body
    assert decode_request(body, "M") == obj
