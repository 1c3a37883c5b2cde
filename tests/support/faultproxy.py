"""A TCP proxy for HTTP/1.1 that injects the faults of a network between a worker and a
register: an answer lost after the request was delivered, then a register that refuses
connections for a while.

``FaultProxy(upstream_port)`` listens on a port of its own and forwards each request
(``Content-Length`` bodies, as the Cashbox client sends) to the upstream server and its
answer back. ``lose_next(path, when)`` arms a fault: the next request to ``path`` whose
upstream answer satisfies ``when`` is delivered and answered upstream, but the client's
connection is then reset instead of receiving the answer; from that moment the proxy
refuses connections for ``refuse_seconds`` (it stops listening and drops every open
connection), then listens again and forwards as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Fault:
    path: str
    when: Callable[[bytes], bool]
    refuse_seconds: float


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP/1.1 message with a Content-Length body (or none)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head, body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as a dropped connection looks to the client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = (host, upstream_port)
        self.host = host
        self.port = port
        self.lost = 0  # answers lost so far
        self.forwarded: list[str] = []  # request paths answered through the proxy
        self._fault: _Fault | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._reopen: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopen
        await self._stop_listening()

    def lose_next(self, path: str, *, when: Callable[[bytes], bool] = lambda _: True,
                  refuse_seconds: float = 0.0) -> None:
        self._fault = _Fault(path, when, refuse_seconds)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        for w in list(self._writers):
            _reset(w)
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _refuse_for(self, seconds: float) -> None:
        await self._stop_listening()
        await asyncio.sleep(seconds)
        await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            while True:
                head, body = await _read_message(reader)
                path = head.split(b" ", 2)[1].decode("latin-1")
                up_writer.write(head + body)
                await up_writer.drain()
                answer_head, answer_body = await _read_message(up_reader)
                fault = self._fault
                if fault is not None and path == fault.path and fault.when(answer_body):
                    self._fault = None
                    self.lost += 1
                    _reset(writer)
                    if fault.refuse_seconds > 0:
                        self._reopen = asyncio.create_task(self._refuse_for(fault.refuse_seconds))
                    return
                self.forwarded.append(path)
                writer.write(answer_head + answer_body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError, IndexError):
            pass
        finally:
            self._writers.discard(writer)
            if up_writer is not None:
                up_writer.close()
            writer.close()
