"""Run kassagate's own commands as real processes, for end-to-end and kill -9 tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kassagate_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {"KASSAGATE_DATA_DIR": str(data_dir), "KASSAGATE_RSA_BITS": os.environ.get("KASSAGATE_RSA_BITS", "2048")}
    )
    env.update(extra)
    return env


def run_cli(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``kassagate ARGS`` with the data dir set; raises with its output when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "kassagate", *args],
        env=env or kassagate_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kassagate {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


class Process:
    """A long-running ``kassagate`` command (serve, worker, cashbox) on a port of its own."""

    def __init__(
        self, args: list[str], *, env: dict[str, str], ready_url: str | None, log_path: Path, session: bool = False
    ) -> None:
        """``session``: run in a process group of its own, as a terminal's foreground job
        (:meth:`interrupt` then sends Ctrl-C's SIGINT to the whole group)."""
        self.args = args
        self.session = session
        self.env = env
        self.ready_url = ready_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Process:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kassagate", *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=self.session,
        )
        log.close()
        if self.ready_url:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.ready_url, timeout=1.0)
                if r.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.args[0]} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def interrupt(self) -> None:
        """Ctrl-C on a terminal: SIGINT to every process of the group (a ``session`` one)."""
        assert self.proc is not None and self.session
        os.killpg(self.proc.pid, signal.SIGINT)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
