"""The whole system through HTTP: ``kassagate serve`` as a real process, kassas added from
the command line while it runs, receipts sent with the merchant client library.

One server for the module; each test adds its own kassas (which also shows that accounts
added from the command line reach a running server without a restart)."""

from __future__ import annotations

import asyncio
import http.server
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from kassagate.client import AsyncKassaClient, KassaClient
from kassagate.core.codes import FrontCode
from kassagate.core.qr import parse_qr
from kassagate.processing.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from support.receipts import VENDING, product, receipt
from support.system import Process, free_port, kassagate_env, run_cli


@dataclass
class System:
    data_dir: Path
    url: str
    env: dict[str, str]
    server: Process

    def cli(self, *args: str) -> str:
        return run_cli(*args, data_dir=self.data_dir, env=self.env).stdout

    def journal(self, kassaid: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.cli("kkt", "journal", kassaid).splitlines() if line.strip()]

    def client(self, kassaid: str, token: str) -> KassaClient:
        return KassaClient(self.url, kassaid=kassaid, kassatoken=token)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data_dir = tmp_path_factory.mktemp("serve") / "data"
    data_dir.mkdir()
    port = free_port()
    env = kassagate_env(data_dir, KASSAGATE_RETRY_BASE_SECONDS="0.05", KASSAGATE_RETRY_BUDGET="3")
    server = Process(
        ["serve", "--port", str(port)],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=data_dir.parent / "serve.log",
    ).start(timeout=120)
    try:
        yield System(data_dir, f"http://127.0.0.1:{port}", env, server)
    finally:
        server.stop()


def send_and_wait(system: System, kassaid: str, token: str, body: dict[str, Any], **kw: Any) -> Any:
    with system.client(kassaid, token) as k:
        answer = k.send(body, **kw)
        assert answer.accepted, answer
        return answer, k.wait_fiscalized(answer.nuid, answer.qnuid, timeout=20)


@pytest.mark.parametrize("sign", [1, 2, 3, 4])
def test_each_settlement_kind_end_to_end(system: System, sign: int) -> None:
    kassaid, token = f"31{sign}", f"token-of-kassa-31{sign}"
    system.cli("kassa", "add", kassaid, "--token", token)
    body = receipt(kassaid, token, sign=sign, pay="mixed", products=[product(), product("Salt", 1999, "0.75", 0, 5)])
    answer, st = send_and_wait(system, kassaid, token, body, rid=f"order-{sign}")
    assert answer.code == FrontCode.ACCEPTED
    assert (st.check_status, st.check_type, st.check_itog) == (1, sign, body["itog_arr"]["itog_cheka"])
    [entry] = [e for e in system.journal(kassaid) if e.get("docNumber") == answer.nuid]
    assert (st.check_num_fd, int(st.check_num_fp)) == (entry["fd"], int(entry["fiscalSign"]))
    qr = parse_qr(st.check_qr_code)
    assert (qr.fd, qr.fp, qr.fn_serial, qr.total, qr.sign) == (
        entry["fd"],
        int(entry["fiscalSign"]),
        st.check_fn_num,
        entry["amount"],
        sign,
    )
    # the PNG shows exactly that QR string
    png = st.qr_png
    assert png is not None
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert code.text == st.check_qr_code
    assert st.check_kkt_rn and st.check_shift and st.check_num_in_shift and st.check_dt_unixtime


def test_vending_kassa_end_to_end(system: System) -> None:
    system.cli("kassa", "add", "320", "--token", "token-of-kassa-320", "--type", "vending")
    body = receipt("320", "token-of-kassa-320", vending=VENDING)
    _answer, st = send_and_wait(system, "320", "token-of-kassa-320", body)
    assert st.check_status == 1
    assert (st.check_vend_address, st.check_vend_mesto, st.check_vend_num_avtovat) == (
        VENDING["check_vend_address"],
        VENDING["check_vend_mesto"],
        VENDING["check_vend_num_avtovat"],
    )


