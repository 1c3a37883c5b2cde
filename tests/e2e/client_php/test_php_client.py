"""The PHP client library (``clients/php/``) against real ``kassagate serve`` processes.

Runs the library's own suite (``php clients/php/tests/run.php``) with two servers: one
that fiscalizes, and one without processing (``--no-workers``) whose requests stay pending.
The ``php`` fixture (``conftest.py``) skips or, under ``KASSAGATE_REQUIRE_PHP=1``, fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.system import Process, free_port, kassagate_env, run_cli

PHP_CLIENT = Path(__file__).resolve().parents[3] / "clients" / "php"


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    kassaid: str
    token: str


def start_server(tmp: Path, name: str, *extra: str) -> tuple[Process, Server]:
    data_dir = tmp / name
    data_dir.mkdir()
    port = free_port()
    env = kassagate_env(data_dir)
    process = Process(
        ["serve", "--port", str(port), *extra],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=tmp / f"{name}.log",
    ).start(timeout=120)
    kassaid, token = ("601", "token-of-php-kassa-601") if name == "fiscalizing" else ("602", "token-of-php-kassa-602")
    run_cli("kassa", "add", kassaid, "--token", token, data_dir=data_dir, env=env)
    return process, Server(f"http://127.0.0.1:{port}", data_dir, env, kassaid, token)


@pytest.fixture(scope="module")
def servers(php: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("php-client")
    processes: list[Process] = []
    try:
        first, fiscalizing = start_server(tmp, "fiscalizing")
        processes.append(first)
        second, pending = start_server(tmp, "pending", "--no-workers")
        processes.append(second)
        yield fiscalizing, pending
    finally:
        for process in processes:
            process.stop()


def registered_tests() -> int:
    """How many tests the PHP suite registers (each ``$t->test(`` call)."""
    return sum(len(re.findall(r"\$t->test\(", p.read_text())) for p in (PHP_CLIENT / "tests").glob("*Test.php"))


def test_php_client_suite_against_a_real_server(php: str, servers: tuple[Server, Server]) -> None:
    fiscalizing, pending = servers
    env = dict(os.environ)
    env.update(
        KASSAGATE_URL=fiscalizing.url,
        KASSAGATE_KASSAID=fiscalizing.kassaid,
        KASSAGATE_TOKEN=fiscalizing.token,
        KASSAGATE_PENDING_URL=pending.url,
        KASSAGATE_PENDING_KASSAID=pending.kassaid,
        KASSAGATE_PENDING_TOKEN=pending.token,
    )
    result = subprocess.run(
        [php, str(PHP_CLIENT / "tests" / "run.php")],
        cwd=PHP_CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.strip().splitlines()
    match = re.fullmatch(r"(\d+) passed, 0 failed", lines[-1])
    assert match, output
    assert int(match.group(1)) == registered_tests(), output  # every test ran, none skipped
    assert not any(line.startswith("skip ") for line in lines), output

    # The fiscal data the PHP client read back are the register's own.
    [reported] = [json.loads(line.removeprefix("FISCALIZED ")) for line in lines if line.startswith("FISCALIZED ")]
    journal = run_cli("kkt", "journal", fiscalizing.kassaid, data_dir=fiscalizing.data_dir, env=fiscalizing.env).stdout
    entries = [json.loads(line) for line in journal.splitlines() if line.strip()]
    [entry] = [e for e in entries if e.get("docNumber") == reported["nuid"]]
    assert (reported["fd"], int(reported["fp"]), reported["total"]) == (
        entry["fd"],
        int(entry["fiscalSign"]),
        entry["amount"],
    )
    assert f"&i={entry['fd']}&fp={int(entry['fiscalSign'])}&n=1" in reported["qr"]


def test_php_client_suite_without_a_server_runs_the_offline_tests(php: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSAGATE_")}
    result = subprocess.run(
        [php, str(PHP_CLIENT / "tests" / "run.php")],
        cwd=PHP_CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    skipped = sum(1 for line in lines if line.startswith("skip server: "))
    assert skipped == len(re.findall(r"\$t->test\(", (PHP_CLIENT / "tests" / "ServerTest.php").read_text()))
    assert lines[-1] == f"{registered_tests() - skipped} passed, 0 failed"
