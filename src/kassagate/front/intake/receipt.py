"""The receipt's checks: layer 1 against layer 2 (60, 350), the vending fields (4040,
230), the receipt rules (60) and the RID (810)."""

from __future__ import annotations

import datetime as dt
import hmac
import re
from typing import Any

from kassagate.core.codes import FrontCode
from kassagate.core.receipt import Receipt, ReceiptError, parse_receipt
from kassagate.core.states import AccountType
from kassagate.front.intake.answer import Answer, Mode, answer, id_text, type_name

#: Merchants' local time: the settlement date of the VAT table and the QR's ``t``. 54-FZ
#: receipts of this service are dated in Moscow time (UTC+3, no daylight saving).
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")
RID_RE = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
VEND_FIELDS = ("check_vend_address", "check_vend_mesto", "check_vend_num_avtovat")


def check_layer1(layer1: Any, detail: str, ident: str, token: str, mode: Mode) -> Answer | dict[str, Any]:
    """60 (not a JSON object), then 350 (the receipt names another kassa or token)."""
    if not isinstance(layer1, dict):
        why = detail or f"layer 1 is JSON {type_name(layer1)}"
        return answer(FrontCode.RECEIPT_INVALID, f"(receipt): {why}; expected a JSON object (the receipt).")
    id_key, token_key = "kassaid", "kassatoken"
    if mode == "cluster" and "clusterid" in layer1:
        id_key, token_key = "clusterid", "clustertoken"
    rid = id_text(layer1.get(id_key))
    if rid != ident:
        return answer(FrontCode.RECEIPT_ACCOUNT_MISMATCH, f"The receipt's {id_key} differs from layer 2's.")
    rtoken = id_text(layer1.get(token_key))
    if rtoken is None or not hmac.compare_digest(rtoken.encode("utf-8", "replace"), token.encode("utf-8", "replace")):
        return answer(FrontCode.RECEIPT_ACCOUNT_MISMATCH, f"The receipt's {token_key} differs from layer 2's.")
    return layer1


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    return True


def check_vending_kassa(receipt: dict[str, Any], kassa_type: str) -> Answer | None:
    """4040."""
    if kassa_type != AccountType.VENDING:
        return None
    missing = [f for f in VEND_FIELDS if not _filled(receipt.get(f))]
    if missing:
        return answer(FrontCode.VENDING_FIELDS_MISSING, f"Missing or empty: {', '.join(missing)}.")
    return None


def check_vending_cluster(receipt: dict[str, Any], cluster_type: str) -> Answer | None:
    """230."""
    if cluster_type == AccountType.VENDING:
        missing = [f for f in VEND_FIELDS if not _filled(receipt.get(f))]
        if missing:
            return answer(
                FrontCode.CLUSTER_RECEIPT_TYPE_MISMATCH,
                f"The cluster is of type vending; missing or empty: {', '.join(missing)}.",
            )
        return None
    present = [f for f in VEND_FIELDS if _filled(receipt.get(f))]
    if present:
        return answer(
            FrontCode.CLUSTER_RECEIPT_TYPE_MISMATCH,
            f"The cluster is of type {cluster_type}; vending fields must be empty: {', '.join(present)}.",
        )
    return None


def check_receipt(obj: dict[str, Any], today: dt.date) -> Answer | Receipt:
    """60 for any receipt rule (``core/receipt``); the text names the path."""
    try:
        return parse_receipt(obj, today=today)
    except ReceiptError as exc:
        return answer(FrontCode.RECEIPT_INVALID, f"(receipt) {exc}")


def check_rid(layer2: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(rid, None)`` for a valid RID, ``(None, None)`` when none was sent, ``(None, why)``
    when one was sent but is not valid (code 810)."""
    value = layer2.get("rid")
    if value is None or value == "":
        return None, None
    text = id_text(value)
    if text is None:
        return None, f"rid must be a string, got {type_name(value)}"
    if len(text) > 64:
        return None, f"rid is {len(text)} characters long; at most 64 are allowed"
    if not RID_RE.fullmatch(text):
        return None, "rid may contain only A-Z a-z 0-9 _ - . : (1 to 64 characters)"
    return text, None
