"""Backup and restore of a data dir (kassagate/backup.py): an online copy of an SQLite file
being written is one consistent snapshot; a damaged or hostile backup is refused before
anything is written; restore never overwrites a data dir unless told to move it aside."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from kassagate.backup import BackupError, make_backup, read_manifest, restore_backup
from kassagate.storage.backup import sqlite_online_copy


def test_online_copy_of_a_database_being_written_is_a_consistent_snapshot(tmp_path: Path) -> None:
    source = tmp_path / "busy.sqlite3"
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER NOT NULL)")
    conn.commit()
    conn.close()
    stop, started = threading.Event(), threading.Event()

    def writer() -> None:
        w = sqlite3.connect(source, timeout=10)
        i = 0
        while not stop.is_set():
            i += 1
            with w:  # every transaction writes two rows whose sums must match
                w.execute("INSERT INTO t (a, b) VALUES (?, 0)", (i,))
                w.execute("INSERT INTO t (a, b) VALUES (0, ?)", (i,))
            started.set()
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    assert started.wait(10)
    try:
        copies = []
        for n in range(5):
            target = tmp_path / f"copy-{n}.sqlite3"
            sqlite_online_copy(source, target)
            copies.append(target)
    finally:
        stop.set()
        t.join()
    for target in copies:
        assert not Path(f"{target}-wal").exists()
        c = sqlite3.connect(target)
        count, sum_a, sum_b, max_id = c.execute("SELECT count(*), sum(a), sum(b), max(id) FROM t").fetchone()
        c.close()
        assert count > 0 and count % 2 == 0 and sum_a == sum_b and max_id == count


def _data_dir(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    (data / "keys" / "current").mkdir(parents=True)
    (data / "registers").mkdir()
    key = data / "keys" / "current" / "rsa_first.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a real key\n")
    os.chmod(key, 0o600)
    (data / "demo.json").write_text('{"token": "x"}')
    os.chmod(data / "demo.json", 0o644)
    for name in ("kassagate.sqlite3", "registers/kkt-1.sqlite3"):
        c = sqlite3.connect(data / name)
        c.execute("CREATE TABLE x (v TEXT)")
        c.execute("INSERT INTO x VALUES (?)", (name,))
        c.commit()
        c.close()
    return data, data / "kassagate.sqlite3"


def test_backup_and_restore_round_trip_with_modes(tmp_path: Path) -> None:
    data, db = _data_dir(tmp_path)
    result = make_backup(data, tmp_path / "bk", sqlite_database=db, journals=["registers/kkt-1.sqlite3"])
    roles = {f["path"]: (f["role"], f["mode"]) for f in result.files}
    assert roles == {
        "kassagate.sqlite3": ("database", "0600"),
        "registers/kkt-1.sqlite3": ("register", "0600"),
        "keys/current/rsa_first.pem": ("key", "0600"),
        "demo.json": ("file", "0644"),
    }
    assert stat.S_IMODE((tmp_path / "bk").stat().st_mode) == 0o700
    target = tmp_path / "restored"
    manifest, moved = restore_backup(tmp_path / "bk", target, sqlite_database=target / "kassagate.sqlite3",
                                     force=False)
    assert moved is None and len(manifest["files"]) == 4
    for rel, (_role, mode) in roles.items():
        assert (target / rel).read_bytes() == (tmp_path / "bk" / rel).read_bytes()
        assert stat.S_IMODE((target / rel).stat().st_mode) == int(mode, 8)
    c = sqlite3.connect(target / "registers" / "kkt-1.sqlite3")
    assert c.execute("SELECT v FROM x").fetchall() == [("registers/kkt-1.sqlite3",)]
    c.close()

    # a non-empty data dir: refused, or with force moved aside (nothing deleted)
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(tmp_path / "bk", target, sqlite_database=target / "kassagate.sqlite3", force=False)
    (target / "marker").write_text("old")
    _, moved = restore_backup(tmp_path / "bk", target, sqlite_database=target / "kassagate.sqlite3", force=True)
    assert moved is not None and (moved / "marker").read_text() == "old" and not (target / "marker").exists()


def test_backup_refuses_a_target_in_use_or_inside_the_data_dir(tmp_path: Path) -> None:
    data, db = _data_dir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        make_backup(data, tmp_path / "full", sqlite_database=db, journals=[])
    with pytest.raises(BackupError, match="inside the data dir"):
        make_backup(data, data / "bk", sqlite_database=db, journals=[])
    with pytest.raises(BackupError, match="does not exist"):
        make_backup(tmp_path / "nope", tmp_path / "bk", sqlite_database=db, journals=[])


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (lambda m: m["files"].append({"path": "../escape", "mode": "0600", "size": 0, "sha256": ""}), "unsafe path"),
        (lambda m: m["files"].append({"path": "/etc/passwd", "mode": "0600", "size": 0, "sha256": ""}), "unsafe"),
        (lambda m: m["files"].append({"path": "missing", "mode": "0600", "size": 0, "sha256": ""}), "lacks"),
        (lambda m: m["files"].append("not a record"), "not a file record"),
        (lambda m: m["files"][0].update(mode="rwx"), "not a file record"),
        (lambda m: m["files"][0].update(sha256="0" * 64), "damaged"),
        (lambda m: m.update(format=99), "format"),
    ],
)
def test_a_tampered_manifest_is_refused_before_anything_is_written(tmp_path: Path, tamper: object,
                                                                   words: str) -> None:
    data, db = _data_dir(tmp_path)
    make_backup(data, tmp_path / "bk", sqlite_database=db, journals=["registers/kkt-1.sqlite3"])
    path = tmp_path / "bk" / "manifest.json"
    manifest = json.loads(path.read_text())
    tamper(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=words):
        read_manifest(tmp_path / "bk")
    target = tmp_path / "restored"
    with pytest.raises(BackupError):
        restore_backup(tmp_path / "bk", target, sqlite_database=target / "kassagate.sqlite3", force=False)
    assert not target.exists()
