"""The ``kassagate`` command (``docs/operations.md``).

Each module of this package adds its commands to ``app`` through a ``register(app)``
function, listed in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from kassagate import __version__

app = typer.Typer(
    name="kassagate",
    help="Open, self-hosted cloud fiscalization: front server, processing, virtual registers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules of kassagate.cli whose register(app) adds commands. Order = help order.
_COMMAND_MODULES: tuple[str, ...] = ("system", "accounts", "users", "cashbox")


@app.callback()
def _root() -> None:
    """kassagate: cloud fiscalization service."""


@app.command()
def version() -> None:
    """Print kassagate's version."""
    typer.echo(__version__)


for _name in _COMMAND_MODULES:
    importlib.import_module(f"kassagate.cli.{_name}").register(app)


def main() -> None:
    """Run the command. An unexpected failure (a database that cannot be reached, a disk
    that is full) ends with one line on standard error and exit status 1, not a traceback;
    ``KASSAGATE_LOG_LEVEL=DEBUG`` shows the traceback."""
    # The data dir holds private keys, secrets and fiscal journals: whatever kassagate
    # creates is readable by its own user only.
    os.umask(0o077)
    try:
        app()
    except Exception as exc:
        if os.environ.get("KASSAGATE_LOG_LEVEL", "").upper() == "DEBUG":
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        sys.stderr.write(f"error: {type(exc).__name__}: {first}\n")
        sys.exit(1)
