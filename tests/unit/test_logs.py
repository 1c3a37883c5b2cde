"""Log formats: JSON (one object a line) and text, with the request id and the fields."""

from __future__ import annotations

import contextvars
import json
import logging

from kassagate.logs import JsonFormatter, TextFormatter, _TraceFilter, begin_request


def record(msg: str, *args: object, fields: dict[str, object] | None = None, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    rec = logging.LogRecord("kassagate.test", logging.INFO, __file__, 1, msg, args, exc_info)
    if fields is not None:
        rec.fields = fields
    _TraceFilter().filter(rec)
    return rec


def in_request(header: bytes | None, fn: object) -> object:
    def run() -> object:
        begin_request(header)
        return fn()  # type: ignore[operator]

    return contextvars.copy_context().run(run)


def test_json_line_parses_with_request_id_and_fields() -> None:
    rec = in_request(b"abc-123", lambda: record("request %s fiscalized", 7, fields={"request": 7, "kassaid": "1",
                                                                                   "code": None}))
    line = JsonFormatter().format(rec)  # type: ignore[arg-type]
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["message"] == "request 7 fiscalized" and obj["level"] == "INFO" and obj["logger"] == "kassagate.test"
    assert obj["request_id"] == "abc-123" and obj["request"] == 7 and obj["kassaid"] == "1"
    assert "code" not in obj and obj["time"].endswith("+00:00")


def test_json_traceback_stays_in_the_object() -> None:
    line = JsonFormatter().format(record("failed", exc=True))
    obj = json.loads(line)
    assert "\n" not in line and "ValueError: boom" in obj["exc"] and "request_id" not in obj


def test_text_line_has_the_fields_after_the_message() -> None:
    rec = in_request(None, lambda: record("intake", fields={"path": "/v1/fiscalize", "code": 820}))
    line = TextFormatter().format(rec)  # type: ignore[arg-type]
    head = line.split(" INFO kassagate.test: ")[1]
    rid = head.split("request_id=")[1].split(" ")[0]
    assert head == f"intake request_id={rid} path=/v1/fiscalize code=820" and len(rid) == 16


def test_a_client_request_id_is_kept_only_when_plain() -> None:
    assert in_request(b"ok.id:1-2_3", lambda: begin_request(b"ok.id:1-2_3").request_id) == "ok.id:1-2_3"
    for bad in (b"", b"a b", b"x" * 65, b"\xff", b"a\nb"):
        rid = in_request(bad, lambda b=bad: begin_request(b).request_id)  # type: ignore[misc]
        assert rid != bad.decode("latin-1") and len(rid) == 16  # type: ignore[arg-type]
