"""What the register monitor computes for a register it does not open (its state read
from the journal, ``/get_info`` by the rules) is what the open register answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kassagate.cashbox.virtual import VirtualRegister, create_register, read_state, set_fault, state_info

MSK = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=MSK)


async def test_get_info_from_the_read_state_is_the_registers_answer(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    create_register(path, merchant_id="m", now=NOW - dt.timedelta(days=40))
    reg = await VirtualRegister.open(path, clock=lambda: NOW)
    try:
        sale = {"amount": 100, "items": [{"itemName": "x", "itemQty": 1000, "itemAmount": 100}],
                "payments": {"cashAmount": 100}}
        assert (await reg.handle("sale", sale))["code"] == 0
        for fault in ({"ofd_down": True}, {"fn": "full"}, {"printer_fail": True}):
            set_fault(path, **fault)  # type: ignore[arg-type]
            answered = await reg.handle("get_info", {})
            assert state_info(read_state(path), NOW) == answered
        assert answered["fnState"] == "full" and answered["ofdDown"] is True
    finally:
        await reg.close()
