"""``kassagate serve``, ``worker``, ``kkt fault``, ``kkt journal``, ``callback set``."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from kassagate.config import Settings
from kassagate.core.states import FN_FAULTS

kkt_app = typer.Typer(help="The registers (KKT): list, show, fault injection, fiscal journal.", no_args_is_help=True)
callback_app = typer.Typer(
    help="Callbacks: where kassagate POSTs a request's status when it ends.", no_args_is_help=True
)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (KASSAGATE_DATA_DIR).")]



def _run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived service on uvloop (the loop uvicorn is measured with)."""
    import uvloop

    uvloop.run(main)

def _settings(**overrides: Any) -> Settings:
    from kassagate.cli.common import settings

    return settings(**overrides)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


async def _open_kassa(settings: Settings, kassaid: str) -> tuple[Any, Any]:
    """The database and the kassa; the command fails, saying so, when there is no such kassa."""
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import Accounts

    db = await open_database(settings.effective_database_url)
    kassa = await Accounts(db).get_kassa(kassaid)
    if kassa is None:
        await db.close()
        raise _fail(f"no kassa {kassaid}")
    return db, kassa


async def _kassa_register(settings: Settings, kassaid: str) -> tuple[Any, Any, Path | None]:
    db, kassa = await _open_kassa(settings, kassaid)
    if kassa.kkt is None:
        await db.close()
        raise _fail(f"kassa {kassaid} is bound to no register")
    return db, kassa, kassa.kkt.journal_file(settings.data_dir)


@kkt_app.command("fault")
def kkt_fault(
    kassaid: Annotated[str, typer.Argument(help="The kassa whose virtual register to change.")],
    fn: Annotated[str, typer.Option("--fn", help="FN state: ok, full or broken.")],
    data_dir: DataDir = None,
) -> None:
    """Set the FN state of the kassa's virtual register (fault injection for tests and demos).

    A running server sees it at the register's next document and within 2 s in the intake."""
    if fn not in FN_FAULTS:
        raise _fail(f"--fn must be {', '.join(FN_FAULTS[:-1])} or {FN_FAULTS[-1]}")
    settings = _settings(data_dir=data_dir)

    async def run() -> None:
        from kassagate.cashbox.virtual import set_fn_state
        from kassagate.storage.repos import Accounts

        db, kassa, path = await _kassa_register(settings, kassaid)
        try:
            if path is None:
                raise _fail(f"kassa {kassaid}'s register is remote: inject faults on the device itself")
            set_fn_state(path, fn)  # type: ignore[arg-type]
            await Accounts(db).set_fn_state(kassa.kkt.id, fn)  # type: ignore[arg-type]
        finally:
            await db.close()

    asyncio.run(run())
    typer.echo(f"kassa {kassaid}: FN {fn}")


@kkt_app.command("journal")
def kkt_journal(
    kassaid: Annotated[str, typer.Argument(help="The kassa whose virtual register's journal to print.")],
    data_dir: DataDir = None,
) -> None:
    """The fiscal journal of the kassa's virtual register, one JSON object a line
    (fd, type, docNumber, amount, time, fiscalSign, ...). time: the register's local time
    with its UTC offset; docTime: as processing sent it (UTC). Works while serve runs."""
    settings = _settings(data_dir=data_dir)

    async def find() -> Path:
        db, _kassa, path = await _kassa_register(settings, kassaid)
        await db.close()
        if path is None:
            raise _fail(f"kassa {kassaid}'s register is remote: its journal is on the device")
        return path

    path = asyncio.run(find())
    from kassagate.cashbox.virtual import read_journal

    out = sys.stdout
    for entry in read_journal(path, offsets=True):
        out.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()


def _update_kassa(settings: Settings, kassaid: str, **values: Any) -> None:
    async def run() -> None:
        from kassagate.storage.repos import Accounts

        db, _kassa = await _open_kassa(settings, kassaid)
        try:
            await Accounts(db).update_kassa(kassaid, **values)
        finally:
            await db.close()

    asyncio.run(run())


@callback_app.command("set")
def callback_set(
    kassaid: Annotated[str, typer.Argument(help="The kassa.")],
    url: Annotated[str, typer.Option("--url", help="Where to POST the status (http:// or https://).")],
    data_dir: DataDir = None,
) -> None:
    """Set the kassa's callback URL and a new signing secret, printed once.

    Requests of the kassa that end from now on are POSTed there, signed with HMAC-SHA256
    (docs/processing.md)."""
    if not url.startswith(("http://", "https://")):
        raise _fail("--url must start with http:// or https://")
    secret = secrets.token_urlsafe(32)
    _update_kassa(_settings(data_dir=data_dir), kassaid, callback_url=url, callback_secret=secret)
    typer.echo(f"kassa {kassaid}: callbacks go to the URL given; signing secret (shown once): {secret}")


@callback_app.command("clear")
def callback_clear(kassaid: Annotated[str, typer.Argument(help="The kassa.")], data_dir: DataDir = None) -> None:
    """Stop callbacks for the kassa."""
    _update_kassa(_settings(data_dir=data_dir), kassaid, callback_url=None, callback_secret=None)
    typer.echo(f"kassa {kassaid}: no callbacks")


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (KASSAGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (KASSAGATE_PORT).")] = None,
    data_dir: DataDir = None,
    demo: Annotated[bool, typer.Option("--demo", help="Also create a demo kassa and print how to use it.")] = False,
    workers: Annotated[bool, typer.Option("--workers/--no-workers", help="Run processing in this process.")] = True,
) -> None:
    """The whole system in one process: front server, processing, virtual registers."""
    from kassagate.listen import ListenError, listen

    settings = _settings(announce=False, host=host, port=port, data_dir=data_dir)
    try:
        sock = listen(settings.host, settings.port)  # before the heavy imports: an address in use fails at once
    except ListenError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    from kassagate.system import run_serve

    _run_service(run_serve(settings, demo=demo, workers=workers, sock=sock))


def worker(
    data_dir: DataDir = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Serve this worker's Prometheus metrics on this port (at KASSAGATE_HOST).")] = None,
) -> None:
    """Processing alone, beside separate front servers on a shared database."""
    from kassagate.system import run_worker

    if metrics_port is not None and not 0 < metrics_port < 65536:
        raise _fail(f"--metrics-port must be 1-65535, got {metrics_port}")
    _run_service(run_worker(_settings(announce=False, data_dir=data_dir), metrics_port=metrics_port))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(kkt_app, name="kkt")
    app.add_typer(callback_app, name="callback")
