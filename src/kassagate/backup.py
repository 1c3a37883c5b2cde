"""``kassagate backup`` and ``kassagate restore`` (``docs/operations.md``).

A backup is a directory: the service database (SQLite), the journal of every virtual
register, the key files and every other file of the data dir, and ``manifest.json``
(format, kassagate version, time, and each file's path, size, mode and SHA-256).

Taken while the system runs. SQLite files are copied with SQLite's online backup API, each
as one consistent snapshot. The service database is copied first, the register journals
after it: a register commits a document before processing records it as fiscalized, so
every request the copied database calls fiscalized is in the copied journal. A journal
copied a moment later may hold a document more than its request records; after a restore,
processing sends that request again and the register recognises the resend (the same
``docNumber``), so nothing is fiscalized twice.

With PostgreSQL the database is not in the backup: it is dumped with ``pg_dump``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kassagate import __version__
from kassagate.storage.backup import sqlite_online_copy

MANIFEST = "manifest.json"
FORMAT = 1
#: Where a service database that lies outside the data dir is kept in a backup.
DATABASE_ENTRY = "kassagate.sqlite3"
#: Files SQLite keeps beside a database while it is open: never copied as such.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    directory: Path
    files: list[dict[str, Any]]
    database_included: bool


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _entry(root: Path, rel: str, role: str) -> dict[str, Any]:
    path = root / rel
    return {
        "path": rel,
        "role": role,
        "size": path.stat().st_size,
        "mode": f"{stat.S_IMODE(path.stat().st_mode):04o}",
        "sha256": _sha256(path),
    }


def _inside(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` (POSIX form), or None when it lies outside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _other_files(data_dir: Path, skip: set[str]) -> Iterable[str]:
    """Every regular file of the data dir not named in ``skip`` nor beside an SQLite file."""
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(data_dir).as_posix()
        if rel in skip or any(rel.endswith(s) and rel[: -len(s)] in skip for s in _SQLITE_SIDE_FILES):
            continue
        if rel.endswith(".sqlite3") or any(rel.endswith(".sqlite3" + s) for s in _SQLITE_SIDE_FILES):
            continue  # another SQLite file: copied with the backup API by the caller
        yield rel


def make_backup(
    data_dir: Path, target: Path, *, sqlite_database: Path | None, journals: Iterable[str]
) -> BackupResult:
    """Back up ``data_dir`` into ``target`` (absent or empty). ``sqlite_database``: the
    service database's file (None: PostgreSQL, not included); ``journals``: the virtual
    registers' journal paths as the ``kkts`` table records them (relative to the data dir
    or absolute)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise BackupError(f"the data dir {data_dir} does not exist")
    if target.exists() and not _is_empty_dir(target):
        raise BackupError(f"{target} exists and is not empty: give a new directory")
    if _inside(target, data_dir) is not None:
        raise BackupError(f"{target} is inside the data dir: give a directory outside it")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    files: list[dict[str, Any]] = []
    sqlite_done: set[str] = set()

    def copy_sqlite(source: Path, rel: str, role: str) -> None:
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        sqlite_online_copy(source, out)
        os.chmod(out, 0o600)
        _fsync(out)
        files.append(_entry(target, rel, role))
        sqlite_done.add(rel)

    # 1. the service database, 2. the register journals (the order the module docstring explains)
    if sqlite_database is not None:
        if not sqlite_database.exists():
            raise BackupError(f"the service database {sqlite_database} does not exist")
        copy_sqlite(sqlite_database, _inside(sqlite_database, data_dir) or DATABASE_ENTRY, "database")
    for stored in journals:
        path = Path(stored)
        path = path if path.is_absolute() else data_dir / path
        rel = _inside(path, data_dir)
        if rel is None:
            raise BackupError(f"register journal {path} lies outside the data dir; copy it yourself")
        if path.exists() and rel not in sqlite_done:
            copy_sqlite(path, rel, "register")
    for path in sorted(data_dir.rglob("*.sqlite3")):
        rel = path.relative_to(data_dir).as_posix()
        if rel not in sqlite_done and path.is_file():
            copy_sqlite(path, rel, "sqlite")  # a standalone register (kassagate cashbox)
    # 3. keys and every other file, modes kept
    for rel in _other_files(data_dir, sqlite_done):
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy2(data_dir / rel, out)
        _fsync(out)
        files.append(_entry(target, rel, "key" if rel.startswith("keys/") else "file"))
    manifest = {
        "format": FORMAT,
        "kassagate_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": "sqlite" if sqlite_database is not None else "postgresql (not included: use pg_dump)",
        "files": files,
    }
    manifest_path = target / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    os.chmod(manifest_path, 0o600)
    _fsync(manifest_path)
    return BackupResult(target, files, sqlite_database is not None)


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, after checking every file it lists (size and SHA-256)."""
    path = source / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a kassagate backup") from None
    except ValueError:
        raise BackupError(f"{path} is not valid JSON") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a kassagate backup manifest of format {FORMAT}")
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("mode"), str) or not re.fullmatch(r"0[0-7]{3}", f["mode"]):
            raise BackupError(f"{path} has an entry that is not a file record: {str(f)[:100]}")
        rel = str(f.get("path", ""))
        if not rel or rel.startswith("/") or ".." in Path(rel).parts:
            raise BackupError(f"{path} names an unsafe path {rel!r}")
        file = source / rel
        if not file.is_file():
            raise BackupError(f"the backup lacks {rel}")
        if file.stat().st_size != f.get("size") or _sha256(file) != f.get("sha256"):
            raise BackupError(f"{rel} in the backup is damaged (its SHA-256 differs from the manifest's)")
    return manifest


def restore_backup(
    source: Path, data_dir: Path, *, sqlite_database: Path | None, force: bool
) -> tuple[dict[str, Any], Path | None]:
    """Restore the backup ``source`` into ``data_dir``, after checking it. The data dir must
    be absent or empty; with ``force`` an existing one is moved aside first (its new name is
    returned). ``sqlite_database``: where the service database goes (None: PostgreSQL)."""
    manifest = read_manifest(source)
    has_db = any(f.get("role") == "database" for f in manifest["files"])
    if has_db and sqlite_database is None:
        raise BackupError("the backup holds an SQLite service database, but the configured database is "
                          "PostgreSQL: restore with the SQLite database URL, or load the data with pg_restore")
    in_use = data_dir.exists() and not _is_empty_dir(data_dir)
    outside = sqlite_database is not None and _inside(sqlite_database, data_dir) is None
    replace_db = sqlite_database is not None and has_db and outside and sqlite_database.exists()
    if in_use and not force:
        raise BackupError(f"the data dir {data_dir} is not empty: restore into an empty one, or give --force "
                          "to move it aside")
    if replace_db and not force:
        raise BackupError(f"the service database {sqlite_database} exists: give --force to replace it")
    moved: Path | None = None
    if in_use:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        moved = data_dir.with_name(f"{data_dir.name}.replaced-{stamp}")
        data_dir.rename(moved)
    if replace_db:
        for suffix in ("", *_SQLITE_SIDE_FILES):
            Path(f"{sqlite_database}{suffix}").unlink(missing_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    for f in manifest["files"]:
        rel = f["path"]
        if f.get("role") == "database" and sqlite_database is not None:
            out = sqlite_database
        else:
            out = data_dir / rel
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(source / rel, out)
        os.chmod(out, int(f["mode"], 8))
        _fsync(out)
        if _sha256(out) != f["sha256"]:
            raise BackupError(f"{out} differs from the backup after copying: check the disk")
    return manifest, moved
