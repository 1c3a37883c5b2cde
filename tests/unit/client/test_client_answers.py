"""Typed answers: every shape of the intake's answer and of the status answer."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from kassagate.client import Answer, ProtocolError, Status, StatusNotFound
from kassagate.client.answers import parse_answer, parse_status, parse_status_answer
from kassagate.core.codes import FRONT_MESSAGES, FrontCode

NUID = "12345678901234567890123"
QNUID = "98765432109876543210987"


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize("code", list(FrontCode))
def test_every_front_code_parses(code: FrontCode) -> None:
    status = "success" if code.is_success else "error"
    obj: dict[str, Any] = {"status": status, "code": str(int(code)), status: FRONT_MESSAGES[code]}
    answer = parse_answer(code.http_status, body(obj))
    assert answer.code == int(code)
    assert answer.front_code is code
    assert answer.status == status
    assert answer.ok is code.is_success
    assert answer.message == FRONT_MESSAGES[code]
    assert answer.http_status == code.http_status
    assert answer.accepted is (
        code
        in {FrontCode.ACCEPTED, FrontCode.ACCEPTED_RID_INVALID, FrontCode.ACCEPTED_NO_RID, FrontCode.ACCEPTED_DEBUG}
    )


def test_accepted_answer_carries_the_identifiers() -> None:
    answer = parse_answer(
        200, body({"status": "success", "code": "800", "success": "ok", "nuid": NUID, "qnuid": QNUID})
    )
    assert answer == Answer(code=800, status="success", message="ok", http_status=200, nuid=NUID, qnuid=QNUID)
    assert answer.accepted and not answer.duplicate


def test_810_carries_rid_error() -> None:
    answer = parse_answer(
        200,
        body(
            {
                "status": "success",
                "code": "810",
                "success": "accepted",
                "nuid": NUID,
                "qnuid": QNUID,
                "rid_error": "rid longer than 64 characters",
            }
        ),
    )
    assert answer.accepted
    assert answer.rid_error == "rid longer than 64 characters"


@pytest.mark.parametrize("same", [True, False])
def test_409_duplicate(same: bool) -> None:
    answer = parse_answer(
        409,
        body({"status": "error", "code": "409", "error": "dup", "nuid": NUID, "qnuid": QNUID, "same_request": same}),
    )
    assert answer.duplicate and not answer.accepted and not answer.ok
    assert (answer.http_status, answer.nuid, answer.qnuid, answer.same_request) == (409, NUID, QNUID, same)


def test_code_as_integer_and_missing_status_word() -> None:
    answer = parse_answer(200, body({"code": 820, "success": "accepted"}))
    assert (answer.code, answer.status, answer.message) == (820, "success", "accepted")
    answer = parse_answer(200, body({"code": 60, "error": "products_arr[0].summa: expected 1"}))
    assert (answer.code, answer.status, answer.message) == (60, "error", "products_arr[0].summa: expected 1")


def test_413_with_or_without_json() -> None:
    assert parse_answer(413, b"<html>too large</html>").code == 413
    assert parse_answer(413, body({"status": "error", "error": "body over 1048576 bytes"})).message == (
        "body over 1048576 bytes"
    )
    assert parse_answer(413, body({"status": "error", "code": "90", "error": "x"})).code == 90


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (502, b"<html>Bad gateway</html>", "HTTP 502: the answer is not a JSON object"),
        (200, b"[1, 2]", "HTTP 200: the answer is not a JSON object"),
        (200, body({"status": "success"}), "HTTP 200: the answer has no numeric code"),
        (200, body({"code": "abc"}), "HTTP 200: the answer has no numeric code"),
        (500, b"\xff\xfe", "HTTP 500: the answer is not a JSON object"),
    ],
)
def test_not_a_protocol_answer(status: int, content: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as info:
        parse_answer(status, content)
    assert info.value.http_status == status


def test_answer_with_fiscal_data_from_wait() -> None:
    answer = parse_answer(
        200,
        body(
            {
                "status": "success",
                "code": "800",
                "success": "ok",
                "nuid": NUID,
                "qnuid": QNUID,
                "check_status": 1,
                "check_num_fd": 12,
            }
        ),
    )
    assert answer.fiscal is not None
    assert answer.fiscal.fiscalized and answer.fiscal.check_num_fd == 12


PNG = b"\x89PNG\r\n\x1a\nfake"

FISCALIZED = {
    "check_nuid": NUID,
    "check_qnuid": QNUID,
    "check_status": 1,
    "check_status_info": "fiscalized",
    "error_code": None,
    "error_text": None,
    "rid": "order-1",
    "name_zakaz": "Order 1",
    "check_type": 1,
    "check_sno": 1,
    "check_itog": 15000,
    "check_vend_address": "",
    "check_vend_mesto": "",
    "check_vend_num_avtovat": "",
    "check_dt_unixtime": 1763900000,
    "check_num_fd": 31,
    "check_num_fp": "1879546968",
    "check_fn_num": "9999078900006825",
    "check_kkt_rn": "0000000001012345",
    "check_shift": 3,
    "check_num_in_shift": 7,
    "check_qr_code": "t=20251123T1513&s=150.00&fn=9999078900006825&i=31&fp=1879546968&n=1",
    "check_qr_code_img_b64": "data:image/png;base64," + base64.b64encode(PNG).decode(),
}


def test_fiscalized_status_every_field() -> None:
    status = parse_status_answer(200, body(FISCALIZED))
    assert status.fiscalized and status.final and not status.pending
    for name, value in FISCALIZED.items():
        assert getattr(status, name) == value, name
    assert status.fiscal_datetime == dt.datetime(2025, 11, 23, 12, 13, 20, tzinfo=dt.UTC)
    assert status.qr_png == PNG


def test_status_numbers_as_strings_and_empty_values() -> None:
    obj = {
        **FISCALIZED,
        "check_status": "1",
        "check_num_fd": "31",
        "check_itog": "15000",
        "check_shift": "",
        "check_num_fp": 1879546968,
        "check_qr_code_img_b64": None,
    }
    status = parse_status(obj)
    assert (status.check_status, status.check_num_fd, status.check_itog) == (1, 31, 15000)
    assert status.check_shift is None
    assert status.check_num_fp == "1879546968"
    assert status.qr_png is None


@pytest.mark.parametrize(("code", "flag"), [(0, "pending"), (2, "failed"), (3, "debug")])
def test_other_states(code: int, flag: str) -> None:
    obj = {
        "check_nuid": NUID,
        "check_qnuid": QNUID,
        "check_status": code,
        "error_code": "340" if code == 2 else None,
        "error_text": "FN exhausted" if code == 2 else None,
    }
    status = parse_status(obj)
    assert getattr(status, flag)
    assert status.final is (code != 0)
    assert status.fiscal_datetime is None
    if code == 2:
        assert (status.error_code, status.error_text) == (340, "FN exhausted")


def test_status_404_and_garbage() -> None:
    with pytest.raises(StatusNotFound):
        parse_status_answer(404, body({"status": "error", "error": "not found"}))
    with pytest.raises(ProtocolError, match="HTTP 503: unexpected status answer"):
        parse_status_answer(503, b"down")
    with pytest.raises(ProtocolError, match="no numeric check_status"):
        parse_status_answer(200, body({"check_nuid": NUID}))


def test_status_equality_ignores_raw() -> None:
    a = parse_status(FISCALIZED)
    b = parse_status({**FISCALIZED, "unknown_extra": 1})
    assert a == b
    assert isinstance(a, Status)


def test_unknown_status_word_is_derived_from_the_code() -> None:
    assert parse_answer(200, body({"status": 1, "code": "800", "success": "ok"})).status == "success"
    assert parse_answer(200, body({"status": "weird", "code": "320", "error": "no"})).status == "error"


def test_status_code_000_is_no_error_and_the_new_fields_are_read() -> None:
    obj = {
        **FISCALIZED,
        "status_code": "000",
        "error_code": "000",
        "error_text": "",
        "check_name": "Кассовый чек",
        "check_dt_ofdtime": "",
        "check_kkt_operator": "https://kassa.example.com",
        "check_site_fns": "www.nalog.gov.ru",
        "check_qr_code_img_url": f"https://kassa.example.com/v1/qr.png?nuid={NUID}&qnuid={QNUID}",
        "check_qr_code_nano_url": f"https://kassa.example.com/check?nuid={NUID}&qnuid={QNUID}",
    }
    status = parse_status(obj)
    assert (status.error_code, status.status_code, status.check_name) == (None, "000", "Кассовый чек")
    assert status.check_qr_code_nano_url == obj["check_qr_code_nano_url"]
    failed = parse_status({**obj, "check_status": 2, "status_code": "60", "error_code": "60"})
    assert (failed.failed, failed.error_code, failed.status_code) == (True, 60, "60")
