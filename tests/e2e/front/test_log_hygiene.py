"""No token, private key, merchant ID or receipt e-mail/phone reaches the logs, even at
DEBUG level (the front server in-process, the account commands as processes)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from support.front import envelope, running_front
from support.strategies import sample_receipt

TOKEN = "Secret-Kassa-Token-7f3a9c"
CTOKEN = "Secret-Cluster-Token-91bd"
OTHER = "Secret-Other-Token-55e1"
EMAIL = "private.buyer.4711@example.com"
PHONE = "+79035550147"
MERCHANT = "Secret-Merchant-Id-c0ffee"


def private_key_lines(data_dir: Path) -> list[str]:
    lines: list[str] = []
    for name in ("rsa_first.pem", "rsa_second.pem"):
        pem = (data_dir / "keys" / "current" / name).read_text().splitlines()
        lines += [ln for ln in pem if ln and not ln.startswith("-----")][1:6]
    return lines


def assert_clean(textout: str, secrets: list[str]) -> None:
    for s in secrets:
        assert s not in textout, f"a secret reached the logs: {s[:6]}..."


async def test_front_logs_carry_no_secrets_at_debug(
    data_dir: Path, port: int, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("", "sqlalchemy", "sqlalchemy.engine", "aiosqlite", "uvicorn", "uvicorn.error", "uvicorn.access",
                 "kassagate", "asyncio", "multiprocessing"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    async with running_front(data_dir, port, log_level="debug") as f:
        acc = f.ctx.accounts
        kkt = await acc.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id=MERCHANT,
                                fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
        await acc.add_kassa("31337", token=TOKEN, kkt_id=kkt)
        await acc.add_cluster("31338", token=CTOKEN)
        await acc.add_kassa("31339", token=TOKEN, kkt_id=kkt, cluster_id="31338")

        def receipt(**kw: Any) -> dict[str, Any]:
            r = sample_receipt(kassaid="31337", kassatoken=TOKEN, email=EMAIL)
            r["oplata_arr"]["client_phone"] = PHONE
            r.update(kw)
            return r

        def post(body: dict[str, Any], path: str = "/v1/fiscalize") -> Any:
            return f.post(path, body)

        codes = []
        r = await post(envelope(f.keys, receipt(), kassaid="31337", token=TOKEN, rid="log-1"))
        codes.append(r.json()["code"])
        nuid, qnuid = r.json()["nuid"], r.json()["qnuid"]
        again = await post(envelope(f.keys, receipt(), kassaid="31337", token=TOKEN, rid="log-1"))
        codes.append(again.json()["code"])
        codes.append((await post(envelope(f.keys, receipt(check_send_type="phone"), kassaid="31337",
                                          token=TOKEN))).json()["code"])
        codes.append((await post(envelope(f.keys, receipt(), kassaid="31337", token=OTHER))).json()["code"])
        codes.append((await post(envelope(f.keys, receipt(kassatoken=OTHER), kassaid="31337",
                                          token=TOKEN))).json()["code"])
        bad = receipt()
        bad["oplata_arr"]["client_email"] = "not-an-email " + EMAIL
        codes.append((await post(envelope(f.keys, bad, kassaid="31337", token=TOKEN))).json()["code"])
        cr = receipt(kassaid="31338", kassatoken=CTOKEN)
        codes.append((await post(envelope(f.keys, cr, kassaid="31338", token=CTOKEN), "/v1/fiscalize/cluster")
                      ).json()["code"])
        codes.append((await post(envelope(f.keys, cr, kassaid="31338", token=OTHER), "/v1/fiscalize/cluster")
                      ).json()["code"])
        await f.client.get(f.url + "/v1/status", params={"nuid": nuid, "qnuid": qnuid})
        # storage failure (70) and an unexpected failure (80) log tracebacks
        async with f.ctx.db.engine.begin() as conn:
            await conn.execute(text("CREATE TRIGGER kg_fail BEFORE INSERT ON requests "
                                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
        failed = await post(envelope(f.keys, receipt(), kassaid="31337", token=TOKEN, rid="log-2"))
        codes.append(failed.json()["code"])
        import kassagate.front.intake.receipt as intake_mod

        def boom(*a: Any, **k: Any) -> Any:
            raise RuntimeError("injected failure")

        monkeypatch.setattr(intake_mod, "parse_receipt", boom)
        codes.append((await post(envelope(f.keys, receipt(), kassaid="31337", token=TOKEN))).json()["code"])
        assert codes == ["800", "409", "820", "320", "350", "60", "820", "180", "70", "80"]
        secrets = [TOKEN, CTOKEN, OTHER, EMAIL, PHONE, MERCHANT, PHONE[1:], *private_key_lines(data_dir)]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # DEBUG really was on
    assert "Correlation" in caplog.text or "correlation id" in caplog.text
    assert_clean(caplog.text, secrets)


def test_account_commands_print_no_secrets(tmp_path: Path) -> None:
    env = dict(os.environ, KASSAGATE_DATA_DIR=str(tmp_path), KASSAGATE_LOG_LEVEL="DEBUG", KASSAGATE_RSA_BITS="2048")
    outs = []
    for args, stdin in (
        (["kassa", "add", "1", "--token", TOKEN, "--kkt", "none"], None),
        (["kassa", "add", "2", "--token", "-", "--kkt", "http://127.0.0.1:9", "--merchant-id", MERCHANT], TOKEN),
        (["kassa", "add", "2", "--token", TOKEN, "--kkt", "none"], None),  # duplicate: an error
        (["cluster", "add", "3", "--token", CTOKEN], None),
        (["keys", "show"], None),
        (["keys", "rotate", "--grace-hours", "1"], None),
    ):
        p = subprocess.run([sys.executable, "-m", "kassagate", *args], input=stdin, env=env, capture_output=True,
                           text=True, timeout=120)
        outs.append(p.stdout + p.stderr)
    assert "already exists" in outs[2]
    assert "BEGIN PUBLIC KEY" in outs[4]
    secrets = [TOKEN, CTOKEN, MERCHANT]
    for name in ("rsa_first.pem", "rsa_second.pem"):
        secrets += [ln for ln in (tmp_path / "keys" / "previous" / name).read_text().splitlines()
                    if ln and not ln.startswith("-----")][1:4]
    assert_clean("\n".join(outs), secrets)
