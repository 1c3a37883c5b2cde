"""The client against a local httpx.MockTransport that plays the front server (decrypting
with the independent reference of support/client_reference.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kassagate.client import (
    AsyncKassaClient,
    KassaClient,
    Line,
    ProtocolError,
    ReceiptInvalid,
    StatusNotFound,
    TransportError,
    WaitTimeout,
    make_receipt,
)
from kassagate.core.receipt import parse_receipt
from support.client_reference import LayerError, ServerKeys
from support.strategies import sample_receipt

BASE = "http://kassagate.test"
KASSAID = "123456"
TOKEN = "test-token-0123456789"
NUID = "12345678901234567890123"
QNUID = "98765432109876543210987"
TODAY = dt.date(2026, 11, 23)


@dataclass
class FakeFront:
    """Decrypts what it gets, records it and answers like the front server."""

    keys: ServerKeys
    statuses: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    opened: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)
    fail_with: int | None = None
    answer_code: str = "800"

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v1/keys":
            return httpx.Response(200, json=self.keys.public_json())
        if path == "/v1/status":
            if request.url.params.get("nuid") != NUID or request.url.params.get("qnuid") != QNUID:
                return httpx.Response(404, json={"status": "error", "error": "not found"})
            current = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return httpx.Response(200, json=current)
        if path in ("/v1/fiscalize", "/v1/fiscalize/cluster"):
            body = json.loads(request.content)
            if "aab" not in body:
                return httpx.Response(200, json={"status": "success", "code": "100", "success": "test"})
            try:
                layer2, receipt = self.keys.open_body(body)
            except LayerError as exc:
                code = {"rsa": "120", "hmac": "130"}.get(exc.what, "90")
                return httpx.Response(200, json={"status": "error", "code": code, "error": exc.what})
            self.opened.append((path, layer2, receipt))
            if self.fail_with is not None:
                return httpx.Response(200, json={"status": "error", "code": str(self.fail_with), "error": "x"})
            if layer2.get("test") == "1":
                return httpx.Response(200, json={"status": "success", "code": "140", "success": "test ok"})
            answer = {
                "status": "success",
                "code": self.answer_code,
                "success": "accepted",
                "nuid": NUID,
                "qnuid": QNUID,
            }
            return httpx.Response(200, json=answer)
        return httpx.Response(404, json={"status": "error", "error": "not found"})


@pytest.fixture
def front(server_keys: ServerKeys) -> FakeFront:
    return FakeFront(server_keys)


def sync_client(front: FakeFront, **options: Any) -> KassaClient:
    http = httpx.Client(transport=httpx.MockTransport(front.handler))
    options.setdefault("today", lambda: TODAY)
    return KassaClient(BASE, options.pop("kassaid", KASSAID), options.pop("kassatoken", TOKEN), http=http, **options)


def async_client(front: FakeFront, **options: Any) -> AsyncKassaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(front.handler))
    options.setdefault("today", lambda: TODAY)
    return AsyncKassaClient(
        BASE, options.pop("kassaid", KASSAID), options.pop("kassatoken", TOKEN), http=http, **options
    )


def receipt_without_account() -> dict[str, Any]:
    r = sample_receipt()
    del r["kassaid"], r["kassatoken"]
    return r


async def test_async_send_fetches_keys_and_builds_the_envelope(front: FakeFront) -> None:
    async with async_client(front) as client:
        answer = await client.send(receipt_without_account(), rid="order-1")
    assert answer.accepted and answer.code == 800
    assert (answer.nuid, answer.qnuid, answer.http_status) == (NUID, QNUID, 200)
    assert [r.url.path for r in front.requests] == ["/v1/keys", "/v1/fiscalize"]
    post = front.requests[1]
    assert post.headers["content-type"] == "application/json"
    path, layer2, receipt = front.opened[0]
    assert path == "/v1/fiscalize"
    assert (layer2["kassaid"], layer2["kassatoken"], layer2["rid"], layer2["test"]) == (KASSAID, TOKEN, "order-1", "0")
    assert (receipt["kassaid"], receipt["kassatoken"]) == (KASSAID, TOKEN)
    assert parse_receipt(receipt, today=TODAY) == parse_receipt(sample_receipt(), today=TODAY)
    assert TOKEN.encode() not in post.content  # only inside the encryption


async def test_async_keys_are_fetched_once(front: FakeFront) -> None:
    async with async_client(front) as client:
        await client.send(receipt_without_account())
        await client.send(receipt_without_account())
    assert [r.url.path for r in front.requests].count("/v1/keys") == 1


def test_sync_send_with_typed_receipt_test_mode_and_wait(front: FakeFront) -> None:
    typed = parse_receipt(sample_receipt(), today=TODAY)
    with sync_client(front) as client:
        answer = client.send(typed, test=True)
        assert answer.code == 140 and answer.ok and not answer.accepted
        client.send(typed, wait=3)
    _, layer2, _ = front.opened[0]
    assert layer2["test"] == "1"
    assert json.loads(front.requests[1].content)["test"] == "1"
    _, layer2, _ = front.opened[1]
    assert layer2["wait"] == 3 and "rid" not in layer2


def test_cluster_mode_sends_the_cluster_id_and_token(front: FakeFront) -> None:
    with sync_client(front, kassaid="777", kassatoken="cluster-secret", cluster=True) as client:
        answer = client.send(receipt_without_account(), rid="c-1")
    assert answer.accepted
    path, layer2, receipt = front.opened[0]
    assert path == "/v1/fiscalize/cluster"
    assert (layer2["kassaid"], layer2["kassatoken"]) == ("777", "cluster-secret")
    assert (receipt["kassaid"], receipt["kassatoken"]) == ("777", "cluster-secret")


def test_legacy_path(front: FakeFront) -> None:
    with sync_client(front, fiscalize_path="/srv/igd.php") as client:
        client.keys = front.keys.public()
        with pytest.raises(ProtocolError):  # the fake serves only /v1 paths: 404 without a code
            client.send(receipt_without_account())
    assert front.requests[0].url.path == "/srv/igd.php"


def test_invalid_receipt_is_refused_locally(front: FakeFront) -> None:
    bad = receipt_without_account()
    bad["products_arr"][0]["summa"] = 14000
    with sync_client(front) as client, pytest.raises(ReceiptInvalid) as info:
        client.send(bad)
    assert info.value.path == "products_arr[0].summa"
    assert str(info.value).startswith("receipt not sent: products_arr[0].summa: expected 15000")
    assert front.requests == []


def test_receipt_naming_another_account_is_refused(front: FakeFront) -> None:
    with sync_client(front) as client:
        with pytest.raises(ReceiptInvalid) as info:
            client.send(sample_receipt(kassaid="999"))
        assert info.value.path == "kassaid"
        with pytest.raises(ReceiptInvalid) as info:
            client.send(sample_receipt(kassatoken="another-secret"))
        assert info.value.path == "kassatoken"
        assert "another-secret" not in str(info.value) and TOKEN not in str(info.value)
    assert front.requests == []


def test_check_false_sends_the_mapping_as_is(front: FakeFront) -> None:
    raw = receipt_without_account()
    raw["products_arr"][0]["summa"] = "14000"
    raw["extra_field"] = [1]
    with sync_client(front, check=False) as client:
        client.send(raw)
    _, _, receipt = front.opened[0]
    assert receipt["products_arr"][0]["summa"] == "14000" and receipt["extra_field"] == [1]


def test_checked_receipt_is_sent_in_canonical_form(front: FakeFront) -> None:
    raw = receipt_without_account()
    raw["products_arr"][0]["summa"] = "15000"
    with sync_client(front) as client:
        client.send(raw)
    _, _, receipt = front.opened[0]
    assert receipt["products_arr"][0]["summa"] == 15000


def test_keys_refetched_once_after_rsa_failure(front: FakeFront, other_server_keys: ServerKeys) -> None:
    with sync_client(front) as client:
        client.keys = other_server_keys.public()  # stale keys (the server rotated)
        answer = client.send(receipt_without_account())
    assert answer.code == 800
    assert [r.url.path for r in front.requests] == ["/v1/fiscalize", "/v1/keys", "/v1/fiscalize"]


def test_failure_with_current_keys_is_not_resent(front: FakeFront) -> None:
    front.fail_with = 130
    with sync_client(front) as client:
        answer = client.send(receipt_without_account())
    assert (answer.code, answer.accepted) == (130, False)
    assert [r.url.path for r in front.requests] == ["/v1/keys", "/v1/fiscalize", "/v1/keys"]


def test_no_refresh_returns_the_failure(front: FakeFront, other_server_keys: ServerKeys) -> None:
    with sync_client(front, refresh_keys=False) as client:
        client.keys = other_server_keys.public()
        answer = client.send(receipt_without_account())
    assert (answer.code, answer.status, answer.accepted) == (120, "error", False)
    assert [r.url.path for r in front.requests] == ["/v1/fiscalize"]


def test_test_connection(front: FakeFront) -> None:
    with sync_client(front) as client:
        answer = client.test_connection()
    assert answer.code == 100
    assert json.loads(front.requests[0].content) == {"test": "1"}


def pending() -> dict[str, Any]:
    return {"check_nuid": NUID, "check_qnuid": QNUID, "check_status": 0, "check_status_info": "pending"}


def fiscalized() -> dict[str, Any]:
    return {**pending(), "check_status": 1, "check_num_fd": 5, "check_num_fp": "123", "check_fn_num": "9" * 16}


async def test_async_wait_fiscalized_polls_until_final(front: FakeFront) -> None:
    front.statuses = [pending(), pending(), fiscalized()]
    async with async_client(front) as client:
        status = await client.wait_fiscalized(NUID, QNUID, timeout=10, interval=0.01)
    assert status.fiscalized and status.check_num_fd == 5
    polls = [r for r in front.requests if r.url.path == "/v1/status"]
    assert len(polls) == 3
    assert polls[0].url.params["nuid"] == NUID and polls[0].url.params["qnuid"] == QNUID


async def test_async_wait_times_out_with_the_last_status(front: FakeFront) -> None:
    front.statuses = [pending()]
    async with async_client(front) as client:
        with pytest.raises(WaitTimeout) as info:
            await client.wait_fiscalized(NUID, QNUID, timeout=0.1, interval=0.02)
    assert info.value.last is not None and info.value.last.pending


def test_sync_wait_and_fiscalize(front: FakeFront) -> None:
    front.statuses = [pending(), fiscalized()]
    with sync_client(front) as client:
        answer, status = client.fiscalize(receipt_without_account(), rid="r-1", timeout=10)
    assert answer.accepted and status is not None and status.fiscalized


async def test_async_fiscalize_not_accepted_returns_no_status(front: FakeFront) -> None:
    front.answer_code = "330"
    async with async_client(front) as client:
        answer, status = await client.fiscalize(receipt_without_account())
    assert (answer.code, status) == (330, None)


def test_status_not_found(front: FakeFront) -> None:
    front.statuses = [pending()]
    with sync_client(front) as client, pytest.raises(StatusNotFound):
        client.get_status(NUID, "0" * 23)


def failing_transport(exc: Callable[[httpx.Request], Exception]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.MockTransport(handler)


def test_unreachable_server_is_a_transport_error(server_keys: ServerKeys) -> None:
    http = httpx.Client(transport=failing_transport(lambda r: httpx.ConnectError("refused", request=r)))
    with KassaClient(BASE, KASSAID, TOKEN, http=http, keys=server_keys.public(), today=lambda: TODAY) as client:
        with pytest.raises(TransportError, match="POST /v1/fiscalize failed: ConnectError"):
            client.send(receipt_without_account())
        assert TOKEN not in repr(client)


async def test_timeout_is_a_transport_error(server_keys: ServerKeys) -> None:
    http = httpx.AsyncClient(transport=failing_transport(lambda r: httpx.ReadTimeout("slow", request=r)))
    async with AsyncKassaClient(
        BASE, KASSAID, TOKEN, http=http, keys=server_keys.public(), today=lambda: TODAY
    ) as client:
        with pytest.raises(TransportError, match="timed out"):
            await client.send(receipt_without_account())


def test_bad_keys_answer_is_a_protocol_error() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"rsa_first": "x"})))
    with KassaClient(BASE, KASSAID, TOKEN, http=http) as client, pytest.raises(ProtocolError, match="GET /v1/keys"):
        client.fetch_keys()


def test_make_receipt_passes_the_checks() -> None:
    lines = [Line("Tea", 12345, quantity="1.5", vat=11), Line("Delivery", 30000, vat=6, subject=4, discount=500)]
    wire = make_receipt(lines, tax_system=0, email="buyer@example.com", order="A-1")
    receipt = parse_receipt({**wire, "kassaid": KASSAID, "kassatoken": TOKEN}, today=TODAY)
    assert receipt.products_arr[0].kolvo == Decimal("1.5")
    assert receipt.products_arr[0].summa == 18518  # round(12345 × 1.5) = round(18517.5)
    assert receipt.total == 18518 + 29500 == receipt.oplata_arr.money_electro
    phone = make_receipt([Line("Tea", 100)], tax_system=1, phone="+79991234567", paid_by="money_nal")
    assert phone["check_send_type"] == "phone" and phone["oplata_arr"]["money_nal"] == 100
    with pytest.raises(ValueError, match="paid_by"):
        make_receipt([Line("Tea", 100)], tax_system=1, paid_by="bitcoin")
