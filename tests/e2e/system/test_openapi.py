"""The OpenAPI document (``/openapi.json``) against a live ``kassagate serve``: schemathesis
generates requests for every operation from the document; no answer may be a 5xx, and
every answer must match the document (status code, content type, headers, body schema).

Bounded: ``MAX_EXAMPLES`` generated requests per operation and mode (25 under the ci profile)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support.profiles import examples
from support.system import Process, free_port, kassagate_env, run_cli

MAX_EXAMPLES = examples(25)
DOCUMENT: dict[str, Any] = json.loads(files("kassagate.front").joinpath("openapi.json").read_text())
# Positive (valid by the document) and negative (invalid) requests alike: bad input gets
# its documented answer, never a 5xx.
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict({"generation": {"mode": "all"}}))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("openapi") / "data"
    data_dir.mkdir()
    port = free_port()
    env = kassagate_env(data_dir)
    server = Process(
        ["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/healthz",
        log_path=data_dir.parent / "serve.log",
    ).start(timeout=120)
    try:
        # A kassa, so that generated ids may meet a real account.
        run_cli("kassa", "add", "1", "--token", "openapi-token-0001", data_dir=data_dir, env=env)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        assert "Traceback" not in server.log(), server.log()


def test_the_document_is_served(served: str) -> None:
    r = httpx.get(served + "/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc == DOCUMENT and doc["openapi"].startswith("3.1")
    assert {"/v1/fiscalize", "/v1/fiscalize/cluster", "/v1/status", "/v1/keys", "/healthz", "/readyz"} <= set(
        doc["paths"]
    )


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_answers_match_the_document(case: schemathesis.Case, served: str) -> None:
    case.call_and_validate(base_url=served, checks=CHECKS, timeout=30)
