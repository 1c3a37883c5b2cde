"""The ``kassagate`` command (``docs/operations.md``).

Each module of this package adds its commands to ``app`` through a ``register(app)``
function, listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kassagate import __version__
from kassagate.cli.common import GlobalOptions, global_options, say_acted_on, set_global_options

app = typer.Typer(
    name="kassagate",
    help="Open, self-hosted cloud fiscalization: front server, processing, virtual registers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Modules of kassagate.cli whose register(app) adds commands. Order = help order.
_COMMAND_MODULES: tuple[str, ...] = ("system", "accounts", "manage", "requests", "backup", "cashbox")


@app.callback()
def _root(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file (KASSAGATE_CONFIG).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Service database: sqlite:///FILE or postgresql://... "
                                            "(KASSAGATE_DATABASE_URL; default SQLite in the data dir)."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR (KASSAGATE_LOG_LEVEL).")
    ] = None,
) -> None:
    """kassagate: cloud fiscalization service. The options here come before the command
    (kassagate --config /etc/kassagate/kassagate.toml kassa list) and override the
    configuration file and the environment."""
    set_global_options(GlobalOptions(config=config, database_url=database_url, log_level=log_level))


@app.command()
def version() -> None:
    """Print kassagate's version."""
    typer.echo(__version__)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"kassagate.cli.{_name}").register(app)


def main() -> None:
    """Run the command. An unexpected failure (a database that cannot be reached, a disk
    that is full) ends with one line on standard error and exit status 1, not a traceback;
    ``--log-level DEBUG`` or ``KASSAGATE_LOG_LEVEL=DEBUG`` shows the traceback."""
    # The data dir holds private keys, secrets and fiscal journals: whatever kassagate
    # creates is readable by its own user only.
    os.umask(0o077)
    try:
        app(prog_name="kassagate")
    except SystemExit:
        say_acted_on()
        raise
    except Exception as exc:
        level = global_options().log_level or os.environ.get("KASSAGATE_LOG_LEVEL", "")
        if level.upper() == "DEBUG":
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        sys.stderr.write(f"error: {type(exc).__name__}: {first}\n")
        say_acted_on()
        sys.exit(1)
