"""A register's health for the registers page: its ``/get_info`` (a virtual register's
read from its journal, a remote one over HTTP within :data:`TIMEOUT` seconds), and the
warnings a person must act on: an FN that refuses documents (full, broken, or blocked by
the 30-day rule for unsent documents), filled to 90 %, expiring within 30 days, or
holding a document the OFD has not acknowledged for :data:`UNSENT_WARNING_DAYS` days (the
drive blocks receipts when that document is 30 days old)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kassagate.cashbox.client import CashboxClient, HttpTransport, RegisterInfo, RegisterUnreachable
from kassagate.core.register.clock import DEFAULT_ZONE_NAME, parse_time
from kassagate.core.tables import OFD_MAX_UNSENT_AGE

log = logging.getLogger("kassagate.cabinet")

TIMEOUT = 2.0
FILL_WARNING = 90.0
EXPIRY_WARNING_DAYS = 30
#: Warn when the oldest document not acknowledged by the OFD is this old (the FN blocks at 30 days).
UNSENT_WARNING_DAYS = 25
BLOCK_DAYS = OFD_MAX_UNSENT_AGE.days


@dataclass(frozen=True, slots=True)
class Health:
    reachable: bool
    info: RegisterInfo | None = None
    warnings: tuple[str, ...] = field(default=())
    shift_hours: float | None = None
    #: How long ago the oldest document not acknowledged by the OFD was made (days).
    unsent_days: float | None = None


async def _virtual_info(path: Path) -> RegisterInfo:
    from kassagate.cashbox.virtual import VirtualRegister

    register = await VirtualRegister.open(path)
    try:
        return RegisterInfo.parse(await register.handle("get_info", {}))
    finally:
        await register.close()


async def _remote_info(url: str, merchant_id: str) -> RegisterInfo:
    transport = HttpTransport(url, merchant_id, timeout=TIMEOUT)
    try:
        return await CashboxClient(transport).get_info()
    finally:
        await transport.aclose()


def warnings_of(info: RegisterInfo, today: dt.date, now: dt.datetime | None = None) -> tuple[str, ...]:
    """Message keys (``kassagate.cabinet.i18n``) of what needs attention; the unsent
    documents' age is looked at when ``now`` is given."""
    out: list[str] = []
    if info.fn_state not in ("ok", ""):
        out.append("warn_fn")
    if info.fn_fill_percent >= FILL_WARNING:
        out.append("warn_fill")
    if info.fn_expiry:
        try:
            expiry = dt.date.fromisoformat(info.fn_expiry[:10])
        except ValueError:
            expiry = None
        if expiry is not None and (expiry - today).days <= EXPIRY_WARNING_DAYS:
            out.append("warn_expiry")
    if now is not None and info.fn_state != "blocked":
        age = unsent_days(info, now)
        if age is not None and age >= UNSENT_WARNING_DAYS:
            out.append("warn_unsent")
    return tuple(out)


def _register_time(info: RegisterInfo, text: object) -> dt.datetime | None:
    """A time the register gave (its local time, no offset) in its ``timezone``, Moscow
    when it does not say; ``None`` when absent, malformed or in an unknown zone."""
    zone = info.raw.get("timezone") if isinstance(info.raw, dict) else None
    try:
        tz = zoneinfo.ZoneInfo(zone if isinstance(zone, str) else DEFAULT_ZONE_NAME)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    if isinstance(text, str) and "T" in text:
        text = text.replace("T", " ")
    return parse_time(text if isinstance(text, str) else None, tz)


def unsent_days(info: RegisterInfo, now: dt.datetime) -> float | None:
    """The age in days of the oldest document the OFD has not acknowledged (the register's
    ``/get_info`` ``oldestUnsentAt``), ``None`` when every document is acknowledged."""
    if not info.unsent_count:
        return None
    oldest = _register_time(info, info.raw.get("oldestUnsentAt") if isinstance(info.raw, dict) else None)
    if oldest is None:
        return None
    return max(0.0, (now - oldest).total_seconds() / 86400)


def shift_hours(info: RegisterInfo, now: dt.datetime) -> float | None:
    """How long the open shift has been open; a register gives its local time without a
    zone, in its ``timezone`` (Moscow when it does not say)."""
    if not info.is_shift_open or not info.shift_open_at:
        return None
    opened = _register_time(info, info.shift_open_at)
    if opened is None:
        return None
    return round((now - opened).total_seconds() / 3600, 1)


async def health(
    kkt: dict[str, Any], endpoint: tuple[str | None, str | None], data_dir: Path
) -> Health:
    """The health of one register row (``storage.cabinet.list_registers``)."""
    try:
        if kkt["kind"] == "virtual" and kkt.get("journal_path"):
            path = Path(kkt["journal_path"])
            info = await asyncio.wait_for(_virtual_info(path if path.is_absolute() else data_dir / path), TIMEOUT)
        elif endpoint[0] and endpoint[1]:
            info = await _remote_info(endpoint[0], endpoint[1])
        else:
            return Health(reachable=False)
    except (RegisterUnreachable, TimeoutError):
        return Health(reachable=False)
    except Exception as exc:  # a register that answers nonsense is shown as unreachable
        log.warning("cabinet: register #%s: get_info failed: %s", kkt["id"], type(exc).__name__)
        return Health(reachable=False)
    if not info.ok:
        return Health(reachable=True, info=None, warnings=("warn_info",))
    now = dt.datetime.now(dt.UTC)
    return Health(reachable=True, info=info, warnings=warnings_of(info, now.date(), now),
                  shift_hours=shift_hours(info, now), unsent_days=unsent_days(info, now))
