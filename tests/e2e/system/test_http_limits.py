"""HTTP limits of ``kassagate serve`` and ``kassagate cashbox``, through real sockets: an
oversized header line or too many headers get 431 and the connection closed (without the
server reading them whole); slow headers and a body that never ends are cut off (408);
connections over the cap are refused (503); valid requests are served throughout; answers
outside the intake table (unknown path, wrong method) are JSON."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from support.system import Process, free_port, kassagate_env

LIMITS = {
    "KASSAGATE_MAX_HEADER_BYTES": "8192",
    "KASSAGATE_MAX_HEADERS": "50",
    "KASSAGATE_HEADER_TIMEOUT": "1",
    "KASSAGATE_BODY_TIMEOUT": "1",
    "KASSAGATE_MAX_CONNECTIONS": "40",
}


@pytest.fixture(scope="module", params=["serve", "cashbox"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    kind = request.param
    data_dir = tmp_path_factory.mktemp(f"limits-{kind}") / "data"
    data_dir.mkdir()
    port = free_port()
    env = kassagate_env(data_dir, **LIMITS)
    args = ["serve", "--port", str(port)] if kind == "serve" else ["cashbox", "--port", str(port)]
    ready = f"http://127.0.0.1:{port}/v1/keys" if kind == "serve" else f"http://127.0.0.1:{port}/get_info"
    proc = Process(args, env=env, ready_url=ready, log_path=data_dir.parent / f"{kind}.log").start(timeout=120)
    try:
        yield kind, port
    finally:
        proc.stop()


def valid_request_served(kind: str, port: int) -> None:
    """A valid request gets its answer at once."""
    t0 = time.monotonic()
    if kind == "serve":
        r = httpx.get(f"http://127.0.0.1:{port}/v1/keys", timeout=5)
        assert r.status_code == 200 and "rsa_first" in r.json()
    else:
        r = httpx.post(f"http://127.0.0.1:{port}/get_info", content=b"data=&sign=", timeout=5)
        assert r.status_code == 200 and "code" in r.json()
    assert time.monotonic() - t0 < 2.0


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def read_answer(s: socket.socket, timeout: float) -> tuple[int | None, bytes, float]:
    """(HTTP status or None, body, seconds until the server closed the connection)."""
    s.settimeout(timeout)
    t0 = time.monotonic()
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := s.recv(65536):
            data += chunk
    took = time.monotonic() - t0
    if not data:
        return None, b"", took
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, took


def test_a_huge_header_line_is_refused_without_being_read_whole(server: tuple[str, int]) -> None:
    kind, port = server
    s = connect(port)
    s.sendall(b"POST /sale HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    chunk = b"a" * 65536
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        while sent < 64 * 1024 * 1024:
            s.sendall(chunk)
            sent += len(chunk)
    assert sent < 64 * 1024 * 1024, "the server read a 64 MiB header line"
    status, body, took = read_answer(s, 10)
    s.close()
    assert status == 431 and took < 5
    assert "8192 bytes" in json.loads(body)["error" if kind == "serve" else "message"]
    valid_request_served(kind, port)


@pytest.mark.parametrize("over", [-200, 200])
def test_a_head_in_one_read_is_held_to_the_byte_limit(server: tuple[str, int], over: int) -> None:
    """A whole head arriving at once counts exactly: just under the limit is served, just
    over it is refused with 431."""
    kind, port = server
    limit = int(LIMITS["KASSAGATE_MAX_HEADER_BYTES"])
    path = "/v1/keys" if kind == "serve" else "/get_info"
    start = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
    s = connect(port)
    s.sendall((start + "a" * (limit + over - len(start)) + "\r\n\r\n").encode())
    status, _, _ = read_answer(s, 10)
    s.close()
    assert status == (431 if over > 0 else 200)
    valid_request_served(kind, port)


def test_too_many_headers_are_refused(server: tuple[str, int]) -> None:
    kind, port = server
    s = connect(port)
    headers = "".join(f"X-H{i}: {i}\r\n" for i in range(60))
    s.sendall(f"GET /v1/keys HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    status, body, _ = read_answer(s, 10)
    s.close()
    assert status == 431 and b"50 header lines" in body
    valid_request_served(kind, port)


def test_a_body_that_never_ends_is_cut_off(server: tuple[str, int]) -> None:
    kind, port = server
    s = connect(port)
    path = "/v1/fiscalize" if kind == "serve" else "/sale"
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n".encode())
    status, body, took = read_answer(s, 15)
    s.close()
    assert status == 408 and b"body" in body
    assert took < 6
    valid_request_served(kind, port)


def test_trickling_headers_are_cut_off_and_valid_requests_served_meanwhile(server: tuple[str, int]) -> None:
    kind, port = server
    socks = [connect(port) for _ in range(30)]
    closed_after: list[float] = []
    stop = threading.Event()

    def trickle(s: socket.socket) -> None:
        t0 = time.monotonic()
        s.settimeout(0.2)
        try:
            s.sendall(b"GET /v1/keys HTTP/1.1\r\n")
            while not stop.is_set() and time.monotonic() - t0 < 15:
                s.sendall(b"X")  # one byte of a header line every 0.2 s
                with contextlib.suppress(TimeoutError):
                    if s.recv(65536) == b"":
                        break
        except OSError:
            pass
        closed_after.append(time.monotonic() - t0)

    threads = [threading.Thread(target=trickle, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    try:
        valid_request_served(kind, port)
        for t in threads:
            t.join(20)
    finally:
        stop.set()
        for s in socks:
            s.close()
    assert len(closed_after) == 30 and max(closed_after) < 6, closed_after
    valid_request_served(kind, port)


def test_connections_over_the_cap_are_refused_until_others_end(server: tuple[str, int]) -> None:
    kind, port = server
    idle = [connect(port) for _ in range(40)]
    try:
        time.sleep(0.2)
        extra = connect(port)
        status, _, _ = read_answer(extra, 5)
        extra.close()
        assert status == 503
    finally:
        for s in idle:
            s.close()
    time.sleep(0.3)
    valid_request_served(kind, port)


def test_answers_outside_the_table_are_json(server: tuple[str, int]) -> None:
    kind, port = server
    url = f"http://127.0.0.1:{port}"
    if kind == "cashbox":
        # The register answers every path and method in its own terms (docs/cashbox.md).
        r = httpx.post(url + "/no_such_endpoint", content=b"{}", timeout=5)
        assert r.json()["code"] == 9 and r.json()["status"] == "error" and "/sale" in r.json()["message"]
        for method in ("GET", "PUT"):
            r = httpx.request(method, url + "/sale", timeout=5)
            assert r.json()["code"] == 2 and r.json()["status"] == "error" and method in r.json()["message"]
        return
    r = httpx.get(url + "/v1/fiscalize", timeout=5)
    assert r.status_code == 405 and r.json()["code"] == "90" and r.json()["status"] == "error"
    r = httpx.put(url + "/v1/fiscalize/cluster", timeout=5)
    assert r.status_code == 405 and r.json()["code"] == "150"
    r = httpx.get(url + "/no/such/path", timeout=5)
    assert r.status_code == 404 and r.json()["status"] == "error" and "/v1/fiscalize" in r.json()["error"]
    r = httpx.post(url + "/v1/keys", timeout=5)
    assert r.status_code == 405 and r.json()["status"] == "error" and "GET" in r.json()["error"]


def test_a_large_body_and_a_head_sent_in_pieces_are_served(server: tuple[str, int]) -> None:
    kind, port = server
    path = "/v1/fiscalize" if kind == "serve" else "/sale"
    body = json.dumps({"aab": "A" * 200_000, "dde": "B"}).encode()  # far over the header limit
    s = connect(port)
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(0, len(head), 7):  # the head in small pieces, the body at once
        s.sendall(head[i:i + 7].encode())
        time.sleep(0.001)
    s.sendall(body)
    status, answer, _ = read_answer(s, 10)
    s.close()
    assert status == 200, answer[:200]
