"""No secret and no customer contact reaches the whole system's log, even at DEBUG: the
kassa token, the merchant ID of a register, the callback secret, the private keys, the
buyer's e-mail and phone."""

from __future__ import annotations

import re
from pathlib import Path

from kassagate.client import KassaClient
from support.receipts import receipt
from support.system import Process, free_port, kassagate_env, run_cli


def test_debug_log_of_the_whole_system_holds_no_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    token, merchant = "tok-Secret-9f8e7d6c", "merchant-Secret-1a2b3c"
    email, phone = "very.private@example.org", "+79161234567"
    env = kassagate_env(data_dir, KASSAGATE_LOG_LEVEL="DEBUG")
    run_cli("kassa", "add", "880", "--token", token, "--merchant-id", merchant, data_dir=data_dir, env=env)
    out = run_cli("callback", "set", "880", "--url", f"http://127.0.0.1:{free_port()}/cb", data_dir=data_dir, env=env)
    callback_secret = out.stdout.rsplit(" ", 1)[-1].strip()
    server = Process(
        ["serve", "--port", str(port)],
        env=env,
        ready_url=f"http://127.0.0.1:{port}/v1/keys",
        log_path=tmp_path / "serve.log",
    ).start(timeout=120)
    try:
        with KassaClient(f"http://127.0.0.1:{port}", kassaid="880", kassatoken=token) as k:
            by_email = receipt("880", token)
            by_email["oplata_arr"]["client_email"] = email
            a = k.send(by_email, rid="secret-1")
            by_phone = receipt("880", token, check_send_type="phone")
            by_phone["oplata_arr"].update(client_phone=phone, client_email="")
            b = k.send(by_phone, rid="secret-2")
            for ans in (a, b):
                assert ans.accepted, ans
                assert k.wait_fiscalized(ans.nuid, ans.qnuid, timeout=20).check_status == 1
            wrong = KassaClient(f"http://127.0.0.1:{port}", kassaid="880", kassatoken=token + "x", keys=k.keys)
            assert wrong.send(receipt("880", token + "x")).code == 320
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "DEBUG" in log  # the level took effect
    private_keys = [p.read_text() for p in data_dir.rglob("*.pem") if "PRIVATE" in p.read_text()]
    assert len(private_keys) == 2
    for secret in [token, token + "x", merchant, callback_secret, email, phone, *private_keys]:
        assert secret not in log
    assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", log)


def test_everything_in_the_data_dir_is_private_to_its_user(tmp_path: Path) -> None:
    """The data dir holds the private keys, the service database (merchant IDs, callback
    secrets, token hashes) and the registers' journals (the FN keys)."""
    data_dir = tmp_path / "data"
    run_cli("kassa", "add", "881", "--token", "token-of-kassa-881", data_dir=data_dir)
    run_cli("keys", "show", data_dir=data_dir)
    paths = [p for p in data_dir.rglob("*")]
    assert any(p.name.endswith(".pem") for p in paths) and any(p.suffix == ".sqlite3" for p in paths)
    for p in paths:
        assert p.stat().st_mode & 0o077 == 0, f"{p} is readable by others: {oct(p.stat().st_mode)}"
