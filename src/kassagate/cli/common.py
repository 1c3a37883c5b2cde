"""What every command shares: its settings (the global flags ``--config``,
``--database-url``, ``--log-level`` merged with the command's own), the line saying what
it acts on, tables and JSON output."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from kassagate.config import ConfigError, Settings, load_settings


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """The flags given before the command (``kassagate --config F kassa list``)."""

    config: Path | None = None
    database_url: str | None = None
    log_level: str | None = None


#: The global flags of this run, set by the root command before any command runs.
_global: list[GlobalOptions] = [GlobalOptions()]


def set_global_options(options: GlobalOptions) -> None:
    _global[0] = options


def global_options() -> GlobalOptions:
    return _global[0]


def settings(*, announce: bool = True, database: bool = True, **overrides: Any) -> Settings:
    """The command's settings: defaults, configuration file, environment, the global flags,
    then the command's flags (``overrides``; ``None``: not given). ``announce``: say on
    standard error, when the command ends, which data dir (and, with ``database``, which
    database) it acted on; standard output stays the command's own (pure JSON with
    ``--json``).
    A setting kassagate cannot use ends the command with status 2 and what to fix."""
    g = global_options()
    try:
        s = load_settings(
            config_file=g.config,
            **{"database_url": g.database_url, "log_level": g.log_level, **overrides},
        )
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if announce:
        _acted_on[:] = [describe(s, database=database)]
    return s


#: What the running command acts on, written last on standard error by :func:`say_acted_on`.
_acted_on: list[str] = []


def say_acted_on() -> None:
    """Write the line naming the data dir and database the command acted on (standard
    error, after everything else, so that an ``error:`` line stays the first)."""
    for line in _acted_on:
        sys.stderr.write(line + "\n")
    _acted_on.clear()


def describe(s: Settings, *, database: bool = True) -> str:
    """``kassagate: data dir /abs/path, database SQLite /abs/file`` (no password)."""
    text = f"kassagate: data dir {s.data_dir.resolve()}"
    if database:
        text += f", database {s.database_label}"
    if s.config_file is not None:
        text += f" (configuration {s.config_file})"
    return text


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def when(us: int | None) -> str:
    """A stored time (UTC microseconds) as ``2026-12-03 13:04:15Z``; ``-`` for none."""
    if us is None:
        return "-"
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def parse_time(text: str, option: str) -> int:
    """``--since``/``--until``: an ISO date or date-time (UTC unless it names a zone), or a
    duration back from now (``30m``, ``2h``, ``7d``); UTC microseconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip()
    if len(t) > 1 and t[-1] in units and t[:-1].isdigit():
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(t[:-1]) * units[t[-1]])
    else:
        try:
            moment = dt.datetime.fromisoformat(t)
        except ValueError:
            raise fail(f"{option} must be an ISO date/time (2026-12-01, 2026-12-01T10:00) or an age (30m, 2h, 7d), "
                       f"got {text!r}", 2) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain text table, columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``name: value`` lines, names aligned."""
    width = max(len(k) for k, _ in pairs)
    for k, v in pairs:
        sys.stdout.write(f"{k + ':':<{width + 1}} {'-' if v is None else v}\n")
