"""``kassagate kassa add``, ``cluster add``, ``keys show``, ``keys rotate``.

Accounts live in the service database (``KASSAGATE_DATABASE_URL``, default SQLite in the
data dir); a running server sees a change within a second. Without ``--token`` a token
with 192 random bits is generated and printed once; a token given as ``-`` is read from
the standard input, so that it never shows in the process list. A token given by hand has
at least 16 characters. Tokens are stored as HMACs under the token key of the data dir
(``keys/token_key``, see ``storage/tokens.py``). The accounts are made by
``kassagate.provisioning``, the service the cabinet and ``serve --demo`` use too.
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
    from kassagate.core.states import ACCOUNT_TYPES

    if value not in ACCOUNT_TYPES:
        raise _fail("--type must be standard or vending", 2)


def _run(coro: Any) -> Any:
    from kassagate.provisioning import DuplicateError, NotFoundError, ProvisioningError

    try:
        return asyncio.run(coro)
    except (DuplicateError, NotFoundError) as exc:
        raise _fail(str(exc)) from None
    except ProvisioningError as exc:
        raise _fail(str(exc), 2) from None


async def _add_kassa(settings: Settings, kassaid: str, token: str, **options: Any) -> str:
    from kassagate.provisioning import Provisioning

    async with Provisioning.open(settings) as service:
        return (await service.add_kassa(kassaid, token, **options)).register


async def _add_cluster(settings: Settings, cluster_id: str, token: str, type_: str, activated: bool) -> None:
    from kassagate.provisioning import Provisioning

    async with Provisioning.open(settings) as service:
        await service.add_cluster(cluster_id, token, type_=type_, activated=activated)


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
    from kassagate.provisioning import KKT_CHOICES

    if kkt not in KKT_CHOICES:
        url = urllib.parse.urlsplit(kkt)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise _fail("--kkt must be virtual, unregistered, none or an http(s):// URL", 2)
        if not merchant_id:
            raise _fail("--merchant-id is required with a register URL", 2)
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
