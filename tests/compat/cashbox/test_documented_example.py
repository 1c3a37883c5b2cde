"""The worked ``/sale`` of ``docs/cashbox.md`` ("Using kassagate from your point-of-sale
program"): its D, H and S follow from its JSON by the documented steps, and a register
with its merchant ID accepts that body."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx

from kassagate.cashbox.server import create_app
from kassagate.cashbox.virtual import VirtualRegister, create_register

DOC = Path(__file__).resolve().parents[3] / "docs" / "cashbox.md"


def documented(name: str) -> str:
    found = re.findall(rf"^    {name}='?([^$'].*?)'?$", DOC.read_text(), re.MULTILINE)  # values, not commands
    assert len(found) == 1, name
    return str(found[0])


async def test_the_worked_sale_signs_as_documented(tmp_path: Path) -> None:
    merchant_id, text = documented("MERCHANT_ID"), documented("JSON")
    data = base64.b64encode(text.encode()).decode()
    assert data == documented("DATA")
    hex_digest = hashlib.sha1((data + merchant_id).encode(), usedforsecurity=False).hexdigest()
    assert hex_digest == documented("HEX")
    assert base64.b64encode(hex_digest.encode()).decode() == documented("SIGN")

    create_register(tmp_path / "r.sqlite3", merchant_id=merchant_id, tax_rates=[1800, 800, 200, 0])
    register = await VirtualRegister.open(tmp_path / "r.sqlite3")
    body = f"data={data.replace('=', '%3D')}&sign={documented('SIGN').replace('=', '%3D')}".encode()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(register)),
                                     base_url="http://register") as http:
            answer = (await http.post("/sale", content=body)).json()
            assert answer["code"] == 0 and answer["change"] == 8200 and answer["documentExtID"] == "POS-2"
            # the two misreadings of the formula: the raw digest, or the hash of the JSON
            raw_digest = base64.b64encode(hashlib.sha1((data + merchant_id).encode(),
                                                       usedforsecurity=False).digest()).decode()
            of_json = base64.b64encode(hashlib.sha1((text + merchant_id).encode(),
                                                    usedforsecurity=False).hexdigest().encode()).decode()
            for wrong in (raw_digest, of_json):
                bad = f"data={data.replace('=', '%3D')}&sign={wrong.replace('=', '%3D')}".encode()
                assert (await http.post("/sale", content=bad)).json()["code"] == 1
    finally:
        await register.close()
