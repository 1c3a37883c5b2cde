"""The register's clock as the Cashbox protocol writes it: ``yyyy-MM-dd HH:mm:ss`` in the
register's local time, with no offset; the zone is the register's own (``/get_info``
``timezone``), Moscow when it does not say."""

from __future__ import annotations

import datetime as dt
import zoneinfo

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_ZONE_NAME = "Europe/Moscow"


def zone(name: object) -> zoneinfo.ZoneInfo:
    """The zone a register names, Moscow when the name is missing or unknown."""
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_ZONE_NAME)


def format_time(moment: dt.datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def parse_time(text: str | None, tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """A register time, in ``tz`` when given (naive otherwise); None when absent or malformed."""
    if not text:
        return None
    try:
        # The exact shape is read by fromisoformat (a tenth of strptime's cost).
        if len(text) == 19 and text[4] + text[7] + text[10] + text[13] + text[16] == "-- ::" and text.isascii():
            moment = dt.datetime.fromisoformat(text)
        else:
            moment = dt.datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if tz is not None else moment
