"""The listening socket of ``serve`` and ``cashbox``: bound before anything else starts,
so that an address in use fails the command at once, and handed to uvicorn, which says
"serving on" only once it accepts connections on it."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

import uvicorn

#: Connections the kernel queues while the server starts or is busy (uvicorn's default).
BACKLOG = 2048


class ListenError(RuntimeError):
    """The address cannot be listened on; the message says which and why."""


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; :class:`ListenError` when the
    address is in use or cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Bind again at once after a stop (connections in TIME_WAIT); a listening socket
        # of another process still makes the bind fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ListenError(f"address {host}:{port} is in use") from None
        raise ListenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    except BaseException:
        sock.close()
        raise
    return sock


class Server(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()
