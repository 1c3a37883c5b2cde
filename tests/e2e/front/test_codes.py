"""Every code of the intake (``FrontCode``, ``docs/front.md``), reached through real HTTP
(uvicorn on a free port), with its status word and HTTP status; plus status answers and the body limit."""

from __future__ import annotations

import base64
import copy
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from kassagate.core.tables import DEBUG_FD_NUMBER, DEBUG_FISCAL_SIGN, DEBUG_FN_SERIAL
from support.front import RunningFront, body_for, dumps, envelope, layer2_for, running_front, seal
from support.strategies import sample_receipt
from support.system import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "tok-secret-0001"
CTOKEN = "cluster-secret-0001"
KASSA = "/v1/fiscalize"
CLUSTER = "/v1/fiscalize/cluster"


async def setup_accounts(f: RunningFront) -> None:
    acc = f.ctx.accounts

    async def kkt(state: str = "ok", registered: bool = True) -> int:
        return await acc.add_kkt(
            kind="remote",
            url="http://127.0.0.1:9",
            merchant_id="m",
            fn_serial="9999000000000001" if registered else None,
            kkt_reg_number="0000000000000001" if registered else None,
            fn_state=state,  # type: ignore[arg-type]
        )

    await acc.add_kassa("100", token=TOKEN, kkt_id=await kkt())
    await acc.add_kassa("101", token=TOKEN, kkt_id=await kkt(), activated=False)
    await acc.add_kassa("102", token=TOKEN)
    await acc.add_kassa("103", token=TOKEN, kkt_id=await kkt(registered=False))
    await acc.add_kassa("104", token=TOKEN, kkt_id=await kkt(), type="vending")
    await acc.add_kassa("105", token=TOKEN, kkt_id=await kkt("broken"))
    await acc.add_kassa("106", token=TOKEN, kkt_id=await kkt("full"))
    await acc.add_kassa("107", token=TOKEN, kkt_id=await kkt(), debug=True)
    await acc.add_kassa("108", token=TOKEN, kkt_id=await kkt("blocked"))

    await acc.add_cluster("500", token=CTOKEN)
    await acc.add_kassa("510", token=TOKEN, kkt_id=await kkt("broken"), cluster_id="500")
    await acc.add_kassa("511", token=TOKEN, kkt_id=await kkt(), cluster_id="500")
    await acc.add_cluster("501", token=CTOKEN, activated=False)
    await acc.add_kassa("5010", token=TOKEN, kkt_id=await kkt(), cluster_id="501")
    await acc.add_cluster("502", token=CTOKEN, type="archive")
    await acc.add_kassa("5020", token=TOKEN, kkt_id=await kkt(), cluster_id="502")
    await acc.add_cluster("503", token=CTOKEN)
    await acc.add_cluster("504", token=CTOKEN, type="vending")
    await acc.add_kassa("540", token=TOKEN, kkt_id=await kkt(), cluster_id="504", type="vending")
    await acc.add_cluster("505", token=CTOKEN)
    await acc.add_kassa("550", token=TOKEN, kkt_id=await kkt("broken"), cluster_id="505")
    await acc.add_kassa("551", token=TOKEN, kkt_id=await kkt("full"), cluster_id="505")
    await acc.add_kassa("552", token=TOKEN, kkt_id=await kkt(), cluster_id="505", activated=False)
    await acc.add_cluster("506", token=CTOKEN)
    await acc.add_kassa("560", token=TOKEN, kkt_id=await kkt(), cluster_id="506", debug=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def front(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningFront]:
    data_dir: Path = tmp_path_factory.mktemp("front-codes")
    async with running_front(data_dir, free_port()) as f:
        await setup_accounts(f)
        yield f


def kreceipt(kassaid: str = "100", **kw: Any) -> dict[str, Any]:
    return sample_receipt(kassaid=kassaid, kassatoken=TOKEN, **kw)


def creceipt(cluster_id: str = "500", **kw: Any) -> dict[str, Any]:
    return sample_receipt(kassaid=cluster_id, kassatoken=CTOKEN, **kw)


def kbody(f: RunningFront, kassaid: str = "100", receipt: Any = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("token", TOKEN)
    return envelope(f.keys, kreceipt(kassaid) if receipt is None else receipt, kassaid=kassaid, **kw)


def cbody(f: RunningFront, cluster_id: str = "500", receipt: Any = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("token", CTOKEN)
    return envelope(f.keys, creceipt(cluster_id) if receipt is None else receipt, kassaid=cluster_id, **kw)


async def expect(f: RunningFront, path: str, body: Any, code: str, *, http: int = 200, **kw: Any) -> dict[str, Any]:
    r = await f.post(path, body, **kw)
    data = r.json()
    assert (r.status_code, data["code"]) == (http, code), data
    assert data["status"] == ("success" if code in {"800", "810", "820", "390", "100", "140"} else "error")
    assert data["success" if data["status"] == "success" else "error"]
    return data


# ----------------------------------------------------------------------------- transport


async def test_100_bare_connectivity_check(front: RunningFront) -> None:
    await expect(front, KASSA, {"test": "1"}, "100")
    await expect(front, CLUSTER, {"test": "1"}, "100")
    await expect(front, "/srv/igd.php", "test=1", "100", headers={"content-type": "application/x-www-form-urlencoded"})


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"",
        dumps({"dde": "AAAA"}),
        dumps({"aab": "AAAA"}),
        dumps({"aab": 5, "dde": "AAAA"}),
        dumps({"aab": "***", "dde": "AAAA"}),
        dumps({"aab": base64.b64encode(b"x" * 17).decode(), "dde": base64.b64encode(b"x" * 200).decode()}),
    ],
)
async def test_90_and_150_bad_outer_body(front: RunningFront, body: bytes) -> None:
    await expect(front, KASSA, body, "90")
    await expect(front, CLUSTER, body, "150")


async def test_90_and_150_layer2_not_an_object(front: RunningFront) -> None:
    body = body_for(front.keys, None, layer2_raw=b'["ab", "de"]')
    await expect(front, KASSA, body, "90")
    await expect(front, CLUSTER, body, "150")


async def test_impossible_dde_size_is_90(front: RunningFront) -> None:
    body = kbody(front)
    body["dde"] = base64.b64encode(b"x" * 20).decode()
    await expect(front, KASSA, body, "90")


async def test_120_rsa_of_aab_or_ab(front: RunningFront) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    aab, dde = seal(dumps(l2), stranger, front.keys.hmac_second)
    await expect(front, KASSA, {"aab": aab, "dde": dde}, "120")
    await expect(front, CLUSTER, {"aab": aab, "dde": dde}, "120")
    ab, de = seal(dumps(kreceipt()), stranger, front.keys.hmac_first)
    l2.update(ab=ab, de=de)
    await expect(front, KASSA, body_for(front.keys, l2), "120")
    await expect(front, CLUSTER, body_for(front.keys, l2), "120")


async def test_130_hmac_of_dde_or_de(front: RunningFront) -> None:
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    aab, dde = seal(dumps(l2), front.keys.rsa_second, b"k" * 32)
    await expect(front, KASSA, {"aab": aab, "dde": dde}, "130")
    await expect(front, CLUSTER, {"aab": aab, "dde": dde}, "130")
    ab, de = seal(dumps(kreceipt()), front.keys.rsa_first, front.keys.hmac_second)
    l2.update(ab=ab, de=de)
    await expect(front, KASSA, body_for(front.keys, l2), "130")
    await expect(front, CLUSTER, body_for(front.keys, l2), "130")


@pytest.mark.parametrize("change", [{"ab": None}, {"de": None}, {"ab": 12}, {"de": "@@@"}, {"ab": "QUJD"}])
async def test_110_and_260_layer2_lacks_ab_de(front: RunningFront, change: dict[str, Any]) -> None:
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    for k, v in change.items():
        if v is None:
            del l2[k]
        else:
            l2[k] = v
    await expect(front, KASSA, body_for(front.keys, l2), "110")
    await expect(front, CLUSTER, body_for(front.keys, l2), "260")


# ----------------------------------------------------------------------------- kassa accounts


async def test_270_280_290_300_320_310_40_50(front: RunningFront) -> None:
    await expect(front, KASSA, kbody(front, kassaid=""), "270")
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    del l2["kassaid"]
    await expect(front, KASSA, body_for(front.keys, l2), "270")
    for bad in ("12a", "1" * 21, [1], "-1"):
        await expect(front, KASSA, kbody(front, kassaid=bad, receipt=kreceipt()), "280")
    await expect(front, KASSA, kbody(front, token=""), "290")
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    del l2["kassatoken"]
    await expect(front, KASSA, body_for(front.keys, l2), "290")
    await expect(front, KASSA, kbody(front, "999"), "300")
    await expect(front, KASSA, kbody(front, token="wrong-token"), "320")
    await expect(front, KASSA, kbody(front, "101", token="wrong-token"), "320")  # token before activation
    await expect(front, KASSA, kbody(front, "101"), "310")
    await expect(front, KASSA, kbody(front, "102"), "40")
    await expect(front, KASSA, kbody(front, "103"), "50")


async def test_60_layer1_not_an_object(front: RunningFront) -> None:
    for raw in (b"[]", b"\x00\x01garbage", b'"text"'):
        body = body_for(front.keys, layer2_for(front.keys, None, kassaid="100", token=TOKEN, layer1_raw=raw))
        data = await expect(front, KASSA, body, "60")
        assert "JSON" in data["error"]
        body = body_for(front.keys, layer2_for(front.keys, None, kassaid="500", token=CTOKEN, layer1_raw=raw))
        await expect(front, CLUSTER, body, "60")


async def test_350_receipt_names_another_kassa(front: RunningFront) -> None:
    await expect(front, KASSA, kbody(front, receipt=kreceipt("101")), "350")
    r = kreceipt()
    r["kassatoken"] = "other"
    await expect(front, KASSA, kbody(front, receipt=r), "350")
    await expect(front, CLUSTER, cbody(front, receipt=creceipt("501")), "350")


async def test_4040_vending_kassa_needs_vending_fields(front: RunningFront) -> None:
    for field in ("check_vend_address", "check_vend_mesto", "check_vend_num_avtovat"):
        r = kreceipt("104", vending=True)
        r[field] = " "
        data = await expect(front, KASSA, kbody(front, "104", receipt=r), "4040")
        assert field in data["error"]
    await expect(front, KASSA, kbody(front, "104", receipt=kreceipt("104", vending=True)), "820")


async def test_60_receipt_rule_names_the_path(front: RunningFront) -> None:
    r = kreceipt()
    r["products_arr"][0]["summa"] = 14000
    data = await expect(front, KASSA, kbody(front, receipt=r), "60")
    assert "products_arr[0].summa" in data["error"]
    data = await expect(front, CLUSTER, cbody(front, receipt=copy.deepcopy(r) | {"kassaid": "500",
                                                                                 "kassatoken": CTOKEN}), "60")
    assert "products_arr[0].summa" in data["error"]


async def test_330_340_fn_states(front: RunningFront) -> None:
    await expect(front, KASSA, kbody(front, "105"), "330")
    await expect(front, KASSA, kbody(front, "106"), "340")
    await expect(front, KASSA, kbody(front, "108"), "340")


async def test_fn_state_change_reaches_intake(front: RunningFront) -> None:
    kassa = await front.ctx.accounts.get_kassa("105")
    await front.ctx.accounts.set_fn_state(kassa.kkt_id, "ok")
    try:
        await expect(front, KASSA, kbody(front, "105"), "820")
    finally:
        await front.ctx.accounts.set_fn_state(kassa.kkt_id, "broken")


# ----------------------------------------------------------------------------- cluster accounts


async def test_160_180_170_220_190(front: RunningFront) -> None:
    await expect(front, CLUSTER, cbody(front, cluster_id=""), "160")
    await expect(front, CLUSTER, cbody(front, cluster_id="x1", receipt=creceipt()), "160")
    await expect(front, CLUSTER, cbody(front, cluster_id="404"), "160")
    await expect(front, CLUSTER, cbody(front, token="wrong"), "180")
    await expect(front, CLUSTER, cbody(front, token=""), "180")
    await expect(front, CLUSTER, cbody(front, "501"), "170")
    await expect(front, CLUSTER, cbody(front, "502"), "220")
    await expect(front, CLUSTER, cbody(front, "503"), "190")


async def test_230_receipt_does_not_fit_cluster_type(front: RunningFront) -> None:
    await expect(front, CLUSTER, cbody(front, "500", receipt=creceipt("500", vending=True)), "230")
    await expect(front, CLUSTER, cbody(front, "504", receipt=creceipt("504")), "230")
    await expect(front, CLUSTER, cbody(front, "504", receipt=creceipt("504", vending=True)), "820")


async def test_200_every_cluster_fn_down(front: RunningFront) -> None:
    await expect(front, CLUSTER, cbody(front, "505"), "200")


async def test_cluster_picks_a_healthy_kassa(front: RunningFront) -> None:
    data = await expect(front, CLUSTER, cbody(front, "500", rid="pick-1"), "800")
    row = await front.ctx.requests.get_by_ids(data["nuid"], data["qnuid"])
    assert row is not None
    assert (row["mode"], row["kassaid"], row["cluster_id"], row["rid_scope"]) == ("cluster", "511", "500",
                                                                                     "cluster:500")


# ----------------------------------------------------------------------------- outcomes


async def test_140_test_mode_after_every_check(front: RunningFront) -> None:
    before = await front.ctx.requests.count()
    await expect(front, KASSA, kbody(front, outer_test="1"), "140")
    await expect(front, KASSA, kbody(front, test="1"), "140")
    await expect(front, CLUSTER, cbody(front, outer_test="1"), "140")
    # a failing check still wins over test mode
    await expect(front, KASSA, kbody(front, "105", outer_test="1"), "330")
    assert await front.ctx.requests.count() == before


async def test_390_debug_kassa_gets_fake_fiscal_data(front: RunningFront) -> None:
    for _ in range(2):  # the RID is not recorded: the same RID is accepted again
        data = await expect(front, KASSA, kbody(front, "107", rid="dbg-1"), "390")
    r = await front.client.get(front.url + "/v1/status", params={"nuid": data["nuid"], "qnuid": data["qnuid"]})
    st = r.json()
    assert r.status_code == 200 and st["check_status"] == 3
    assert (st["check_fn_num"], st["check_num_fd"], st["check_num_fp"]) == (
        DEBUG_FN_SERIAL, DEBUG_FD_NUMBER, DEBUG_FISCAL_SIGN)
    assert st["check_qr_code"].endswith(f"&fn={DEBUG_FN_SERIAL}&i=999&fp=9999999999&n=1")
    assert st["check_qr_code_img_b64"].startswith("data:image/png;base64,")
    assert base64.b64decode(st["check_qr_code_img_b64"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    row = await front.ctx.requests.get_by_ids(data["nuid"], data["qnuid"])
    assert row is not None and row["rid_scope"] is None
    await expect(front, CLUSTER, cbody(front, "506", rid="dbg-2"), "390")


async def test_800_409_same_request_and_status_pending(front: RunningFront) -> None:
    receipt = kreceipt(amount=12345)
    first = await expect(front, KASSA, kbody(front, receipt=receipt, rid="order-1:a.b_c-d"), "800")
    assert len(first["nuid"]) == 23 and first["nuid"].isdigit() and len(first["qnuid"]) == 23
    dup = await expect(front, KASSA, kbody(front, receipt=receipt, rid="order-1:a.b_c-d"), "409", http=409)
    assert (dup["nuid"], dup["qnuid"], dup["same_request"]) == (first["nuid"], first["qnuid"], True)
    other = kreceipt(amount=54321)
    dup2 = await expect(front, KASSA, kbody(front, receipt=other, rid="order-1:a.b_c-d"), "409", http=409)
    assert dup2["same_request"] is False and dup2["nuid"] == first["nuid"]
    # the same RID under a cluster is another scope
    await expect(front, CLUSTER, cbody(front, rid="order-1:a.b_c-d"), "800")
    await expect(front, CLUSTER, cbody(front, rid="order-1:a.b_c-d"), "409", http=409)
    for path in ("/v1/status", "/getfp"):
        r = await front.client.get(front.url + path, params={"nuid": first["nuid"], "qnuid": first["qnuid"]})
        st = r.json()
        assert r.status_code == 200
        assert (st["check_status"], st["check_nuid"], st["rid"], st["check_itog"]) == (0, first["nuid"],
                                                                                        "order-1:a.b_c-d", 12345)
        assert st["check_num_fd"] == "" and st["check_qr_code_img_b64"] == ""
        for key in ("check_status_info", "error_code", "error_text", "name_zakaz", "check_type", "check_sno",
                    "check_vend_address", "check_vend_mesto", "check_vend_num_avtovat", "check_dt_unixtime",
                    "check_num_fp", "check_fn_num", "check_kkt_rn", "check_shift", "check_num_in_shift",
                    "check_qr_code"):
            assert key in st


async def test_810_invalid_rid_and_820_no_rid(front: RunningFront) -> None:
    for rid, why in (("x" * 65, "64"), ("bad rid!", "A-Z"), ({"a": 1}, "string")):
        data = await expect(front, KASSA, kbody(front, rid=rid), "810")
        assert why in data["rid_error"] and len(data["nuid"]) == 23
    data = await expect(front, KASSA, kbody(front), "820")
    assert "rid_error" not in data
    data = await expect(front, CLUSTER, cbody(front, rid="no spaces please"), "810")
    assert "A-Z" in data["rid_error"]
    await expect(front, CLUSTER, cbody(front), "820")
    # clients that send no check_type and no rid at all (the existing PHP/Node clients)
    l2 = layer2_for(front.keys, kreceipt(), kassaid="100", token=TOKEN)
    l2.pop("check_type", None)
    l2.pop("test", None)
    await expect(front, KASSA, body_for(front.keys, l2), "820")


async def test_status_not_found_never_hints(front: RunningFront) -> None:
    data = await expect(front, KASSA, kbody(front), "820")
    for params in ({"nuid": data["nuid"], "qnuid": "1" * 23}, {"nuid": data["nuid"]}, {}, {"nuid": "x", "qnuid": "y"}):
        r = await front.client.get(front.url + "/v1/status", params=params)
        assert r.status_code == 404 and r.json() == {"status": "error", "error": "not found"}


async def test_lenient_content_types(front: RunningFront) -> None:
    body = kbody(front)
    await expect(front, KASSA, dumps(body), "820", headers={"content-type": "application/x-www-form-urlencoded"})
    await expect(front, KASSA, dumps(body), "820", headers={"content-type": "text/plain"})
    import urllib.parse

    form = urllib.parse.urlencode(kbody(front))
    await expect(front, "/srv/igd.php", form, "820", headers={"content-type": "application/x-www-form-urlencoded"})


async def test_intake_paths_take_only_post(front: RunningFront) -> None:
    for path in (KASSA, CLUSTER, "/srv/igd.php"):
        r = await front.client.get(front.url + path)
        assert r.status_code == 405 and r.json()["status"] == "error" and r.headers["allow"] == "POST"


async def test_keys_endpoint(front: RunningFront) -> None:
    r = await front.client.get(front.url + "/v1/keys")
    assert r.status_code == 200
    assert set(r.json()) == {"rsa_first", "hmac_first", "rsa_second", "hmac_second"}
    assert "PRIVATE" not in r.text


async def test_80_unexpected_failure_has_a_correlation_id(
    front: RunningFront, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import kassagate.front.app as app_mod
    import kassagate.front.intake.receipt as intake_mod

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("injected")

    monkeypatch.setattr(intake_mod, "parse_receipt", boom)
    with caplog.at_level(logging.ERROR):
        data = await expect(front, KASSA, kbody(front), "80")
    cid = data["error"].rsplit("Correlation id: ", 1)[1].rstrip(".")
    assert len(cid) == 16 and any(cid in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    monkeypatch.setattr(app_mod, "status_body", boom)
    r = await front.client.get(front.url + "/v1/status", params={"nuid": data.get("nuid", "1" * 23),
                                                                "qnuid": "1" * 23})
    assert r.status_code in (200, 404)
    first = await expect(front, KASSA, kbody(front), "820")
    r = await front.client.get(front.url + "/v1/status", params={"nuid": first["nuid"], "qnuid": first["qnuid"]})
    assert r.status_code == 200 and r.json()["code"] == "80"


async def test_413_body_over_the_limit(tmp_path: Path) -> None:
    async with running_front(tmp_path / "d", free_port(), max_body=4096) as f:
        r = await f.post(KASSA, b'{"aab": "' + b"A" * 5000 + b'"}')
        assert r.status_code == 413 and r.json()["code"] == "90"
        r = await f.post(CLUSTER, b'{"aab": "' + b"A" * 5000 + b'"}')
        assert r.status_code == 413 and r.json()["code"] == "150"
        await expect(f, KASSA, {"test": "1"}, "100")
