"""``kassagate cashbox``: one standalone virtual cash register speaking the Cashbox
protocol (``docs/cashbox.md``), and its companions:

- ``kassagate cashbox-journal``: its fiscal journal, one JSON object a line;
- ``kassagate cashbox-fault``: fault injection into a (running) register;
- ``kassagate cashbox-verify``: verify a receipt's fiscal sign (its QR string) with the FN key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
from contextlib import suppress
from pathlib import Path
from typing import Annotated, cast

import typer

from kassagate.cashbox.journal import Journal, JournalError
from kassagate.cashbox.virtual import (
    KEEP,
    VirtualRegister,
    configure,
    create_register,
    env_merchant_id,
    new_merchant_id,
    read_fn_key,
    read_journal,
    set_fault,
)
from kassagate.cli.common import settings
from kassagate.core.qr import verify_qr
from kassagate.core.register.clock import DEFAULT_ZONE_NAME
from kassagate.core.register.rules import parse_tax_rates
from kassagate.core.states import FN_FAULTS, FnFault
from kassagate.logs import configure_logging

log = logging.getLogger("kassagate.cashbox")

DEFAULT_PORT = 8008
JOURNAL_FILE = "cashbox.sqlite3"
MERCHANT_ID_FILE = "cashbox-merchant-id"

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (KASSAGATE_DATA_DIR; default "
                                                                   "./kassagate-data).")]


def _data_dir(d: Path | None) -> Path:
    return settings(data_dir=d, database=False).data_dir


def journal_path(data_dir: Path) -> Path:
    return data_dir / JOURNAL_FILE


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)


def prepare(data_dir: Path, merchant_id: str | None, auto_shift: bool, timezone: str, *,
            tax_rates: str | None = None, shift_id_type: str | None = None,
            fiscal_id_type: str | None = None) -> tuple[Path, str]:
    """Create the register on first start; apply a given merchant ID, the shift mode and
    the settings given (``tax_rates``: ``ru`` or ``1800,800,0``; None keeps the stored one).
    Returns (journal path, a sentence saying where the merchant ID is)."""
    rates = KEEP if tax_rates is None else parse_tax_rates(tax_rates)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = journal_path(data_dir)
    secret_file = data_dir / MERCHANT_ID_FILE
    if not path.exists():
        mid = merchant_id or new_merchant_id()
        create_register(path, merchant_id=mid, auto_shift=auto_shift, timezone=timezone,
                        tax_rates=None if rates is KEEP else rates, shift_id_type=shift_id_type or "int",
                        fiscal_id_type=fiscal_id_type or "string")
        _write_secret(secret_file, mid)
        how = "given" if merchant_id else "generated"
        return path, f"merchant ID ({how}) stored in {secret_file} (mode 0600)"
    j = Journal(path)
    try:
        j.begin()
        state = j.load_state()
        state.auto_shift = auto_shift
        try:
            configure(state, tax_rates=rates, shift_id_type=shift_id_type, fiscal_id_type=fiscal_id_type)
        except ValueError:
            j.rollback()
            raise
        if merchant_id:
            state.merchant_id = merchant_id
        j.save_state(state)
        j.commit()
        mid = state.merchant_id
    finally:
        j.close()
    _write_secret(secret_file, mid)
    return path, f"merchant ID stored in {secret_file} (mode 0600)"


async def _serve(path: Path, sock: socket.socket, started: str) -> None:
    import uvicorn

    from kassagate.cashbox.server import create_app, limit_answer
    from kassagate.config import load_http_limits
    from kassagate.http_limits import limited_protocol
    from kassagate.listen import Server

    register = await VirtualRegister.open(path)
    try:
        config = uvicorn.Config(create_app(register), loop="none",
                                http=limited_protocol(load_http_limits(), limit_answer), ws="none",
                                access_log=False, log_level="warning", lifespan="on")
        # uvicorn re-raises the SIGTERM/SIGINT it caught once it has stopped, with the
        # handlers it found installed: with none, the default action would end the process
        # there, before the journal is closed.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(RuntimeError, ValueError):  # not the main thread, or no such signal
                loop.add_signal_handler(sig, lambda: None)
        await Server(config, on_started=lambda: typer.echo(started)).serve(sockets=[sock])
    finally:
        sock.close()
        await register.close()


def cashbox(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = DEFAULT_PORT,
    merchant_id: Annotated[str | None, typer.Option(
        "--merchant-id", help="The register's merchantID (shared secret). Prefer the KASSAGATE_MERCHANT_ID "
                              "environment variable: a flag shows in process listings. Default: the stored one, "
                              "or a new one generated on first start.")] = None,
    data_dir: DataDir = None,
    auto_shift: Annotated[bool, typer.Option(
        "--auto-shift/--no-auto-shift",
        help="Cloud mode: open and rotate shifts automatically; --no-auto-shift: device mode (codes 6, 22).")] = True,
    timezone: Annotated[str, typer.Option("--timezone", help="The register's local time zone (set on first "
                                                             "start).")] = DEFAULT_ZONE_NAME,
    tax_rates: Annotated[str | None, typer.Option(
        "--tax-rates", help="The tax percents × 100 the register accepts, e.g. 1800,800,200,0 (18 %, 8 %, 2 %, "
                            "0 %); ru: the Russian VAT table by date (the default). Stored: kept until given "
                            "again.")] = None,
    shift_id_type: Annotated[str | None, typer.Option(
        "--shift-id-type", help="JSON type of shiftID in answers: int (default) or string. Stored.")] = None,
    fiscal_id_type: Annotated[str | None, typer.Option(
        "--fiscal-id-type", help="JSON type of fiscalID in answers: string (default, 12 digits) or int. "
                                 "Stored.")] = None,
) -> None:
    """Start one standalone virtual cash register (Cashbox protocol, emulated fiscal drive)."""
    import uvloop

    from kassagate.listen import ListenError, listen

    config = settings(announce=False, data_dir=data_dir)
    try:
        sock = listen(host, port)  # first: an address in use fails at once
    except ListenError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    d = config.data_dir
    try:
        path, where = prepare(d, merchant_id or env_merchant_id(), auto_shift, timezone, tax_rates=tax_rates,
                              shift_id_type=shift_id_type, fiscal_id_type=fiscal_id_type)
    except (JournalError, ValueError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    configure_logging(config.log_level, config.log_format)
    typer.echo(f"kassagate cashbox: journal {path}; {where}")
    uvloop.run(_serve(path, sock, f"serving on http://{host}:{port}/ ({'cloud' if auto_shift else 'device'} mode)"))
    log.info("kassagate cashbox stopped (journal %s)", path)


def cashbox_journal(data_dir: DataDir = None) -> None:
    """Print the standalone register's journal, one JSON object a line (fd, type, docNumber,
    amount, time, fiscalSign, ...). time: the register's local time with its UTC offset;
    docTime: as the sender gave it."""
    path = journal_path(_data_dir(data_dir))
    try:
        for line in read_journal(path, offsets=True):
            typer.echo(json.dumps(line, ensure_ascii=False))
    except JournalError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def _onoff(v: str | None, name: str, bad: str) -> bool | None:
    if v is None:
        return None
    if v not in ("ok", bad):
        raise typer.BadParameter(f"{name} must be ok or {bad}")
    return v == bad


def cashbox_fault(
    data_dir: DataDir = None,
    fn: Annotated[str | None, typer.Option("--fn", help="FN state: ok, full or broken.")] = None,
    ofd: Annotated[str | None, typer.Option("--ofd", help="Virtual OFD: ok or down.")] = None,
    printer: Annotated[str | None, typer.Option("--printer", help="Printer: ok or fail.")] = None,
    terminal: Annotated[str | None, typer.Option("--terminal", help="Bank terminal: ok or fail.")] = None,
) -> None:
    """Inject a fault into the standalone register; a running one sees it at its next request."""
    if fn is not None and fn not in FN_FAULTS:
        raise typer.BadParameter(f"--fn must be {', '.join(FN_FAULTS[:-1])} or {FN_FAULTS[-1]}")
    try:
        set_fault(journal_path(_data_dir(data_dir)), fn=cast(FnFault | None, fn), ofd_down=_onoff(ofd, "--ofd", "down"),
                  printer_fail=_onoff(printer, "--printer", "fail"),
                  terminal_fail=_onoff(terminal, "--terminal", "fail"))
    except JournalError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo("ok")


def cashbox_verify(
    qr: Annotated[str, typer.Argument(help="The receipt's QR string t=..&s=..&fn=..&i=..&fp=..&n=..")],
    data_dir: DataDir = None,
    key: Annotated[str | None, typer.Option("--key", help="The FN key (hex); default: the standalone "
                                                          "register's.")] = None,
) -> None:
    """Verify a receipt's fiscal sign (from its QR string) with the FN key. Exit 0 if genuine, 1 if not."""
    try:
        k = bytes.fromhex(key) if key else read_fn_key(journal_path(_data_dir(data_dir)))
        if k is None:
            raise JournalError("the register has no fiscal registration (no FN key)")
        good = verify_qr(k, qr)
    except (ValueError, JournalError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo("genuine" if good else "NOT genuine: the fiscal sign does not verify under this FN key")
    raise typer.Exit(0 if good else 1)


def register(app: typer.Typer) -> None:
    app.command("cashbox")(cashbox)
    app.command("cashbox-journal")(cashbox_journal)
    app.command("cashbox-fault")(cashbox_fault)
    app.command("cashbox-verify")(cashbox_verify)
