"""Running it like a service, with real processes: a backup taken while ``kassagate serve``
runs restores every request and journal; a failed request requeued from the command line
is fiscalized once; the operator commands print no secret, and their ``--json`` output is
pure JSON with the data dir and database named on standard error."""

from __future__ import annotations

import json
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassagate.client import KassaClient
from support.receipts import product, receipt
from support.system import Process, free_port, kassagate_env, run_cli


def start_serve(data_dir: Path, env: dict[str, str], log: Path) -> tuple[Process, str]:
    port = free_port()
    server = Process(["serve", "--port", str(port)], env=env, ready_url=f"http://127.0.0.1:{port}/v1/keys",
                     log_path=log).start(timeout=120)
    return server, f"http://127.0.0.1:{port}"


def journal(data_dir: Path, env: dict[str, str], kassaid: str) -> list[dict[str, Any]]:
    out = run_cli("kkt", "journal", kassaid, data_dir=data_dir, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_backup_of_a_running_system_restores_every_request_and_journal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # The installation's public address is a setting: the same before and after a restore,
    # wherever the restored server listens.
    env = kassagate_env(data_dir, KASSAGATE_PUBLIC_URL="https://kassa.example.com")
    env.pop("KASSAGATE_DATABASE_URL", None)
    backup_dir = tmp_path / "backup"
    server, url = start_serve(data_dir, env, tmp_path / "serve.log")
    sent: dict[str, list[tuple[str, str, Any]]] = {}
    try:
        for kassaid in ("501", "502"):
            run_cli("kassa", "add", kassaid, "--token", f"token-of-kassa-{kassaid}", data_dir=data_dir, env=env)
            with KassaClient(url, kassaid=kassaid, kassatoken=f"token-of-kassa-{kassaid}") as k:
                for i in range(3):
                    answer = k.send(receipt(kassaid, f"token-of-kassa-{kassaid}", products=[product(price=1000 + i)]),
                                    rid=f"order-{i}")
                    assert answer.accepted, answer
                    sent.setdefault(kassaid, []).append((answer.nuid, answer.qnuid, None))
                sent[kassaid] = [(n, q, k.wait_fiscalized(n, q, timeout=30)) for n, q, _ in sent[kassaid]]
        assert all(st.fiscalized for rows in sent.values() for _, _, st in rows)
        journals = {kassaid: journal(data_dir, env, kassaid) for kassaid in sent}

        done = run_cli("backup", str(backup_dir), data_dir=data_dir, env=env)  # while serve runs
        assert "backup written to" in done.stdout and f"data dir {data_dir.resolve()}" in done.stderr
    finally:
        server.stop()

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    roles = {f["path"]: f["role"] for f in manifest["files"]}
    assert roles["kassagate.sqlite3"] == "database"
    assert sum(role == "register" for role in roles.values()) == 2
    assert any(role == "key" and path.endswith(".pem") for path, role in roles.items())

    shutil.rmtree(data_dir)
    restored = run_cli("restore", str(backup_dir), data_dir=data_dir, env=env)
    assert "restored" in restored.stdout
    for f in manifest["files"]:
        if f["role"] == "key":
            assert stat.S_IMODE((data_dir / f["path"]).stat().st_mode) == int(f["mode"], 8) == 0o600

    server, url = start_serve(data_dir, env, tmp_path / "serve-restored.log")
    try:
        for kassaid, rows in sent.items():
            with KassaClient(url, kassaid=kassaid, kassatoken=f"token-of-kassa-{kassaid}") as k:
                for nuid, qnuid, before in rows:
                    after = k.get_status(nuid, qnuid)
                    assert after == before
                    assert (after.check_num_fd, after.check_num_fp, after.check_fn_num) == (
                        before.check_num_fd, before.check_num_fp, before.check_fn_num)
            assert journal(data_dir, env, kassaid) == journals[kassaid]
    finally:
        server.stop()

    # restore never overwrites a data dir in use, nor restores a damaged backup
    refused = run_cli("restore", str(backup_dir), data_dir=data_dir, env=env, check=False)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    key = next(f["path"] for f in manifest["files"] if f["role"] == "key")
    (damaged / key).write_bytes((damaged / key).read_bytes()[:-2] + b"\n\n")
    refused = run_cli("restore", str(damaged), data_dir=tmp_path / "elsewhere", env=env, check=False)
    assert refused.returncode == 1 and "damaged" in refused.stderr
    assert not (tmp_path / "elsewhere" / "kassagate.sqlite3").exists()


def test_backup_with_postgresql_copies_keys_and_registers_and_names_pg_dump(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "data"
    env = kassagate_env(data_dir, KASSAGATE_DATABASE_URL=pg_url)
    run_cli("kassa", "add", "511", "--token", "token-of-kassa-511", data_dir=data_dir, env=env)
    run_cli("keys", "show", data_dir=data_dir, env=env)
    done = run_cli("backup", str(tmp_path / "bk"), data_dir=data_dir, env=env)
    assert "pg_dump" in done.stderr
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    roles = sorted({f["role"] for f in manifest["files"]})
    assert roles == ["key", "register"] and manifest["database"].startswith("postgresql")


@pytest.fixture
def cashbox(tmp_path: Path) -> Iterator[tuple[Process, str, Path, dict[str, str]]]:
    port = free_port()
    reg_dir = tmp_path / "register"
    reg_env = kassagate_env(reg_dir, KASSAGATE_MERCHANT_ID="merchant-requeue-secret")
    register = Process(["cashbox", "--port", str(port)], env=reg_env, ready_url=None,
                       log_path=tmp_path / "cashbox.log")
    yield register, f"http://127.0.0.1:{port}", reg_dir, reg_env
    register.stop()


def wait_listening(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.post(url + "/get_info", content=b"data=&sign=", timeout=1)
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_failed_request_requeued_from_the_command_line_is_fiscalized_once(
    tmp_path: Path, cashbox: tuple[Process, str, Path, dict[str, str]]
) -> None:
    register, reg_url, reg_dir, reg_env = cashbox
    data_dir = tmp_path / "data"
    env = kassagate_env(data_dir, KASSAGATE_RETRY_BUDGET="1", KASSAGATE_RETRY_BASE_SECONDS="0.05")
    env.pop("KASSAGATE_DATABASE_URL", None)
    server, url = start_serve(data_dir, env, tmp_path / "serve.log")
    outputs: list[str] = []

    def cli(*args: str, check: bool = True) -> Any:
        p = run_cli(*args, data_dir=data_dir, env=env, check=check)
        outputs.append(p.stdout + p.stderr)
        return p

    try:
        register.start()
        wait_listening(reg_url)
        cli("kassa", "add", "601", "--token", "tok-601-secret001", "--kkt", reg_url,
            "--merchant-id", "merchant-requeue-secret")
        register.stop()  # connections refused: the request fails, and provably reached no register
        with KassaClient(url, kassaid="601", kassatoken="tok-601-secret001") as k:
            answer = k.send(receipt("601", "tok-601-secret001"), rid="order-rq")
            assert answer.accepted, answer
            st = k.wait_fiscalized(answer.nuid, answer.qnuid, timeout=30)
            assert st.failed and st.error_code == 70, st

            listed = json.loads(cli("requests", "list", "--kassa", "601", "--state", "failed", "--json").stdout)
            assert [r["nuid"] for r in listed] == [answer.nuid]
            register.start()
            wait_listening(reg_url)
            p = cli("requests", "requeue", answer.nuid)
            assert "requeued" in p.stdout
            again = cli("requests", "requeue", answer.nuid, check=False)
            assert again.returncode == 1 and "only a failed request" in again.stderr
            st = k.wait_fiscalized(answer.nuid, answer.qnuid, timeout=30)
            assert st.fiscalized, st

        shown = json.loads(cli("requests", "show", "--rid", "order-rq", "--kassa", "601", "--json").stdout)
        [req] = shown
        assert req["status_name"] == "fiscalized" and req["fd_number"] == st.check_num_fd
        assert "requeued" in [e["kind"] for e in req["events"]]
        assert req["receipt"]["oplata_arr"]["client_email"] == "***"
        text = cli("requests", "show", answer.nuid).stdout
        assert "requeued" in text and "fiscalized" in text

        kassas = json.loads(cli("kassa", "list", "--json").stdout)
        assert [(x["kassaid"], x["requests"]) for x in kassas] == [("601", {"fiscalized": 1})]
        [kkt] = json.loads(cli("kkt", "list", "--json").stdout)
        assert (kkt["kind"], kkt["kassas"], kkt["reachable"], kkt["device_fn_state"]) == ("remote", ["601"], True, "ok")
        assert kkt["shift_open"] is True
        cli("kkt", "show", "601")
        cli("kassa", "show", "601")
        p = cli("kassa", "delete", "601", check=False)
        assert p.returncode == 1 and "disable it instead" in p.stderr
        assert "disabled" in cli("kassa", "disable", "601").stdout
        with KassaClient(url, kassaid="601", kassatoken="tok-601-secret001") as k:
            deadline = time.monotonic() + 5
            while (code := k.send(receipt("601", "tok-601-secret001")).code) != 310:
                assert time.monotonic() < deadline, code
                time.sleep(0.2)
    finally:
        server.stop()

    register.stop()
    assert "kassagate cashbox stopped" in register.log()
    lines = run_cli("cashbox-journal", data_dir=reg_dir, env=reg_env).stdout
    docs = [json.loads(x) for x in lines.splitlines() if x.strip()]
    assert [d["fd"] for d in docs if d.get("docNumber") == answer.nuid] == [st.check_num_fd]
    everything = "\n".join(outputs)
    assert f"data dir {data_dir.resolve()}" in everything
    for secret in ("tok-601-secret001", "merchant-requeue-secret", "buyer@example.com"):
        assert secret not in everything


def test_worker_says_when_it_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = kassagate_env(data_dir)
    env.pop("KASSAGATE_DATABASE_URL", None)
    worker = Process(["worker"], env=env, ready_url=None, log_path=tmp_path / "worker.log").start()
    try:
        deadline = time.monotonic() + 60
        while "running" not in worker.log():
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.1)
    finally:
        worker.stop()
    log = worker.log()
    assert f"data dir {data_dir.resolve()}" in log
    assert log.index("stopping") < log.index("stopped")


def test_global_flags_and_the_configuration_file_reach_the_commands(tmp_path: Path) -> None:
    conf = tmp_path / "kassagate.toml"
    conf.write_text(f'data_dir = "{tmp_path / "from-file"}"\nlog_level = "warning"\n')
    env = kassagate_env(tmp_path)
    for name in ("KASSAGATE_DATA_DIR", "KASSAGATE_DATABASE_URL", "KASSAGATE_CONFIG"):
        env.pop(name, None)
    p = run_cli("--config", str(conf), "kassa", "add", "801", "--token", "tok-801-secret001",
                data_dir=tmp_path, env=env)
    assert (tmp_path / "from-file" / "kassagate.sqlite3").exists()
    assert f"data dir {tmp_path / 'from-file'}" in p.stderr and f"configuration {conf}" in p.stderr

    env["KASSAGATE_CONFIG"] = str(conf)
    listed = run_cli("kassa", "list", "--json", data_dir=tmp_path, env=env)
    assert [k["kassaid"] for k in json.loads(listed.stdout)] == ["801"]  # stdout: JSON alone

    other = tmp_path / "other.sqlite3"
    p = run_cli("--database-url", f"sqlite:///{other}", "kassa", "list", "--json", data_dir=tmp_path, env=env)
    assert json.loads(p.stdout) == [] and other.exists() and f"database SQLite {other}" in p.stderr

    p = run_cli("--log-level", "loud", "kassa", "list", data_dir=tmp_path, env=env, check=False)
    assert p.returncode == 2 and "--log-level must be one of" in p.stderr
    conf.write_text("prot = 80\n")
    p = run_cli("kassa", "list", data_dir=tmp_path, env=env, check=False)
    assert p.returncode == 2 and "unknown setting(s) prot" in p.stderr and "Traceback" not in p.stderr
