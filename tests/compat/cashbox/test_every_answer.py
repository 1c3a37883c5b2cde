"""Every answer of every endpoint carries ``status``, an integer ``code`` and ``message``, and
parses with the clients' declared types, whatever document it names: every endpoint that
takes a document is asked about every document type the register keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kassagate.core.register import ENDPOINTS
from support.cashbox_client_schemas import Types
from support.cashbox_compat import Register, open_register

TYPES = {"default": Types(), "other-forms": Types(fiscal_id=int, shift_id=str, ext_id=int)}


@pytest.fixture(params=list(TYPES))
async def reg(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Register]:
    async for r in open_register(tmp_path, TYPES[request.param], auto_shift=False):
        yield r


def item(name: str = "Tea", amount: int = 10000, **kw: Any) -> dict[str, Any]:
    return {"itemName": name, "itemQty": 1000, "itemAmount": amount, **kw}


async def every_document_type(reg: Register) -> dict[str, int]:
    """A journal holding each kind of document: kind -> documentID."""
    docs = {"registration": 1}
    docs["open_shift"] = (await reg.ok("open_shift", {})).documentID
    sale = await reg.ok("sale", {"amount": 10000, "items": [item()], "payments": {"cashAmount": 10000},
                                 "documentExtID": 7 if reg.types.ext_id is int else "E-7"})
    docs["sale"] = sale.documentID
    docs["refund"] = (await reg.ok("refund", {"amount": 10000, "items": [item()], "payments": {"cashAmount": 10000},
                                              "parentDocID": str(sale.fiscalID)})).documentID
    other = await reg.ok("sale", {"amount": 500, "items": [item("Bun", 500)], "payments": {"cashAmount": 500}})
    docs["rollback"] = (await reg.ok("rollback", {"documentID": other.documentID})).documentID
    docs["rolled_back_sale"] = other.documentID
    docs["credit_sale"] = (await reg.ok("sale", {"amount": 3000, "items": [item("Pot", 3000)],
                                                 "payments": {"creditAmount": 3000}})).documentID
    docs["creditpay"] = (await reg.ok("creditpay", {"documentID": docs["credit_sale"],
                                                    "payments": {"cashAmount": 1000}})).documentID
    docs["prepay"] = (await reg.ok("prepay", {"amount": 2000, "items": [item("Cake", 2000)],
                                              "payments": {"cashAmount": 2000}})).documentID
    docs["correction"] = (await reg.ok("correction", {"date_start": "2026-03-01", "date_stop": "2026-03-01",
                                                      "cashAmount": 100})).documentID
    docs["deposit"] = (await reg.ok("deposit", {"amount": 100})).documentID
    docs["withdraw"] = (await reg.ok("withdraw", {"amount": 100})).documentID
    paid = await reg.ok("order", {"amount": 700, "items": [item("Soup", 700)]})
    await reg.ok("sale", {"documentID": paid.documentID, "payments": {"cashAmount": 700}})
    docs["paid_order"] = paid.documentID
    docs["deleted_order"] = (await reg.ok("order", {"amount": 800, "items": [item("Pie", 800)]})).documentID
    await reg.ok("withdraw", {"amount": (await reg.ok("check_shift", {})).cash})
    docs["close_shift"] = (await reg.ok("close_shift", {"openOrdersOperation": "delete"})).documentID
    await reg.ok("open_shift", {})
    docs["open_order"] = (await reg.ok("order", {"amount": 900, "items": [item("Jam", 900)]})).documentID
    return docs


async def test_every_endpoint_about_every_document_type(reg: Register) -> None:
    docs = await every_document_type(reg)
    fiscal_ids: dict[str, Any] = {}
    for kind, doc_id in docs.items():
        for endpoint in ("check_status", "check_copy", "preorder", "creditpay", "rollback"):
            a = await reg.call(endpoint, {"documentID": doc_id})
            if endpoint in ("check_status", "check_copy"):
                assert a.code == 0 and a.documentID == doc_id, (kind, endpoint, a)
                fiscal_ids[kind] = a.fiscalID
        a = await reg.call("sale", {"documentID": doc_id, "payments": {"cashAmount": 100000}})
        assert a.code == 0 if kind in ("paid_order", "open_order") else a.code == 9, (kind, a)
    for kind, fid in fiscal_ids.items():
        for endpoint, req in (("refund", {"parentDocID": fid, "amount": 100, "items": [item(amount=100)],
                                          "payments": {"cashAmount": 100}}),
                              ("check_status", {"fiscalID": fid}), ("creditpay", {"parentDocID": fid}),
                              ("last_document", {"documentExtID": fid})):
            a = await reg.call(endpoint, req)
            assert isinstance(a.code, int), (kind, endpoint)


async def test_the_registration_report_answers_like_any_document(reg: Register) -> None:
    for endpoint in ("check_status", "check_copy"):
        raw = msgspec.json.decode(await reg.raw(endpoint, {"documentID": 1}))
        assert (raw["status"], raw["code"], raw["message"]) == ("success", 0, "")
        assert raw["documentID"] == 1 and raw["docStatus"] == 1 and raw["kktRegNumber"] and raw["fnNumber"]
        assert raw["fiscalID"] in ("000000000001", 1)
        await reg.call(endpoint, {"documentID": 1})  # the declared types


@pytest.mark.parametrize("request_body", [{}, {"documentID": "x", "shiftID": [], "amount": {}, "items": "no"},
                                          {"documentID": 999, "shiftID": 999, "dateFrom": "2026-13-40"}])
async def test_every_endpoint_answers_status_code_message(reg: Register, request_body: dict[str, Any]) -> None:
    await reg.ok("open_shift", {})
    for endpoint in ENDPOINTS:
        await reg.call(endpoint, request_body)  # parses: the common fields, or the endpoint's schema


async def test_unknown_endpoint_and_bad_signature_answer_the_common_fields(reg: Register) -> None:
    for path, body in (("/no_such_thing", b"data=e30%3D&sign=x"), ("/sale", b"data=e30%3D&sign=bad"),
                       ("/sale", b"garbage")):
        r = await reg.http.post(path, content=body)
        a = msgspec.json.decode(r.content)
        assert r.status_code == 200 and a["status"] == "error" and isinstance(a["code"], int) and a["message"]
