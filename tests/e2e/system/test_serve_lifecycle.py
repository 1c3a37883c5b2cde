"""Starting and stopping ``kassagate serve`` and ``kassagate cashbox`` as an operator at a
terminal does: Ctrl-C stops serve cleanly, an address in use fails the command at once,
"serving on" is said once the port answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.system import Process, free_port, kassagate_env


def test_ctrl_c_stops_serve_cleanly(tmp_path: Path) -> None:
    port = free_port()
    server = Process(
        ["serve", "--port", str(port)],
        env=kassagate_env(tmp_path / "data"),
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=tmp_path / "serve.log",
        session=True,
    ).start(timeout=120)
    assert server.proc is not None
    try:
        server.interrupt()  # the server and its crypto workers all get SIGINT
        assert server.proc.wait(10) == 0, server.log()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"serve still running 10 s after Ctrl-C:\n{server.log()}") from None
    finally:
        server.stop()
    out = server.log()
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert "starting another" not in out, out
    assert "kassagate stopped" in out, out


COMMANDS = {
    # command: a request it answers once it serves
    "serve": ("GET", "/v1/keys"),
    "cashbox": ("POST", "/get_info"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_address_in_use_fails_at_once_saying_so(tmp_path: Path, command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "kassagate", command, "--port", str(port), "--data-dir", str(tmp_path / "data")],
            env=kassagate_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"address 127.0.0.1:{port} is in use" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert took < 3, f"{command} took {took:.1f} s to report the address in use"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_serving_on_is_said_once_the_port_answers(tmp_path: Path, command: str) -> None:
    method, path = COMMANDS[command]
    port = free_port()
    server = Process(
        [command, "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=kassagate_env(tmp_path / "data"),
        ready_url=None,
        log_path=tmp_path / f"{command}.log",
    ).start()
    try:
        deadline = time.monotonic() + 120
        while f"serving on http://127.0.0.1:{port}" not in server.log():
            assert server.proc is not None and server.proc.poll() is None, server.log()
            assert time.monotonic() < deadline, f"no 'serving on' line:\n{server.log()}"
            time.sleep(0.02)
        # at once, no retry: the server already answers
        answer = httpx.request(method, f"http://127.0.0.1:{port}{path}", content=b"" if method == "POST" else None,
                               timeout=5)
        assert answer.status_code < 500, answer.text
    finally:
        server.stop()
