"""Limits on what one HTTP client can make a server hold (``docs/operations.md``).

uvicorn with httptools reads a request's headers without any bound on their size or on
the time they take, and waits for a body as long as the client likes. The servers of
kassagate (``serve``, ``cashbox``) run uvicorn with :func:`limited_protocol`, its
httptools protocol with these limits added (:class:`kassagate.config.HttpLimits`, set by
``KASSAGATE_MAX_HEADER_BYTES``, ``KASSAGATE_MAX_HEADERS``, ``KASSAGATE_HEADER_TIMEOUT``,
``KASSAGATE_BODY_TIMEOUT``, ``KASSAGATE_MAX_CONNECTIONS``):

- the request line and headers together at most ``max_header_bytes`` bytes and
  ``max_headers`` header lines (else HTTP 431, and the connection is closed);
- the headers complete within ``header_timeout`` seconds of a new connection or of the
  first byte of a following request on a kept-alive connection (else HTTP 408 and close);
- the body complete within ``body_timeout`` seconds of the end of the headers (else HTTP
  408 and close; the application sees the client gone and answers nothing);
- at most ``max_connections`` open connections (one more is answered HTTP 503 and closed).

Each refusal carries a JSON body that says what was over which limit. An idle kept-alive
connection is closed by uvicorn after ``timeout_keep_alive`` (5 s). The servers run with
``ws="none"``: no connection is handed over to a WebSocket protocol, which these timers
would not follow.
"""

from __future__ import annotations

import asyncio
import http
import logging
from collections.abc import Callable
from typing import Any

import httptools
import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kassagate.config import HttpLimits

log = logging.getLogger("kassagate.http")

#: ``answer(http_status, message)``: the body of a refusal.
Answer = Callable[[int, str], bytes]


def json_answer(status: int, message: str) -> bytes:
    """``{"status": "error", "error": message}``: the front server's form."""
    return msgspec.json.encode({"status": "error", "error": message})


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a refused request."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HttpLimits`; made by :func:`limited_protocol`."""

    limits: HttpLimits = HttpLimits()
    answer: Answer = staticmethod(json_answer)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request line and headers (or waiting for one)
        self._head_bytes = 0  # bytes read while no head was complete
        self._heads = 0  # heads completed on this connection
        self._header_count = 0
        self._parsed_bytes = 0  # the URL and header lines of the current head, as parsed
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the connection ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, f"the server holds its maximum of {self.limits.max_connections} connections; retry")
            return
        self._arm(self.limits.header_timeout, "the request line and headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._in_head and self._timer is None:
            self._arm(self.limits.header_timeout, "the request line and headers")
        heads, in_head = self._heads, self._in_head
        try:
            self.parser.feed_data(data)
        except _Refused:
            return
        except httptools.HttpParserError:
            if self._refused:
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # The parser keeps an unfinished header line in memory: what was read while no head
        # completed is bounded (by the limit plus one read, at most 256 KiB). Counted: reads
        # that began and ended inside a head (a read that ends a body and begins the next
        # head is not, which leaves that head one read more).
        if in_head and self._in_head and heads == self._heads and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"the request line and headers exceed {self.limits.max_header_bytes} bytes")

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._header_count = 0
        self._parsed_bytes = 0
        super().on_message_begin()

    def _count_parsed(self, n: int) -> None:
        """What the parser hands over (the URL, each header line) counts exactly, however
        the head arrived: a whole head in one read is held to the limit too."""
        self._parsed_bytes += n
        if self._parsed_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"the request line and headers exceed {self.limits.max_header_bytes} bytes")
            raise _Refused

    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(431, f"the request has more than {self.limits.max_headers} header lines")
            raise _Refused
        self._count_parsed(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._heads += 1
        self._disarm()
        super().on_headers_complete()
        if not self._refused:
            self._arm(self.limits.body_timeout, "the request body")

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        if not self._refused:
            super().on_message_complete()

    # -- refusals ----------------------------------------------------------------------

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out, seconds, what)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, seconds: float, what: str) -> None:
        self._timer = None
        if self._in_head and self.cycle is not None and not self.cycle.response_complete:
            # The next request's head arrived while this one's answer is still being made:
            # its time starts when the answer is out.
            self._arm(seconds, what)
            return
        self._refuse(408, f"{what} did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` (unless an answer has started) and close the connection."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        log.debug("HTTP %d: %s", status, message)
        cycle = self.cycle
        # While a head is read, the cycle (if any) is the previous request's: its answer
        # may still be going out. While a body is read, it is this request's.
        if cycle is None:
            can_answer = True
        elif self._in_head:
            can_answer = cycle.response_complete
        else:
            can_answer = not cycle.response_started
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's receive() now says the client left
            cycle.message_event.set()
        if can_answer and not self.transport.is_closing():
            body = self.answer(status, message)
            head = (
                f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
                "content-type: application/json\r\n"
                f"content-length: {len(body)}\r\n"
                "connection: close\r\n\r\n"
            )
            self.transport.write(head.encode("ascii") + body)
        self.transport.close()


def limited_protocol(limits: HttpLimits, answer: Answer = json_answer) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give uvicorn (``uvicorn.Config(http=...)``)."""
    return type(
        "LimitedHttpToolsProtocol",
        (LimitedHttpToolsProtocol,),
        {"limits": limits, "answer": staticmethod(answer)},
    )
