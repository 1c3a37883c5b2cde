"""``kassagate user add``, ``user list``, ``user passwd``, ``user disable``: the cabinet's users.

A password is asked for at a prompt (typed twice, not echoed), or read from the first line
of ``--password-file`` (``-``: the standard input), so that it never shows in the process
list or the shell history.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kassagate.config import ConfigError, Settings, load_settings

user_app = typer.Typer(help="The cabinet's users: operators and merchants.", no_args_is_help=True)

LOGIN_RE = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 8
ID_RE = re.compile(r"[0-9]{1,20}")
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (KASSAGATE_DATA_DIR).")]
PasswordFile = Annotated[
    Path | None,
    typer.Option("--password-file", help="Read the password from this file's first line ('-': stdin)."),
]


def _settings(data_dir: Path | None) -> Settings:
    try:
        return load_settings(data_dir=data_dir)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _check_login(login: str) -> None:
    if not LOGIN_RE.fullmatch(login):
        raise _fail("LOGIN must be 1 to 64 letters, digits or . _ @ -", 2)


def read_password(password_file: Path | None) -> str:
    if password_file is None:
        password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    elif str(password_file) == "-":
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"cannot read the password file: {type(exc).__name__}", 2) from None
        password = lines[0] if lines else ""
    if len(password) < MIN_PASSWORD:
        raise _fail(f"the password must be at least {MIN_PASSWORD} characters", 2)
    if len(password) > 1024:
        raise _fail("the password must be at most 1024 characters", 2)
    return password


def _run(settings: Settings, work: Any) -> Any:
    """``work(users)`` on the service database; a missing or duplicate row is a one-line error."""
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import DuplicateError, NotFoundError
    from kassagate.storage.users import Users

    async def run() -> Any:
        db = await open_database(settings.effective_database_url)
        try:
            return await work(Users(db))
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except (DuplicateError, NotFoundError) as exc:
        raise _fail(str(exc)) from None


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="The login.")],
    operator: Annotated[bool, typer.Option("--operator", help="An operator (sees everything).")] = False,
    kassa: Annotated[list[str] | None, typer.Option("--kassa", help="A kassa the merchant owns (repeat).")] = None,
    cluster: Annotated[
        list[str] | None, typer.Option("--cluster", help="A cluster the merchant owns (repeat).")
    ] = None,
    password_file: PasswordFile = None,
    data_dir: DataDir = None,
) -> None:
    """Create a cabinet user: a merchant (sees only its kassas and clusters) or an operator."""
    from kassagate.cabinet.auth import hash_password

    _check_login(login)
    kassas, clusters = kassa or [], cluster or []
    for value in (*kassas, *clusters):
        if not ID_RE.fullmatch(value):
            raise _fail("--kassa and --cluster take 1 to 20 decimal digits", 2)
    if operator and (kassas or clusters):
        raise _fail("an operator sees every kassa: --kassa and --cluster are for merchants", 2)
    settings = _settings(data_dir)
    password_hash = hash_password(read_password(password_file))
    role = "operator" if operator else "merchant"
    _run(settings, lambda users: users.add(login, password_hash=password_hash, role=role, kassa_ids=kassas,
                                           cluster_ids=clusters))
    owns = "" if operator else f" owning kassas [{', '.join(kassas)}] and clusters [{', '.join(clusters)}]"
    typer.echo(f"user {login} added ({role}{owns})")


@user_app.command("list")
def user_list(data_dir: DataDir = None) -> None:
    """The users: login, role, state, and what a merchant owns."""
    settings = _settings(data_dir)

    async def work(users: Any) -> Any:
        return await users.list()

    for u in _run(settings, work):
        state = "disabled" if u.disabled else "active"
        owns = ""
        if not u.is_operator:
            owns = f"  kassas: {','.join(u.kassas) or '-'}  clusters: {','.join(u.clusters) or '-'}"
        typer.echo(f"{u.login}  {u.role}  {state}{owns}")


@user_app.command("passwd")
def user_passwd(
    login: Annotated[str, typer.Argument(help="The login.")],
    password_file: PasswordFile = None,
    data_dir: DataDir = None,
) -> None:
    """Set a new password (and enable a disabled user); the user's open sessions end."""
    from kassagate.cabinet.auth import hash_password

    _check_login(login)
    settings = _settings(data_dir)
    password_hash = hash_password(read_password(password_file))
    _run(settings, lambda users: users.set_password(login, password_hash))
    typer.echo(f"user {login}: password changed")


@user_app.command("disable")
def user_disable(login: Annotated[str, typer.Argument(help="The login.")], data_dir: DataDir = None) -> None:
    """The user can no longer sign in; its open sessions end (user passwd enables it again)."""
    _check_login(login)
    _run(_settings(data_dir), lambda users: users.disable(login))
    typer.echo(f"user {login} disabled")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
