"""Forwarded headers are believed only from ``KASSAGATE_TRUSTED_PROXIES``: behind a TLS proxy
the links in a status answer take the proxy's scheme; from anyone else they are ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kassagate.client import KassaClient
from support.receipts import receipt
from support.system import Process, free_port, kassagate_env, run_cli

KASSAID, TOKEN = "4401", "proxy-test-token-4401"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Host": "kassa.example.com"}


@pytest.fixture(params=["127.0.0.1", ""], ids=["trusted", "none"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path / "data"
    env = kassagate_env(data_dir, KASSAGATE_TRUSTED_PROXIES=request.param)
    run_cli("kassa", "add", KASSAID, "--token", TOKEN, "--debug", data_dir=data_dir, env=env)
    port = free_port()
    proc = Process(["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/v1/keys",
                   log_path=tmp_path / "serve.log").start(timeout=120)
    try:
        yield f"http://127.0.0.1:{port}", request.param
    finally:
        proc.stop()


def test_status_links_follow_only_a_trusted_proxys_scheme(served: tuple[str, str]) -> None:
    url, trusted = served
    with KassaClient(url, kassaid=KASSAID, kassatoken=TOKEN) as k:
        answer = k.send(receipt(KASSAID, TOKEN))
    assert answer.accepted, answer
    params = {"nuid": answer.nuid, "qnuid": answer.qnuid}
    body = httpx.get(url + "/v1/status", params=params, headers=FORWARDED, timeout=10).json()
    scheme = "https" if trusted else "http"
    assert body["check_qr_code_img_url"].startswith(f"{scheme}://kassa.example.com/")
    assert body["check_qr_code_nano_url"].startswith(f"{scheme}://kassa.example.com/")
