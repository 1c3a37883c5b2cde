"""The account and key commands against a running front server: every ``kassa add --kkt``
form, ``cluster add``, ``keys show``/``keys rotate``; changes reach the server within a
second (the server runs with its production account cache of 1 s)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn

from support.front import PublishedKeys, RunningFront, envelope, running_front
from support.strategies import sample_receipt
from support.system import free_port

TOKEN = "cli-token-0001-abcd"


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KASSAGATE_DATA_DIR=str(data_dir), KASSAGATE_RSA_BITS="2048")
    env.pop("KASSAGATE_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "kassagate", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=120)


async def acli(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, data_dir, *args, stdin=stdin)


async def code_of(f: RunningFront, kassaid: str, keys: PublishedKeys | None = None, **kw: object) -> str:
    receipt = sample_receipt(kassaid=kassaid, kassatoken=TOKEN, **kw)  # type: ignore[arg-type]
    r = await f.post("/v1/fiscalize", envelope(keys or f.keys, receipt, kassaid=kassaid, token=TOKEN))
    return str(r.json()["code"])


@contextlib.asynccontextmanager
async def cashbox_register(tmp: Path, merchant_id: str) -> AsyncIterator[str]:
    from kassagate.cashbox.server import create_app
    from kassagate.cashbox.virtual import VirtualRegister, create_register

    path = tmp / "remote.sqlite3"
    create_register(path, merchant_id=merchant_id)
    reg = await VirtualRegister.open(path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(reg), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await reg.close()


async def test_kassa_added_from_the_command_line_is_usable_within_a_second(data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port, account_ttl=1.0) as f:
        assert await code_of(f, "61") == "300"  # and now "61 unknown" sits in the server's cache
        p = await acli(data_dir, "kassa", "add", "61", "--token", "-", stdin=TOKEN + "\n")
        done = time.monotonic()
        assert p.returncode == 0, p.stderr
        assert "virtual register" in p.stdout and TOKEN not in p.stdout
        while (code := await code_of(f, "61")) != "820":
            assert code == "300"
            assert time.monotonic() - done < 1.5
            await asyncio.sleep(0.05)
        assert time.monotonic() - done < 1.5
        row = await f.ctx.accounts.get_kassa("61")
        assert row is not None and row.kkt is not None and row.kkt.kind == "virtual"
        assert row.kkt.journal_path == f"registers/kkt-{row.kkt.id}.sqlite3"
        assert (data_dir / row.kkt.journal_path).exists() and row.kkt.registered


async def test_every_kkt_form_and_flag(data_dir: Path, port: int, tmp_path: Path) -> None:
    async with running_front(data_dir, port) as f:
        for args in (
            ["62", "--kkt", "unregistered"],
            ["63", "--kkt", "none"],
            ["64", "--inactive"],
            ["65", "--debug"],
            ["66", "--type", "vending"],
        ):
            p = await acli(data_dir, "kassa", "add", *args, "--token", TOKEN)
            assert p.returncode == 0, p.stderr
        assert await code_of(f, "62") == "50"
        assert await code_of(f, "63") == "40"
        assert await code_of(f, "64") == "310"
        assert await code_of(f, "65") == "390"
        assert await code_of(f, "66") == "4040"
        assert await code_of(f, "66", vending=True) == "820"

        async with cashbox_register(tmp_path, "remote-merchant-1") as url:
            p = await acli(data_dir, "kassa", "add", "67", "--token", TOKEN, "--kkt", url, "--merchant-id",
                           "remote-merchant-1")
            assert p.returncode == 0, p.stderr
            assert "remote register" in p.stdout and "remote-merchant-1" not in p.stdout
        kassa = await f.ctx.accounts.get_kassa("67")
        assert kassa is not None and kassa.kkt is not None
        assert (kassa.kkt.kind, kassa.kkt.url, kassa.kkt.merchant_id) == ("remote", url, "remote-merchant-1")
        assert kassa.kkt.registered
        assert await code_of(f, "67") == "820"

        p = await acli(data_dir, "cluster", "add", "70", "--token", "cl-token-0001-abcd", "--type", "standard")
        assert p.returncode == 0, p.stderr
        p = await acli(data_dir, "kassa", "add", "71", "--token", TOKEN, "--cluster", "70")
        assert p.returncode == 0, p.stderr
        receipt = sample_receipt(kassaid="70", kassatoken="cl-token-0001-abcd")
        r = await f.post("/v1/fiscalize/cluster", envelope(f.keys, receipt, kassaid="70", token="cl-token-0001-abcd"))
        assert r.json()["code"] == "820"
        row = await f.ctx.requests.get_by_ids(r.json()["nuid"], r.json()["qnuid"])
        assert row is not None and row["kassaid"] == "71"

        # usage errors: exit status and a message, nothing created
        for args, status, words in (
            (["kassa", "add", "6x", "--token", TOKEN], 2, "digits"),
            (["kassa", "add", "61", "--token", TOKEN, "--kkt", "ftp://x"], 2, "--kkt"),
            (["kassa", "add", "68", "--token", TOKEN, "--kkt", "http://127.0.0.1:9"], 2, "--merchant-id"),
            (["kassa", "add", "62", "--token", TOKEN], 1, "already exists"),
            (["kassa", "add", "69", "--token", TOKEN, "--cluster", "404"], 1, "no cluster"),
            (["kassa", "add", "69", "--token", TOKEN, "--type", "kiosk"], 2, "standard or vending"),
            (["cluster", "add", "70", "--token", TOKEN], 1, "already exists"),
            (["kassa", "add", "69", "--token", "fifteen-chars-x"], 2, "at least 16 characters"),
            (["cluster", "add", "71", "--token", "fifteen-chars-x"], 2, "at least 16 characters"),
        ):
            p = await acli(data_dir, *args)
            assert p.returncode == status and words in p.stderr, (args, p.returncode, p.stderr)
        assert await f.ctx.accounts.get_kassa("69") is None


async def test_keys_show_and_rotation_with_grace(data_dir: Path, port: int) -> None:
    async with running_front(data_dir, port) as f:
        p = await acli(data_dir, "kassa", "add", "81", "--token", TOKEN, "--kkt", "none")
        kkt = await f.ctx.accounts.add_kkt(kind="remote", url="http://127.0.0.1:9", merchant_id="m",
                                           fn_serial="9999000000000001", kkt_reg_number="0000000000000001")
        await f.ctx.accounts.update_kassa("81", kkt_id=kkt)
        shown = await acli(data_dir, "keys", "show")
        assert shown.returncode == 0 and json.loads(shown.stdout) == (await f.client.get(f.url + "/v1/keys")).json()
        old = f.keys
        p = await acli(data_dir, "keys", "rotate", "--grace-hours", "2")
        assert p.returncode == 0, p.stderr
        assert "previous_accepted_until" in p.stdout
        await asyncio.sleep(1.1)
        new_json = (await f.client.get(f.url + "/v1/keys")).json()
        new = PublishedKeys.from_json(new_json)
        assert new.rsa_first.public_numbers() != old.rsa_first.public_numbers()
        assert json.loads((await acli(data_dir, "keys", "show")).stdout) == new_json
        assert await code_of(f, "81", keys=old) == "820"  # the grace period
        assert await code_of(f, "81", keys=new) == "820"
        # the grace ends: the old keys are refused
        p = await acli(data_dir, "keys", "rotate", "--grace-hours", "0")
        await asyncio.sleep(1.1)
        assert await code_of(f, "81", keys=old) == "120"
