"""``kassagate backup DIR`` and ``kassagate restore DIR`` (``kassagate/backup.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from kassagate.cli.common import fail, settings
from kassagate.cli.manage import DataDir
from kassagate.config import Settings

PG_DUMP_HINT = (
    "the service database is PostgreSQL and is not in this backup: dump it with pg_dump "
    "(docs/operations.md, 'Backup and restore')"
)


def _sqlite_file(s: Settings) -> Path | None:
    url = s.effective_database_url
    if not url.startswith("sqlite"):
        return None
    return Path(make_url(url).database or "")


def backup(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A new (or empty) directory for the backup.")],
    data_dir: DataDir = None,
) -> None:
    """Back up the data dir while the system runs: the SQLite database, every register's
    journal, the keys and other files, with a manifest of SHA-256 sums."""
    from kassagate.backup import BackupError, make_backup
    from kassagate.storage.db import open_database
    from kassagate.storage.manage import journal_paths

    s = settings(data_dir=data_dir)

    async def journals() -> list[str]:
        db = await open_database(s.effective_database_url)
        try:
            return await journal_paths(db)
        finally:
            await db.close()

    try:
        result = make_backup(s.data_dir, directory, sqlite_database=_sqlite_file(s), journals=asyncio.run(journals()))
    except BackupError as exc:
        raise fail(str(exc)) from None
    roles: dict[str, int] = {}
    for f in result.files:
        roles[f["role"]] = roles.get(f["role"], 0) + 1
    counted = ", ".join(f"{n} {role}" for role, n in sorted(roles.items()))
    n = len(result.files)
    typer.echo(f"backup written to {directory.resolve()}: {n} file{'' if n == 1 else 's'} ({counted}), manifest.json")
    if not result.database_included:
        typer.echo(f"note: {PG_DUMP_HINT}", err=True)


def restore(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by kassagate backup.")],
    force: Annotated[bool, typer.Option("--force", help="Move a non-empty data dir aside.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Restore a backup into an empty data dir, after checking every file against the
    manifest. Stop kassagate first."""
    from kassagate.backup import BackupError, restore_backup

    s = settings(data_dir=data_dir)
    try:
        manifest, moved = restore_backup(directory, s.data_dir, sqlite_database=_sqlite_file(s), force=force)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if moved is not None:
        typer.echo(f"the former data dir was moved to {moved}")
    typer.echo(
        f"restored {len(manifest['files'])} files of the backup of {manifest['created_at']} "
        f"(kassagate {manifest['kassagate_version']}) into {s.data_dir.resolve()}"
    )
    if not any(f["role"] == "database" for f in manifest["files"]):
        typer.echo("note: the backup holds no database (PostgreSQL): restore it with pg_restore "
                   "(docs/operations.md, 'Backup and restore')", err=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
