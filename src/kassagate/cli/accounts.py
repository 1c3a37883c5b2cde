"""``kassagate kassa add``, ``cluster add``, ``keys show``, ``keys rotate``.

Accounts live in the service database (``KASSAGATE_DATABASE_URL``, default SQLite in the
data dir); a running server sees a change within a second. Without ``--token`` a token
with 192 random bits is generated and printed once; a token given as ``-`` is read from
the standard input, so that it never shows in the process list. A token given by hand has
at least 16 characters. Tokens are stored as HMACs under the token key of the data dir
(``keys/token_key``, see ``storage/tokens.py``).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import typer

from kassagate.config import Settings

kassa_app = typer.Typer(help="Kassas: the merchants' cloud cash registers.", no_args_is_help=True)
cluster_app = typer.Typer(help="Clusters: groups of kassas the server picks from.", no_args_is_help=True)
keys_app = typer.Typer(help="The front server's published keys.", no_args_is_help=True)

ID_RE = re.compile(r"[0-9]{1,20}")
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (KASSAGATE_DATA_DIR).")]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="The secret token (at least 16 characters); '-' reads it from stdin. Default: a new random one, printed.",
    ),
]
Type = Annotated[str, typer.Option("--type", help="standard or vending.")]


def _settings(data_dir: Path | None) -> Settings:
    from kassagate.cli.common import settings

    return settings(data_dir=data_dir)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _token(value: str | None) -> tuple[str, bool]:
    """The token to store, and whether it was generated (then the command prints it)."""
    from kassagate.storage.tokens import MIN_TOKEN_LENGTH, new_token

    if value is None:
        return new_token(), True
    token = sys.stdin.readline().rstrip("\r\n") if value == "-" else value
    if not token:
        raise _fail("the token must not be empty", 2)
    if len(token) < MIN_TOKEN_LENGTH:
        raise _fail(
            f"the token must be at least {MIN_TOKEN_LENGTH} characters (leave out --token to have a random "
            "one generated)",
            2,
        )
    if len(token) > 256:
        raise _fail("the token must be at most 256 characters", 2)
    return token, False


def _token_key(settings: Settings) -> bytes:
    from kassagate.front.keys import load_or_create_token_key

    return load_or_create_token_key(Path(settings.data_dir))


def _check_id(what: str, value: str) -> None:
    if not ID_RE.fullmatch(value):
        raise _fail(f"{what} must be 1 to 20 decimal digits", 2)


def _check_type(value: str) -> None:
    if value not in ("standard", "vending"):
        raise _fail("--type must be standard or vending", 2)


def _run(coro: Any) -> Any:
    from kassagate.storage.repos import DuplicateError, NotFoundError

    try:
        return asyncio.run(coro)
    except (DuplicateError, NotFoundError) as exc:
        raise _fail(str(exc)) from None


async def _add_kassa(
    settings: Settings,
    kassaid: str,
    token: str,
    *,
    type_: str,
    debug: bool,
    activated: bool,
    cluster: str | None,
    kkt: str,
    merchant_id: str | None,
) -> str:
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import Accounts, DuplicateError, NotFoundError

    db = await open_database(settings.effective_database_url)
    try:
        acc = Accounts(db, await asyncio.to_thread(_token_key, settings))
        if await acc.get_kassa(kassaid) is not None:
            raise DuplicateError(f"kassa {kassaid} already exists")
        if cluster is not None and await acc.get_cluster(cluster) is None:
            raise NotFoundError(f"no cluster {cluster}")
        kkt_id: int | None = None
        described = "no register"
        if kkt in ("virtual", "unregistered"):
            from kassagate.cashbox.virtual import create_register, new_merchant_id

            kkt_id = await acc.add_kkt(kind="virtual", merchant_id=merchant_id or new_merchant_id())
            rel = f"registers/kkt-{kkt_id}.sqlite3"
            path = Path(settings.data_dir) / rel
            try:
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                kkt_row = await acc.get_kkt(kkt_id)
                assert kkt_row is not None and kkt_row.merchant_id is not None
                identity = await asyncio.to_thread(
                    create_register, path, merchant_id=kkt_row.merchant_id, registered=kkt == "virtual"
                )
                await acc.update_kkt(
                    kkt_id, journal_path=rel, fn_serial=identity.fn_serial, kkt_reg_number=identity.kkt_reg_number
                )
            except BaseException:
                await acc.delete_kkt(kkt_id)
                raise
            described = (
                f"virtual register #{kkt_id} at {rel}"
                + (f" (FN {identity.fn_serial}, RN {identity.kkt_reg_number})" if identity.fn_serial else
                   " (no fiscal registration)")
            )
        elif kkt != "none":
            url = urllib.parse.urlsplit(kkt)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise _fail("--kkt must be virtual, unregistered, none or an http(s):// URL", 2)
            if not merchant_id:
                raise _fail("--merchant-id is required with a register URL", 2)
            identity, why = await _probe_remote(kkt, merchant_id)
            kkt_id = await acc.add_kkt(kind="remote", url=kkt, merchant_id=merchant_id, **identity)
            described = f"remote register #{kkt_id} at {url.scheme}://{url.netloc}"
            if identity.get("fn_serial"):
                described += f" (FN {identity['fn_serial']}, RN {identity['kkt_reg_number']})"
            else:
                described += (
                    f" ({why}; until processing reads its registration, requests answer code 50)"
                )
        try:
            await acc.add_kassa(
                kassaid,
                token=token,
                type=type_,
                activated=activated,
                debug=debug,
                kkt_id=kkt_id,
                cluster_id=cluster,
            )
        except BaseException:
            if kkt_id is not None:
                await acc.delete_kkt(kkt_id)
            raise
        return described
    finally:
        await db.close()


async def _probe_remote(url: str, merchant_id: str) -> tuple[dict[str, Any], str]:
    """The remote register's identity from its ``/get_info``, best effort (5 s)."""
    from kassagate.cashbox.client import CashboxClient, HttpTransport, RegisterUnreachable

    transport = HttpTransport(url, merchant_id, timeout=5.0)
    try:
        info = await CashboxClient(transport).get_info()
    except RegisterUnreachable:
        return {}, "not reachable now"
    except Exception as exc:  # a register that answers nonsense must not stop the command
        return {}, f"its get_info answer was unusable ({type(exc).__name__})"
    finally:
        await transport.aclose()
    if not info.ok:
        return {}, f"get_info answered code {info.code}"
    if not info.fn_number or not info.kkt_reg_number:
        return {}, "it has no fiscal registration"
    state = info.fn_state if info.fn_state in ("ok", "full", "broken", "blocked") else "ok"
    return {"fn_serial": info.fn_number, "kkt_reg_number": info.kkt_reg_number, "fn_state": state}, ""


