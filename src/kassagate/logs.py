"""Logging for the kassagate processes: one line per record on standard error, as text or
as one JSON object a line (``KASSAGATE_LOG_FORMAT=json``).

Every line written while a request is handled carries its request id: the front server
sets it per HTTP request (:func:`begin_request`), and the processing of a request handed
over in the same process runs in a copy of that context, so its lines carry the same id.
Structured values of a line (``path``, ``code``, ``duration_ms``, ``kassaid``, …) are passed
as ``extra={"fields": {...}}``: the JSON format writes them as keys of the object, the text
format as ``key=value`` after the message.

Secrets never reach a log because no code logs them (tokens, private keys, merchant IDs,
callback secrets and URLs, receipts' contact data); the tests of each adapter check it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

import msgspec

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")

#: A request id a client may choose (``X-Request-ID``); anything else is replaced by ours.
REQUEST_ID_RE = re.compile(rb"[A-Za-z0-9._:\-]{1,64}")


@dataclass(slots=True)
class Trace:
    """What the log lines of one request share: its id, and the kassa once it is known."""

    request_id: str
    kassaid: str | None = None
    #: The stored request's id (the ``request N`` of processing's lines), once accepted.
    stored_id: int | None = None


_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("kassagate_trace", default=None)


def new_request_id() -> str:
    return os.urandom(8).hex()


def begin_request(header: bytes | None = None) -> Trace:
    """Start the trace of one HTTP request: its id is the client's ``X-Request-ID`` when it
    is a plain token of at most 64 characters, else a new random one."""
    rid = header.decode("ascii") if header and REQUEST_ID_RE.fullmatch(header) else new_request_id()
    trace = Trace(rid)
    _trace.set(trace)
    return trace


def current_trace() -> Trace | None:
    return _trace.get()


def use_trace(trace: Trace | None) -> None:
    """Run the rest of this context (a task) under ``trace``."""
    _trace.set(trace)


class _TraceFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        trace = _trace.get()
        record.request_id = trace.request_id if trace is not None else None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        extra = []
        if rid and not (fields and "request_id" in fields):
            extra.append(f"request_id={rid}")
        if fields:
            extra.extend(f"{k}={v}" for k, v in fields.items() if v is not None)
        if not extra:
            return line
        head, sep, tail = line.partition("\n")  # a traceback stays below the line
        return f"{head} {' '.join(extra)}{sep}{tail}"


_json = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` when there is one, the line's fields, and ``exc`` (a traceback) when one
    was logged."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        fields = getattr(record, "fields", None)
        if fields:
            for key, value in fields.items():
                if value is not None:
                    out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _json.encode(out).decode()


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    if getattr(root, "_kassagate_configured", False):
        root.setLevel(level)
        for handler in root.handlers:
            if getattr(handler, "_kassagate", False):
                handler.setFormatter(formatter(fmt))
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(_TraceFilter())
    handler._kassagate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that would log request URLs or SQL parameters stay quiet below WARNING.
    for noisy in ("httpx", "httpcore", "sqlalchemy.engine", "aiosqlite", "asyncio", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._kassagate_configured = True  # type: ignore[attr-defined]


def configure_from_env(env: dict[str, str] | None = None) -> None:
    """``KASSAGATE_LOG_LEVEL`` and ``KASSAGATE_LOG_FORMAT`` (for commands without settings)."""
    env = dict(os.environ) if env is None else env
    fmt = (env.get("KASSAGATE_LOG_FORMAT") or "text").lower()
    configure_logging((env.get("KASSAGATE_LOG_LEVEL") or "INFO").upper(), fmt if fmt in FORMATS else "text")
