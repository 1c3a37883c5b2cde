"""``kassagate serve`` stopped with SIGTERM shuts down cleanly: it exits with 0 after its
cleanup, and leaves none of its processes (the crypto pool holding the private keys) behind."""

from __future__ import annotations

import time
from pathlib import Path

from support.proc_tree import alive, descendants
from support.system import Process, kassagate_env


def test_sigterm_stops_serve_and_its_crypto_processes(tmp_path: Path, data_dir: Path, port: int) -> None:
    env = kassagate_env(data_dir, KASSAGATE_LOG_LEVEL="WARNING")
    server = Process(["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/v1/keys",
                     log_path=tmp_path / "serve.log")
    server.start(60.0)
    assert server.proc is not None
    children = descendants(server.proc.pid)
    assert children, "serve runs its crypto pool in processes of its own"
    server.stop()
    assert server.proc.returncode == 0, f"serve did not exit cleanly ({server.proc.returncode}):\n{server.log()}"
    deadline = time.monotonic() + 10
    while any(alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if alive(p)], "processes of serve still running after it stopped"
