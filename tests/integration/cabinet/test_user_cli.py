"""``kassagate user add/list/passwd/disable`` as real commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kassagate.cabinet.auth import verify_password
from kassagate.config import load_settings
from kassagate.storage import open_database
from kassagate.storage.users import User, Users
from support.system import run_cli


def stored(data_dir: Path, login: str) -> User | None:
    async def read() -> User | None:
        db = await open_database(load_settings(env={"KASSAGATE_DATA_DIR": str(data_dir)}).effective_database_url)
        try:
            return await Users(db).by_login(login)
        finally:
            await db.close()

    return asyncio.run(read())


def test_user_commands(data_dir: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("first password\n")
    run_cli("kassa", "add", "701", "--token", "token-701-abcdefgh", "--kkt", "none", data_dir=data_dir)
    run_cli("cluster", "add", "90", "--token", "token-90-abcdefghi", data_dir=data_dir)
    out = run_cli("user", "add", "boss", "--operator", "--password-file", str(pw), data_dir=data_dir).stdout
    assert "boss added (operator" in out
    run_cli("user", "add", "shop", "--kassa", "701", "--cluster", "90", "--password-file", str(pw), data_dir=data_dir)
    listing = run_cli("user", "list", data_dir=data_dir).stdout
    assert "boss  operator  active" in listing
    assert "shop  merchant  active  kassas: 701  clusters: 90" in listing
    assert "first password" not in listing and "argon2" not in listing
    shop = stored(data_dir, "shop")
    assert shop is not None and shop.password_hash.startswith("$argon2id$")
    assert verify_password(shop.password_hash, "first password")

    dup = run_cli("user", "add", "shop", "--password-file", str(pw), data_dir=data_dir, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    missing = run_cli("user", "add", "x", "--kassa", "999", "--password-file", str(pw), data_dir=data_dir, check=False)
    assert missing.returncode == 1 and "no kassa 999" in missing.stderr
    short = tmp_path / "short"
    short.write_text("short\n")
    weak = run_cli("user", "add", "y", "--password-file", str(short), data_dir=data_dir, check=False)
    assert weak.returncode == 2 and "at least 8" in weak.stderr
    bad = run_cli("user", "add", "bad login", "--password-file", str(pw), data_dir=data_dir, check=False)
    assert bad.returncode == 2
    both = run_cli("user", "add", "z", "--operator", "--kassa", "701", "--password-file", str(pw),
                   data_dir=data_dir, check=False)
    assert both.returncode == 2

    run_cli("user", "disable", "shop", data_dir=data_dir)
    assert "shop  merchant  disabled" in run_cli("user", "list", data_dir=data_dir).stdout
    after_disable = stored(data_dir, "shop")
    assert after_disable is not None and after_disable.session_epoch > shop.session_epoch

    pw.write_text("second password\n")
    run_cli("user", "passwd", "shop", "--password-file", str(pw), data_dir=data_dir)
    again = stored(data_dir, "shop")
    assert again is not None and not again.disabled and again.session_epoch > after_disable.session_epoch
    assert verify_password(again.password_hash, "second password")
    assert not verify_password(again.password_hash, "first password")
    nobody = run_cli("user", "disable", "nobody", data_dir=data_dir, check=False)
    assert nobody.returncode == 1 and "no user nobody" in nobody.stderr
