"""The client: typed answers, signing, and RegisterUnreachable only when the outcome is unknown."""

from __future__ import annotations

import socket

import httpx
import pytest

from kassagate.cashbox.client import (
    CashboxClient,
    FiscalAnswer,
    FiscalExtra,
    HttpTransport,
    RegisterInfo,
    RegisterUnreachable,
)
from kassagate.cashbox.wire import decode_request


def mock(handler: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def test_signs_and_parses_a_fiscal_answer() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/sale"
        seen.append(decode_request(request.content, "MID"))
        return httpx.Response(200, json={
            "status": "success", "code": 0, "message": "", "documentID": 7, "fiscalID": "12", "fiscalNum": "12",
            "docTime": "2026-03-02 10:00:00", "printTime": "2026-03-02 10:00:01", "docStatus": 1, "rrn": "1",
            "totalPayments": [{"code": "C", "amount": 100}],
            "extraParams": {"fnNumber": "9999078900006825", "fdNumber": 12, "fiscalSign": "42", "shiftNumber": 2,
                            "receiptNumber": 3, "kktRegNumber": "1" * 16, "qr": "t=..."}})

    async with mock(handler) as http:
        client = CashboxClient(HttpTransport("http://register:8008/", "MID", client=http))
        a = await client.sale({"amount": 100})
    assert seen == [{"amount": 100}]
    assert isinstance(a, FiscalAnswer) and a.ok and a.document_id == 7 and a.fiscal_id == "12"
    assert a.extra is not None and a.extra.fd_number == 12 and a.extra.shift_number == 2
    assert a.total_payments == (("C", 100),)


async def test_protocol_errors_are_answers_and_empty_extra_is_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "code": 5, "message": "FN broken", "fnState": "broken",
                                         "extraParams": {}})

    async with mock(handler) as http:
        a = await CashboxClient(HttpTransport("http://r", "MID", client=http)).sale({})
    assert a.code == 5 and not a.ok and a.fn_state == "broken" and a.extra is None


def test_a_partly_filled_extra_leaves_the_missing_numbers_unknown() -> None:
    """A real register may send the FN and FD numbers without the shift's: the missing
    numbers stay unknown (None), never a made-up 0."""
    extra = FiscalExtra.parse({"fnNumber": "9999078900006825", "fdNumber": "12", "shiftNumber": "",
                               "fiscalSign": 42})
    assert extra is not None and extra.fd_number == 12 and extra.fiscal_sign == "42"
    assert extra.shift_number is None and extra.receipt_number is None


@pytest.mark.parametrize("response", [httpx.Response(500, text="<html>oops</html>"),
                                      httpx.Response(200, text="[1, 2]"),
                                      httpx.Response(200, json={"code": "zero"})])
async def test_non_protocol_answer_is_unreachable(response: httpx.Response) -> None:
    async with mock(lambda request: response) as http:
        with pytest.raises(RegisterUnreachable):
            await CashboxClient(HttpTransport("http://r", "MID", client=http)).get_info()


async def test_timeout_and_refused_connection_are_unreachable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with mock(slow) as http:
        with pytest.raises(RegisterUnreachable):
            await CashboxClient(HttpTransport("http://r", "MID", client=http)).sale({})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with CashboxClient(HttpTransport(f"http://127.0.0.1:{port}", "MID", timeout=1)) as client:
        with pytest.raises(RegisterUnreachable) as e:
            await client.get_info()
    assert "MID" not in str(e.value) and "MID" not in repr(client.transport)


def test_register_info_parses_strings_and_booleans() -> None:
    info = RegisterInfo.parse({"code": 0, "registered": "true", "isShiftOpen": True, "fnState": "ok",
                               "warnings": [1050], "lastFdNumber": "9"})
    assert info.registered and info.is_shift_open and info.warnings == (1050,) and info.last_fd_number == 9
