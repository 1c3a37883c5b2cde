"""A running kassagate (``kassagate serve`` as a real process, virtual registers) that the
compatibility tests talk to over HTTP exactly as existing clients of the protocol do."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from kassagate.cashbox.journal import Journal
from kassagate.core.register.model import Doc
from support.front import PublishedKeys, envelope
from support.system import Process, free_port, kassagate_env, run_cli

#: Kassas the tests use (one each, so that a register's journal holds one test's documents).
KASSAS = ("701", "702", "703", "704", "705", "706", "707", "708", "709", "710", "711", "712")
DEBUG_KASSA = "790"


def token_of(kassaid: str) -> str:
    return f"compat-token-{kassaid}"


@dataclass
class Installation:
    url: str
    data_dir: Path
    keys: PublishedKeys
    http: httpx.Client
    server: Process

    def send(self, receipt: dict[str, Any], *, path: str = "/srv/igd.php", **layer2: Any) -> dict[str, Any]:
        """Encrypt ``receipt`` as the clients do and POST it."""
        kassaid = str(receipt["kassaid"])
        body = envelope(self.keys, receipt, kassaid=kassaid, token=receipt["kassatoken"], **layer2)
        answer = self.http.post(self.url + path, json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def status(self, nuid: str, qnuid: str) -> httpx.Response:
        """The status as the plugin polls it: ``/getfp`` with an extra ``auth=base``."""
        return self.http.get(self.url + "/getfp", params={"nuid": nuid, "qnuid": qnuid, "auth": "base"})

    def wait_final(self, nuid: str, qnuid: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            r = self.status(nuid, qnuid)
            assert r.status_code == 200, r.text
            st = dict(r.json())
            if st["check_status"] != 0 or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def stored_receipt(self, nuid: str) -> dict[str, Any]:
        """The receipt as kassagate keeps it with the request."""
        with sqlite3.connect(self.data_dir / "kassagate.sqlite3") as conn:
            (text,) = conn.execute("SELECT receipt FROM requests WHERE nuid = ?", (nuid,)).fetchone()
        return dict(msgspec.json.decode(text))

    def register_document(self, kassaid: str, fd: int) -> Doc:
        """The document with FD number ``fd`` in the journal of the kassa's virtual register."""
        with sqlite3.connect(self.data_dir / "kassagate.sqlite3") as conn:
            (rel,) = conn.execute(
                "SELECT k.journal_path FROM kkts k JOIN kassas a ON a.kkt_id = k.id WHERE a.kassaid = ?", (kassaid,)
            ).fetchone()
        journal = Journal(self.data_dir / rel)
        try:
            doc = journal.by_fd(fd)
        finally:
            journal.close()
        assert doc is not None, f"no FD {fd} in the journal of kassa {kassaid}"
        return doc


@pytest.fixture(scope="session")
def kassagate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    data_dir = tmp_path_factory.mktemp("compat") / "data"
    data_dir.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = kassagate_env(
        data_dir, KASSAGATE_RETRY_BASE_SECONDS="0.05", KASSAGATE_RETRY_BUDGET="3", KASSAGATE_PUBLIC_URL=url
    )
    for kassaid in KASSAS:
        run_cli("kassa", "add", kassaid, "--token", token_of(kassaid), data_dir=data_dir, env=env)
    run_cli("kassa", "add", DEBUG_KASSA, "--token", token_of(DEBUG_KASSA), "--debug", data_dir=data_dir, env=env)
    server = Process(
        ["serve", "--port", str(port)], env=env, ready_url=f"{url}/v1/keys", log_path=data_dir.parent / "serve.log"
    ).start(timeout=120)
    try:
        with httpx.Client(timeout=30) as http:
            keys = PublishedKeys.from_json(http.get(url + "/v1/keys").json())
            yield Installation(url, data_dir, keys, http, server)
    finally:
        server.stop()