def test_debug_kassa_is_never_sent_to_a_register(system: System) -> None:
    system.cli("kassa", "add", "330", "--token", "token-of-kassa-330", "--debug")
    with system.client("330", "token-of-kassa-330") as k:
        answer = k.send(receipt("330", "token-of-kassa-330"), rid="dbg-1")
        assert answer.code == FrontCode.ACCEPTED_DEBUG
        st = k.get_status(answer.nuid, answer.qnuid)
    assert (st.check_status, st.check_fn_num, st.check_num_fd, st.check_num_fp) == (
        3,
        "9999999999999999",
        999,
        "9999999999",
    )
    assert [e for e in system.journal("330") if e.get("docNumber")] == []


def test_remote_register_over_http(system: System, tmp_path: Path) -> None:
    port = free_port()
    reg_dir = tmp_path / "register"
    reg_dir.mkdir()
    merchant = "merchant-remote-340"
    reg_env = kassagate_env(reg_dir, KASSAGATE_MERCHANT_ID=merchant)
    register = Process(
        ["cashbox", "--port", str(port), "--data-dir", str(reg_dir)],
        env=reg_env,
        ready_url=None,
        log_path=tmp_path / "cashbox.log",
    ).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/get_info", content=b"data=&sign=", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        system.cli(
            "kassa", "add", "340", "--token", "token-of-kassa-340", "--kkt", f"http://127.0.0.1:{port}",
            "--merchant-id", merchant,
        )
        # The monitor learns the remote register's fiscal registration within a round (2 s);
        # until then the intake answers 50, as for any register without one.
        deadline = time.monotonic() + 15
        with system.client("340", "token-of-kassa-340") as k:
            while (first := k.send(receipt("340", "token-of-kassa-340"))).code == FrontCode.KKT_NOT_REGISTERED:
                assert time.monotonic() < deadline, "the remote register's registration was never learnt"
                time.sleep(0.2)
        assert first.accepted, first
        with system.client("340", "token-of-kassa-340") as k:
            assert k.wait_fiscalized(first.nuid, first.qnuid, timeout=20).check_status == 1
        answer, st = send_and_wait(system, "340", "token-of-kassa-340", receipt("340", "token-of-kassa-340"))
        assert st.check_status == 1, st
        lines = run_cli("cashbox-journal", "--data-dir", str(reg_dir), data_dir=reg_dir, env=reg_env).stdout
        entries = [json.loads(x) for x in lines.splitlines() if x.strip()]
        [entry] = [e for e in entries if e.get("docNumber") == answer.nuid]
        assert st.check_num_fd == entry["fd"]
        assert len({e["docNumber"] for e in entries if e.get("docNumber")}) == 2  # the first receipt too
    finally:
        register.stop()


@dataclass
class Receiver:
    port: int
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_first: int = 0


