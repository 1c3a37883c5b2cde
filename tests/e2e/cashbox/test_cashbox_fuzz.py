"""Fuzz: thousands of random and malformed bodies through HTTP get only protocol codes with
HTTP 200, and the register still works (and its journal is intact) afterwards."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassagate.cashbox.virtual import create_register, read_journal
from kassagate.cashbox.wire import encode_request, sign_data
from kassagate.core.codes import CashboxCode
from kassagate.core.register import ENDPOINTS
from support.cashbox import MERCHANT_ID, served_in_thread
from support.profiles import examples

pytestmark = pytest.mark.slow

CODES = {int(c) for c in CashboxCode}
VALID_SALE: dict[str, Any] = {
    "amount": 10000, "docTime": "2026-03-02 10:00:00", "docNumber": "1", "documentExtID": "e",
    "items": [{"itemName": "Coffee", "itemQty": 1000, "itemAmount": 10000, "discount": 0, "itemId": "1",
               "itemTaxes": [{"taxPrc": 2200, "calcType": 1, "taxCode": 11}], "paymentMethod": 4,
               "paymentSubject": 1}],
    "payments": {"cashAmount": 10000}, "extraPayments": [], "parentDocID": "3", "prepayDocID": 1,
    "documentID": 2, "shiftID": 1, "openOrdersOperation": "check", "date_start": "2026-01-01",
    "date_stop": "2026-01-02", "dateFrom": "2026-01-01", "dateFor": "2026-01-02", "creditContract": "c",
    "vatAmounts": [{"vatPercent": 2200, "vatSum": 1}], "settlementSign": 1, "taxSystem": 0,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(["\u00b2", "\u0661\u0662", "9" * 40, "-0", "1e5", " 7 ", "0x10"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    path = tmp_path_factory.mktemp("fuzz") / "register.sqlite3"
    create_register(path, merchant_id=MERCHANT_ID)
    with served_in_thread(path) as url:
        yield url, path


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as c:
        yield c


def post(http: httpx.Client, url: str, endpoint: str, body: bytes, ct: str = "text/plain") -> dict[str, Any]:
    r = http.post(f"{url}/{endpoint}", content=body, headers={"content-type": ct})
    assert r.status_code == 200
    out = r.json()
    assert out["code"] in CODES and out["status"] in ("success", "error")
    assert "Traceback" not in r.text
    assert out["code"] != 5 or "fnState" in out, f"internal error: {out}"  # no crash behind a code 5
    return out


def mutate(rng: random.Random, doc: Any, value: Any) -> Any:
    """Replace, delete or retype one random field somewhere in ``doc``."""
    if isinstance(doc, dict) and doc:
        k = rng.choice(sorted(doc))
        out = dict(doc)
        r = rng.random()
        if r < 0.2:
            del out[k]
        elif r < 0.6:
            out[k] = value
        else:
            out[k] = mutate(rng, doc[k], value)
        return out
    if isinstance(doc, list) and doc:
        i = rng.randrange(len(doc))
        out_l = list(doc)
        out_l[i] = mutate(rng, doc[i], value) if rng.random() < 0.7 else value
        return out_l
    return value


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from([*ENDPOINTS, "nope", "sale/../x"]), value=json_values,
       seed=st.integers(0, 2**32), depth=st.integers(1, 3))
def test_signed_mutated_documents(server: tuple[str, Path], http: httpx.Client, endpoint: str, value: Any,
                                  seed: int, depth: int) -> None:
    url, _ = server
    rng = random.Random(seed)
    doc: Any = VALID_SALE
    for _ in range(depth):
        doc = mutate(rng, doc, value)
    if not isinstance(doc, dict):
        doc = {"x": doc}
    post(http, url, endpoint, encode_request(doc, MERCHANT_ID))


@settings(max_examples=examples(800), deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), sign_it=st.booleans(),
       ct=st.sampled_from(["text/plain", "application/json", "application/x-www-form-urlencoded", ""]))
def test_random_bodies(server: tuple[str, Path], http: httpx.Client, body: bytes, sign_it: bool, ct: str) -> None:
    url, _ = server
    if sign_it:
        data = base64.b64encode(body).decode()
        body = f"data={data}&sign={sign_data(data, MERCHANT_ID)}".encode()
    a = post(http, url, "sale", body, ct)
    assert a["code"] != 0 or sign_it


def test_large_and_deep_bodies(server: tuple[str, Path], http: httpx.Client) -> None:
    url, _ = server
    deep = '{"items": ' + "[" * 5000 + "1" + "]" * 5000 + "}"
    data = base64.b64encode(deep.encode()).decode()
    assert post(http, url, "sale", f"data={data}&sign={sign_data(data, MERCHANT_ID)}".encode())["code"] == 2
    assert post(http, url, "sale", deep.encode(), "application/json")["code"] == 2
    many = {"amount": 1, "items": VALID_SALE["items"] * 1500, "payments": {"cashAmount": 1}}
    assert post(http, url, "sale", encode_request(many, MERCHANT_ID))["code"] == 2
    huge = b"data=" + b"A" * (5 * 1024 * 1024) + b"&sign=x"
    assert post(http, url, "sale", huge)["code"] == 2


def test_register_still_works_after_fuzzing(server: tuple[str, Path], http: httpx.Client) -> None:
    url, path = server
    ok = {"amount": 500, "items": [{"itemName": "after", "itemQty": 1000, "itemAmount": 500}],
          "payments": {"cashAmount": 500}, "documentExtID": "after-fuzz"}
    a = post(http, url, "sale", encode_request(ok, MERCHANT_ID))
    assert a["code"] == 0
    info = post(http, url, "get_info", encode_request({}, MERCHANT_ID))
    assert info["fnState"] in ("ok", "full")
    fds = [x["fd"] for x in read_journal(path) if x["fd"] is not None]
    assert fds == list(range(1, len(fds) + 1))
