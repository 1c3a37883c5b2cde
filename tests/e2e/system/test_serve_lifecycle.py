"""Starting and stopping ``kassagate serve`` as an operator at a terminal does: Ctrl-C
stops it cleanly."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
