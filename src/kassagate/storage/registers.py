"""The registers' rows as the register monitor reads and writes them: which registers
there are, and what a register's ``/get_info`` told of its fiscal drive and registration
(``kkts.fn_state``, ``fn_serial``, ``kkt_reg_number``: what the intake's codes 330, 340,
200 and 50 and the cluster routing read)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update

from kassagate.storage.db import Database, utc_micros
from kassagate.storage.repos import Kkt
from kassagate.storage.schema import kkts

_KKT_COLUMNS = tuple(kkts.c[name] for name in Kkt.__slots__)  # type: ignore[attr-defined]
_READ_COLUMNS = (kkts.c.fn_state, kkts.c.fn_serial, kkts.c.kkt_reg_number)


def reading_values(info: dict[str, Any]) -> dict[str, Any]:
    """The ``kkts`` columns a register's ``/get_info`` answer sets: its FN state and, as
    its registration says, its FN serial and registration number (both None when it has
    no fiscal registration)."""
    values: dict[str, Any] = {}
    if isinstance(info.get("fnState"), str):
        values["fn_state"] = info["fnState"]
    if info.get("registered") in (True, "true"):
        for column, key in (("fn_serial", "fnNumber"), ("kkt_reg_number", "kktRegNumber")):
            if info.get(key):
                values[column] = str(info[key])
    elif info.get("registered") in (False, "false"):
        values.update(fn_serial=None, kkt_reg_number=None)
    return values


class RegisterRows:
    """The monitor's reads and writes of ``kkts``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[Kkt]:
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(select(*_KKT_COLUMNS).order_by(kkts.c.id))
            return [Kkt(*r) for r in rows]

    async def record(self, kkt_id: int, info: dict[str, Any], *, row: Kkt | None = None) -> bool:
        """Write what ``info`` (a ``/get_info`` answer) says into the register's row, when
        it differs from what the row holds (``row`` as just read, else read now; the write
        lock only for a change). True when the row changed."""
        values = reading_values(info)
        if not values:
            return False
        if row is None:
            async with self.db.engine.connect() as conn:
                held = (await conn.execute(select(*_READ_COLUMNS).where(kkts.c.id == kkt_id))).mappings().first()
            if held is None:
                return False
            current = dict(held)
        else:
            current = {c: getattr(row, c) for c in values}
        if all(current[c] == v for c, v in values.items()):
            return False
        changed = or_(*(kkts.c[c].is_distinct_from(v) for c, v in values.items()))
        async with self.db.write_connection() as conn:
            res = await conn.execute(
                update(kkts).where(kkts.c.id == kkt_id, changed).values(**values, updated_at=utc_micros())
            )
            return bool(res.rowcount)
