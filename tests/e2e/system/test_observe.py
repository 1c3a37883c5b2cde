"""Running it like a service, through a real ``kassagate serve``: health and readiness,
Prometheus metrics after receipts, one JSON log line per intake request and per outcome
(request id carried from the intake into processing; no token or buyer's e-mail), and
fairness: a flood from one kassa over its rate gets code 70 with ``Retry-After`` while
another kassa's receipts are accepted and fiscalized."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.front import PublishedKeys, envelope
from support.receipts import receipt
from support.system import Process, free_port, kassagate_env, run_cli

KASSA_A, TOKEN_A = "4001", "observe-token-a-5f2c"
KASSA_B, TOKEN_B = "4002", "observe-token-b-9d1e"
EMAIL = "buyer@example.com"  # in every receipt sent (support.receipts)
RATE, BURST = 1, 3


@dataclass
class Served:
    url: str
    data_dir: Path
    server: Process
    keys: PublishedKeys
    http: httpx.Client

    def send(self, kassaid: str, token: str, *, request_id: str | None = None) -> httpx.Response:
        body = envelope(self.keys, receipt(kassaid, token), kassaid=kassaid, token=token)
        headers = {"X-Request-ID": request_id} if request_id else {}
        return self.http.post(self.url + "/v1/fiscalize", json=body, headers=headers)

    def wait_fiscalized(self, answer: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.http.get(self.url + "/v1/status", params={"nuid": answer["nuid"], "qnuid": answer["qnuid"]})
            body = status.json()
            if body["check_status"] != 0 or time.monotonic() > deadline:
                return body
            time.sleep(0.05)

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        r = self.http.get(self.url + "/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }

    def log_lines(self) -> list[dict[str, Any]]:
        text = (self.data_dir.parent / "serve.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def value(m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("observe") / "data"
    data_dir.mkdir()
    port = free_port()
    env = kassagate_env(
        data_dir, KASSAGATE_LOG_FORMAT="json", KASSAGATE_KASSA_RATE=str(RATE), KASSAGATE_KASSA_BURST=str(BURST)
    )
    server = Process(
        ["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/healthz",
        log_path=data_dir.parent / "serve.log",
    ).start(timeout=120)
    try:
        run_cli("kassa", "add", KASSA_A, "--token", TOKEN_A, data_dir=data_dir, env=env)
        run_cli("kassa", "add", KASSA_B, "--token", TOKEN_B, data_dir=data_dir, env=env)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30) as http:
            keys = PublishedKeys.from_json(http.get(url + "/v1/keys").json())
            yield Served(url, data_dir, server, keys, http)
    finally:
        server.stop()


def test_healthz_and_readyz(served: Served) -> None:
    r = served.http.get(served.url + "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = served.http.get(served.url + "/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_metrics_count_receipts_and_their_fiscalization(served: Served) -> None:
    time.sleep(BURST / RATE)  # kassa B's bucket full
    before = served.metrics()
    answers = [served.send(KASSA_B, TOKEN_B).json() for _ in range(2)]
    assert [a["code"] for a in answers] == ["820", "820"], answers
    for a in answers:
        assert served.wait_fiscalized(a)["check_status"] == 1
    after = served.metrics()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("kassagate_intake_answers_total", code="820") == 2
    assert delta("kassagate_intake_duration_seconds_count") == 2
    assert delta("kassagate_intake_duration_seconds_bucket", le="+Inf") == 2
    assert delta("kassagate_intake_duration_seconds_bucket", le="30.0") == 2
    assert delta("kassagate_intake_duration_seconds_sum") > 0
    assert delta("kassagate_requests_fiscalized_total") == 2
    assert delta("kassagate_fiscalization_latency_seconds_count") == 2
    assert delta("kassagate_fiscalization_latency_seconds_bucket", le="3600.0") == 2
    assert ("kassagate_queue_depth", frozenset()) in after and value(after, "kassagate_queue_depth") == 0
    assert ("kassagate_queue_oldest_pending_age_seconds", frozenset()) in after
    assert ("kassagate_callbacks_pending", frozenset()) in after

    # The register monitor's view (every 2 s): B's register answers, its FN is far from full.
    deadline = time.monotonic() + 10
    while True:
        m = served.metrics()
        regs = {dict(labels)["register"] for (name, labels) in m if name == "kassagate_register_up"}
        if regs or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert regs, "no register gauges"
    for reg in regs:
        assert value(m, "kassagate_register_up", register=reg) == 1
        assert 0 <= value(m, "kassagate_register_fn_fill_percent", register=reg) < 1
        assert value(m, "kassagate_register_fn_expiry_days", register=reg) > 300
        assert ("kassagate_register_unsent_documents", frozenset({("register", reg)})) in m
        assert ("kassagate_register_shift_age_seconds", frozenset({("register", reg)})) in m


def test_a_flood_from_one_kassa_does_not_stop_another(served: Served) -> None:
    time.sleep(BURST / RATE)
    before = served.metrics()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # A floods; B sends its receipts meanwhile
        flood_futures = [pool.submit(served.send, KASSA_A, TOKEN_A) for _ in range(BURST + 9)]
        others = [served.send(KASSA_B, TOKEN_B) for _ in range(BURST)]
        flood = [f.result() for f in flood_futures]
    took = time.monotonic() - started

    accepted = [r for r in flood if r.json()["code"] == "820"]
    refused = [r for r in flood if r.json()["code"] == "70"]
    assert len(accepted) + len(refused) == len(flood), [r.json() for r in flood]
    # The burst, and what the rate refilled meanwhile.
    assert BURST <= len(accepted) <= BURST + RATE * took + 1
    assert refused
    for r in refused:
        body = r.json()
        assert r.status_code == 200 and body["status"] == "error"
        assert int(r.headers["retry-after"]) >= 1
        assert f"kassa {KASSA_A}" in body["error"] and "Retry in" in body["error"]
        assert "nuid" not in body
    for r in others:  # B's receipts are accepted and fiscalized while A is refused
        assert r.json()["code"] == "820", r.json()
        assert served.wait_fiscalized(r.json())["check_status"] == 1
    after = served.metrics()
    refused_metric = value(after, "kassagate_intake_refused_total", reason="rate") - value(
        before, "kassagate_intake_refused_total", reason="rate"
    )
    assert refused_metric == len(refused)
    assert value(after, "kassagate_intake_answers_total", code="70") - value(
        before, "kassagate_intake_answers_total", code="70"
    ) == len(refused)


def test_log_lines(served: Served) -> None:
    time.sleep(1.5 / RATE)  # a token for kassa B
    r = served.send(KASSA_B, TOKEN_B, request_id="trace-me-0001")
    assert r.headers["x-request-id"] == "trace-me-0001"
    assert served.wait_fiscalized(r.json())["check_status"] == 1
    bad = served.http.post(served.url + "/v1/fiscalize", json={"aab": "x", "dde": "y"})
    assert bad.json()["code"] == "90" and len(bad.headers["x-request-id"]) == 16

    # A line is written when its answer has gone out: wait until every answered request's
    # line (and the traced request's processing line) is in the file.
    deadline = time.monotonic() + 5
    while True:
        lines = served.log_lines()  # every line is one JSON object
        mine = [x for x in lines if x.get("request_id") == "trace-me-0001"]
        intake = [x for x in lines if x["logger"] == "kassagate.front.app" and x["message"] == "intake"]
        answered = sum(v for (name, _), v in served.metrics().items() if name == "kassagate_intake_answers_total")
        if (len(mine) >= 2 and len(intake) >= answered) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raw = (served.data_dir.parent / "serve.log").read_text()
    for secret in (TOKEN_A, TOKEN_B, EMAIL):
        assert secret not in raw

    assert len(intake) == answered >= 2  # one line per intake request
    for x in intake:
        assert x["level"] == "INFO" and x["path"] == "/v1/fiscalize"
        assert isinstance(x["code"], int) and x["duration_ms"] >= 0 and len(x["request_id"]) >= 1
    assert {x["code"] for x in intake} >= {820, 90}
    assert KASSA_B in {x.get("kassaid") for x in intake if x["code"] == 820}

    # The request id travels from the intake's line into processing's outcome line.
    at_intake = [x for x in mine if x["message"] == "intake"]
    outcome = [x for x in mine if x["logger"] == "kassagate.processing"]
    assert len(at_intake) == 1 and at_intake[0]["code"] == 820 and at_intake[0]["kassaid"] == KASSA_B
    assert len(outcome) == 1 and outcome[0]["message"].endswith("fiscalized")
    assert outcome[0]["request"] == at_intake[0]["request"] and outcome[0]["latency_s"] >= 0
    fiscalized = [x for x in lines if x["logger"] == "kassagate.processing" and x["message"].endswith("fiscalized")]
    assert len(fiscalized) == len({x["request"] for x in intake if x["code"] == 820})


def test_a_worker_process_serves_its_metrics(served: Served) -> None:
    port = free_port()
    env = kassagate_env(served.data_dir, KASSAGATE_LOG_FORMAT="json")
    url = f"http://127.0.0.1:{port}/metrics"
    worker = Process(["worker", "--metrics-port", str(port)], env=env, ready_url=url,
                     log_path=served.data_dir.parent / "worker.log").start(timeout=60)
    try:
        deadline = time.monotonic() + 15
        while True:  # its register monitor sees the registers of the shared data
            text = httpx.get(url, timeout=5).text
            ups = [s for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "kassagate_register_up"]
            if len(ups) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert len(ups) >= 2 and all(s.value == 1 for s in ups), text
        assert "kassagate_requests_fiscalized_total" in text and "kassagate_callbacks_total" in text
    finally:
        worker.stop()
