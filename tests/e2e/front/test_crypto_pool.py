"""The crypto worker processes hold the private keys: they must not outlive a server that
is killed without shutting its pool down (kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from front_support import seed_keys

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from kassagate.config import load_settings
    from kassagate.front.context import FrontContext

    async def main():
        ctx = await FrontContext.open(load_settings(data_dir=sys.argv[1]), crypto_workers=2)
        pids = list(ctx.crypto._pool._processes)
        print(" ".join(str(p) for p in pids), flush=True)
        await asyncio.sleep(600)

    if __name__ == "__main__":
        asyncio.run(main())
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_workers_exit_when_the_server_is_killed(tmp_path: Path) -> None:
    seed_keys(tmp_path)
    script = tmp_path / "server.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KASSAGATE_RSA_BITS="2048")
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
