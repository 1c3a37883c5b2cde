"""The command line on a fresh machine: no data dir yet, a database that cannot be reached."""

from __future__ import annotations

from pathlib import Path

from support.system import kassagate_env, run_cli


def test_kassa_add_creates_a_fresh_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "there" / "yet"
    out = run_cli("kassa", "add", "42", "--token", "token-of-kassa-42", data_dir=data_dir).stdout
    assert "kassa 42 added" in out
    assert (data_dir / "kassagate.sqlite3").exists()
    assert run_cli("kkt", "journal", "42", data_dir=data_dir).stdout.strip()  # its registration report


def test_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = kassagate_env(tmp_path, KASSAGATE_DATABASE_URL="postgresql://nobody:secret-pw@127.0.0.1:1/none")
    proc = run_cli("kassa", "add", "43", "--token", "token-of-kassa-43", data_dir=tmp_path, env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "secret-pw" not in proc.stderr + proc.stdout


def test_kkt_fault_and_journal_of_an_unknown_kassa_say_what_is_wrong(tmp_path: Path) -> None:
    run_cli("kassa", "add", "44", "--token", "token-of-kassa-44", "--kkt", "none", data_dir=tmp_path)
    for args in (
        ["kkt", "journal", "99"],
        ["kkt", "fault", "44", "--fn", "full"],
        ["kkt", "fault", "44", "--fn", "on"],
    ):
        proc = run_cli(*args, data_dir=tmp_path, check=False)
        assert proc.returncode != 0 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_kkt_fault_reaches_the_register_and_the_intake_view(tmp_path: Path) -> None:
    import asyncio

    from kassagate.cashbox.virtual import VirtualRegister
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import Accounts

    run_cli("kassa", "add", "45", "--token", "token-of-kassa-45", data_dir=tmp_path)
    run_cli("kkt", "fault", "45", "--fn", "broken", data_dir=tmp_path)

    async def look() -> tuple[str, str]:
        db = await open_database(f"sqlite:///{tmp_path / 'kassagate.sqlite3'}")
        try:
            kassa = await Accounts(db).get_kassa("45")
        finally:
            await db.close()
        assert kassa is not None and kassa.kkt is not None
        vr = await VirtualRegister.open(tmp_path / kassa.kkt.journal_path)
        try:
            info = await vr.handle("get_info", {})
        finally:
            await vr.close()
        return kassa.kkt.fn_state, info["fnState"]

    assert asyncio.run(look()) == ("broken", "broken")


def test_callback_set_then_clear(tmp_path: Path) -> None:
    import asyncio

    from sqlalchemy import select

    from kassagate.storage.db import open_database
    from kassagate.storage.schema import kassas

    run_cli("kassa", "add", "46", "--token", "token-of-kassa-46", "--kkt", "none", data_dir=tmp_path)

    async def callback() -> tuple[str | None, str | None]:
        db = await open_database(f"sqlite:///{tmp_path / 'kassagate.sqlite3'}")
        try:
            async with db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(kassas.c.callback_url, kassas.c.callback_secret).where(kassas.c.kassaid == "46")
                    )
                ).one()
        finally:
            await db.close()
        return row.callback_url, row.callback_secret

    out = run_cli("callback", "set", "46", "--url", "https://shop.example/hook", data_dir=tmp_path).stdout
    url, secret = asyncio.run(callback())
    assert url == "https://shop.example/hook" and secret and secret in out
    assert run_cli("callback", "set", "46", "--url", "ftp://x", data_dir=tmp_path, check=False).returncode == 1
    assert run_cli("callback", "set", "99", "--url", "https://x", data_dir=tmp_path, check=False).returncode == 1
    run_cli("callback", "clear", "46", data_dir=tmp_path)
    assert asyncio.run(callback()) == (None, None)