@kassa_app.command("add")
def kassa_add(
    kassaid: Annotated[str, typer.Argument(help="The kassaid: 1 to 20 digits.")],
    token: Token = None,
    type_: Type = "standard",
    debug: Annotated[bool, typer.Option("--debug", help="Debug mode: accepted, never fiscalized (code 390).")] = False,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it not activated (code 310).")] = False,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Attach it to this cluster.")] = None,
    kkt: Annotated[
        str, typer.Option("--kkt", help="virtual (default), unregistered, none, or the URL of a remote register.")
    ] = "virtual",
    merchant_id: Annotated[
        str | None, typer.Option("--merchant-id", help="The register's merchantID (required with a URL).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a kassa, by default bound to a new registered virtual register."""
    _check_id("KASSAID", kassaid)
    _check_type(type_)
    if cluster is not None:
        _check_id("--cluster", cluster)
    secret, generated = _token(token)
    settings = _settings(data_dir)
    described = _run(
        _add_kassa(
            settings,
            kassaid,
            secret,
            type_=type_,
            debug=debug,
            activated=not inactive,
            cluster=cluster,
            kkt=kkt,
            merchant_id=merchant_id,
        )
    )
    flags = [type_, "not activated" if inactive else "activated"] + (["debug"] if debug else [])
    flags += [f"cluster {cluster}"] if cluster else []
    typer.echo(f"kassa {kassaid} added ({', '.join(flags)}): {described}")
    if generated:
        typer.echo(f"token: {secret}")


async def _add_cluster(settings: Settings, cluster_id: str, token: str, type_: str, activated: bool) -> None:
    from kassagate.storage.db import open_database
    from kassagate.storage.repos import Accounts

    db = await open_database(settings.effective_database_url)
    try:
        acc = Accounts(db, await asyncio.to_thread(_token_key, settings))
        await acc.add_cluster(cluster_id, token=token, type=type_, activated=activated)
    finally:
        await db.close()


@cluster_app.command("add")
def cluster_add(
    cluster_id: Annotated[str, typer.Argument(metavar="CLUSTERID", help="The cluster id: 1 to 20 digits.")],
    token: Token = None,
    type_: Type = "standard",
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it not activated (code 170).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a cluster; attach kassas with kassa add --cluster."""
    _check_id("CLUSTERID", cluster_id)
    _check_type(type_)
    secret, generated = _token(token)
    settings = _settings(data_dir)
    _run(_add_cluster(settings, cluster_id, secret, type_, not inactive))
    typer.echo(f"cluster {cluster_id} added ({type_}, {'not activated' if inactive else 'activated'})")
    if generated:
        typer.echo(f"token: {secret}")


@keys_app.command("show")
def keys_show(data_dir: DataDir = None) -> None:
    """Print the published keys (the JSON of GET /v1/keys), generating them on first use."""
    from kassagate.front.keys import load_or_create_keys

    settings = _settings(data_dir)
    ring = load_or_create_keys(Path(settings.data_dir), settings.rsa_bits)
    typer.echo(json.dumps(ring.current.public_json(), indent=2))


@keys_app.command("rotate")
def keys_rotate(
    grace_hours: Annotated[
        float, typer.Option("--grace-hours", help="How long the previous keys stay accepted.", min=0)
    ] = 24.0,
    data_dir: DataDir = None,
) -> None:
    """Generate new keys; the previous ones stay accepted for the grace period. A running
    server picks the new keys up within a second."""
    from kassagate.front.keys import describe, rotate_keys

    settings = _settings(data_dir)
    ring = rotate_keys(Path(settings.data_dir), settings.rsa_bits, grace_hours)
    typer.echo(describe(ring))


def register(app: typer.Typer) -> None:
    app.add_typer(kassa_app, name="kassa")
    app.add_typer(cluster_app, name="cluster")
    app.add_typer(keys_app, name="keys")
