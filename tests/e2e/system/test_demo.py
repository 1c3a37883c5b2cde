"""``kassagate serve --demo``: the snippet it prints is pasted into a shell, as printed, and
sends a first receipt that gets its fiscal data."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from kassagate.core.codes import FrontCode
from support.system import Process, free_port, kassagate_env, run_cli

# From the line that starts the heredoc to its closing line, both at the start of a line.
SNIPPET = re.compile(r"^(\S[^\n]* - <<'(\w+)'\n.*?^\2)$", re.MULTILINE | re.DOTALL)


def wait_for_snippet(server: Process, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if m := SNIPPET.search(server.log()):
            return m.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no snippet in the demo's output:\n{server.log()}")


def test_the_printed_snippet_runs_as_pasted_and_gets_the_fiscal_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = kassagate_env(data_dir)
    server = Process(
        ["serve", "--demo", "--port", str(port)],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=tmp_path / "serve.log",
    ).start(timeout=120)
    try:
        snippet = wait_for_snippet(server)
        assert not any(line.startswith((" ", "\t")) for line in snippet.splitlines()[:2])
        # run from another directory, as a second terminal would be: nothing relies on the cwd
        done = subprocess.run(["bash", "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        first, status = done.stdout.splitlines()[:2]
        assert int(first.split()[0]) == FrontCode.ACCEPTED_NO_RID, done.stdout  # the snippet sends no RID
        assert "check_status=1" in status, done.stdout
        fd = int(re.search(r"check_num_fd=(\d+)", status).group(1))  # type: ignore[union-attr]
        journal = [json.loads(x) for x in run_cli("kkt", "journal", "100001", data_dir=data_dir, env=env).stdout
                   .splitlines() if x.strip()]
        assert fd in [e["fd"] for e in journal if e.get("docNumber")]
    finally:
        server.stop()