def start_receiver(rcv: Receiver) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if rcv.fail_first > 0:
                rcv.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            rcv.got.append(({k: v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", rcv.port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_callback_is_signed_and_retried(system: System) -> None:
    rcv = Receiver(free_port(), fail_first=1)  # the first delivery fails: kassagate retries
    srv = start_receiver(rcv)
    try:
        system.cli("kassa", "add", "350", "--token", "token-of-kassa-350")
        out = system.cli("callback", "set", "350", "--url", f"http://127.0.0.1:{rcv.port}/hook")
        secret = re.search(r"\(shown once\): (\S+)", out).group(1)  # type: ignore[union-attr]
        answer, st = send_and_wait(system, "350", "token-of-kassa-350", receipt("350", "token-of-kassa-350"))
        assert st.check_status == 1
        deadline = time.monotonic() + 15
        while not rcv.got and time.monotonic() < deadline:
            time.sleep(0.05)
        [(headers, body)] = rcv.got
        ts = int(headers[TIMESTAMP_HEADER])
        assert verify(secret, ts, body, headers[SIGNATURE_HEADER])
        assert not verify("wrong-secret", ts, body, headers[SIGNATURE_HEADER])
        status = json.loads(body)
        assert (status["check_nuid"], status["check_status"], status["check_num_fd"]) == (
            answer.nuid,
            1,
            st.check_num_fd,
        )
        assert secret not in system.server.log()
    finally:
        srv.shutdown()


def test_cluster_fails_over_when_a_register_fills_up_mid_load(system: System) -> None:
    system.cli("cluster", "add", "360", "--token", "token-of-cluster-360")
    system.cli("kassa", "add", "361", "--token", "token-of-kassa-361", "--cluster", "360")
    system.cli("kassa", "add", "362", "--token", "token-of-kassa-362", "--cluster", "360")
    time.sleep(1.1)  # account caches live at most 1 s

    async def run() -> list[Any]:
        async with AsyncKassaClient(system.url, kassaid="360", kassatoken="token-of-cluster-360", cluster=True) as k:
            answers = []
            for i in range(30):  # the fault is set before receipt 10 is sent
                if i == 10:
                    await asyncio.to_thread(system.cli, "kkt", "fault", "361", "--fn", "full")
                answers.append(await k.send(receipt("360", "token-of-cluster-360"), rid=f"c-{i}"))
            assert all(a.code == FrontCode.ACCEPTED for a in answers), answers
            return [await k.wait_fiscalized(a.nuid, a.qnuid, timeout=30) for a in answers]

    statuses = asyncio.run(run())
    assert all(s.check_status == 1 for s in statuses), [(s.error_code, s.error_text) for s in statuses]
    journals = {k: [e for e in system.journal(k) if e.get("docNumber")] for k in ("361", "362")}
    docs = journals["361"] + journals["362"]
    assert sorted(e["docNumber"] for e in docs) == sorted(s.check_nuid for s in statuses)  # each exactly once
    # Once its FN was full, register 361 fiscalized nothing more: every later receipt went to 362.
    index = {s.check_nuid: i for i, s in enumerate(statuses)}
    assert all(index[e["docNumber"]] < 10 for e in journals["361"])
    assert len(journals["362"]) >= 20
    system.cli("kkt", "fault", "361", "--fn", "ok")


def test_synchronous_wait_returns_the_fiscal_data_in_the_answer(system: System) -> None:
    system.cli("kassa", "add", "370", "--token", "token-of-kassa-370")
    with system.client("370", "token-of-kassa-370") as k:
        answer = k.send(receipt("370", "token-of-kassa-370"), rid="sync-1", wait=10)
        assert answer.code == FrontCode.ACCEPTED and answer.fiscal is not None
        assert answer.fiscal.check_status == 1 and answer.fiscal.check_nuid == answer.nuid
        polled = k.get_status(answer.nuid, answer.qnuid)
    assert (answer.fiscal.check_num_fd, answer.fiscal.check_qr_code) == (polled.check_num_fd, polled.check_qr_code)
    [entry] = [e for e in system.journal("370") if e.get("docNumber") == answer.nuid]
    assert entry["fd"] == answer.fiscal.check_num_fd


def test_synchronous_wait_on_a_debug_kassa_answers_at_once_with_the_fake_data(system: System) -> None:
    system.cli("kassa", "add", "371", "--token", "token-of-kassa-371", "--debug")
    with system.client("371", "token-of-kassa-371") as k:
        started = time.monotonic()
        answer = k.send(receipt("371", "token-of-kassa-371"), wait=10)
        assert time.monotonic() - started < 5
    assert answer.code == FrontCode.ACCEPTED_DEBUG and answer.fiscal is not None
    assert (answer.fiscal.check_status, answer.fiscal.check_num_fd) == (3, 999)


def test_status_has_every_field_of_front_md_section_6(system: System) -> None:
    system.cli("kassa", "add", "372", "--token", "token-of-kassa-372")
    answer, _ = send_and_wait(system, "372", "token-of-kassa-372", receipt("372", "token-of-kassa-372"))
    raw = httpx.get(f"{system.url}/v1/status", params={"nuid": answer.nuid, "qnuid": answer.qnuid}).json()
    fields = (
        "check_nuid check_qnuid check_status check_status_info error_code error_text rid name_zakaz check_type "
        "check_sno check_itog check_vend_address check_vend_mesto check_vend_num_avtovat check_dt_unixtime "
        "check_num_fd check_num_fp check_fn_num check_kkt_rn check_shift check_num_in_shift check_qr_code "
        "check_qr_code_img_b64"
    ).split()
    assert set(fields) <= set(raw)
    assert all(raw[f] not in (None, "") for f in fields if f.startswith("check_") and "vend" not in f)
    same = httpx.get(f"{system.url}/getfp", params={"nuid": answer.nuid, "qnuid": answer.qnuid}).json()
    assert same == raw
