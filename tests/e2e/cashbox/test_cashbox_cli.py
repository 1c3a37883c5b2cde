"""The ``kassagate cashbox*`` commands: merchant ID handling, journal, faults, verify."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from kassagate.cashbox.client import CashboxClient, HttpTransport, RegisterUnreachable
from kassagate.cashbox.virtual import VirtualRegister
from kassagate.cli import app
from kassagate.cli.cashbox import prepare
from support.cashbox import free_port

runner = CliRunner()


def test_generated_merchant_id_is_stored_0600_and_never_printed(tmp_path: Path) -> None:
    data = tmp_path / "d"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KASSAGATE_MERCHANT_ID"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "kassagate"), "cashbox", "--data-dir", str(data),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        secret = data / "cashbox-merchant-id"
        deadline = time.monotonic() + 30
        while not secret.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        mid = secret.read_text().strip()
        assert len(mid) >= 24 and stat.S_IMODE(secret.stat().st_mode) == 0o600

        async def sale() -> int:
            async with CashboxClient(HttpTransport(f"http://127.0.0.1:{port}", mid, timeout=2)) as client:
                for _ in range(300):
                    try:
                        return (await client.sale({"amount": 1, "items": [{"itemName": "x", "itemQty": 1000,
                                                                             "itemAmount": 1}],
                                                   "payments": {"cashAmount": 1}})).code
                    except RegisterUnreachable:
                        await asyncio.sleep(0.05)
            raise AssertionError("no answer")

        assert asyncio.run(sale()) == 0
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    text = out.decode()
    assert str(secret) in text and mid not in text


async def test_merchant_id_from_flag_or_env_replaces_stored(tmp_path: Path) -> None:
    path, where = prepare(tmp_path, "first-id", True, "Europe/Moscow")
    assert "given" in where and "first-id" not in where
    prepare(tmp_path, "second-id", False, "Europe/Moscow")
    r = await VirtualRegister.open(path)
    assert r.merchant_id == "second-id" and not r.state.auto_shift
    await r.close()
    assert (tmp_path / "cashbox-merchant-id").read_text().strip() == "second-id"


async def test_journal_fault_and_verify_commands(tmp_path: Path) -> None:
    path, _ = prepare(tmp_path, "mid", True, "Europe/Moscow")
    r = await VirtualRegister.open(path)
    a = await r.handle("sale", {"amount": 500, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 500}],
                                "payments": {"cashAmount": 500}, "docNumber": "D1", "docTime": "2026-03-02 10:00:00"})
    assert a["code"] == 0
    res = runner.invoke(app, ["cashbox-journal", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert [x["type"] for x in lines] == ["registration", "open_shift", "sale"]
    for key in ("fd", "type", "docNumber", "amount", "time", "fiscalSign"):
        assert key in lines[2]
    assert lines[2]["docNumber"] == "D1" and lines[2]["fiscalSign"] == a["extraParams"]["fiscalSign"]
    qr = a["extraParams"]["qr"]
    ok = runner.invoke(app, ["cashbox-verify", qr, "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "genuine" in ok.output
    forged = runner.invoke(app, ["cashbox-verify", qr.replace("s=5.00", "s=5.01"), "--data-dir", str(tmp_path)])
    assert forged.exit_code == 1 and "NOT genuine" in forged.output
    assert runner.invoke(app, ["cashbox-verify", "garbage", "--data-dir", str(tmp_path)]).exit_code == 2
    res = runner.invoke(app, ["cashbox-fault", "--data-dir", str(tmp_path), "--fn", "broken", "--printer", "fail"])
    assert res.exit_code == 0
    b = await r.handle("sale", {"amount": 1, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 1}],
                                "payments": {"cashAmount": 1}})
    assert b["code"] == 5 and b["fnState"] == "broken"
    assert runner.invoke(app, ["cashbox-fault", "--data-dir", str(tmp_path), "--fn", "melted"]).exit_code != 0
    runner.invoke(app, ["cashbox-fault", "--data-dir", str(tmp_path), "--fn", "ok", "--ofd", "down",
                        "--terminal", "fail"])
    info = await r.handle("get_info", {})
    assert info["fnState"] == "ok" and info["ofdDown"] and info["terminalFail"] and info["printerFail"]
    await r.close()
    missing = runner.invoke(app, ["cashbox-journal", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no register journal" in missing.output


def test_bad_time_zone_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    res = runner.invoke(app, ["cashbox", "--data-dir", str(tmp_path), "--timezone", "Mars/Olympus"])
    assert res.exit_code == 2 and "unknown time zone" in res.output and "Traceback" not in res.output


async def test_journal_times_carry_the_registers_utc_offset(tmp_path: Path) -> None:
    path, _ = prepare(tmp_path, "mid", True, "Asia/Vladivostok")  # UTC+10, no daylight saving time
    r = await VirtualRegister.open(path)
    a = await r.handle("sale", {"amount": 500, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 500}],
                                "payments": {"cashAmount": 500}, "docNumber": "D1", "docTime": "2026-03-02 10:00:00"})
    await r.close()
    assert a["code"] == 0
    res = runner.invoke(app, ["cashbox-journal", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    [sale] = [json.loads(x) for x in res.output.splitlines() if json.loads(x)["type"] == "sale"]
    when = dt.datetime.fromisoformat(sale["time"])
    assert when.utcoffset() == dt.timedelta(hours=10) and sale["time"].endswith("+10:00")
    # the register's local time of the document, the one its answer and fiscal sign carry
    assert when.replace(tzinfo=None) == dt.datetime.strptime(a["printTime"], "%Y-%m-%d %H:%M:%S")
    assert sale["docTime"] == "2026-03-02 10:00:00"  # the sender's text, unchanged
