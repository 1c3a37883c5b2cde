"""``GET /v1/status`` and ``/getfp``: a request's state and fiscal data.

Clients subscript the answer and compare strings: every field is always present, a value
not known yet is ``""`` (never ``null``), ``status_code`` and ``error_code`` are strings,
``"000"`` while there is no error (``docs/front.md``, "Existing clients").
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import msgspec

from kassagate.core.states import RequestStatus
from kassagate.core.tables import FNS_SITE
from kassagate.front.qr_png import qr_png_data_uri

NUID_RE = re.compile(r"[0-9]{23}")

STATUS_INFO = {
    RequestStatus.PENDING: "pending: accepted, waiting for fiscalization",
    RequestStatus.FISCALIZED: "fiscalized",
    RequestStatus.FAILED: "failed",
    RequestStatus.DEBUG: "debug: not fiscalized, fake fiscal data",
}
#: ``status_code`` / ``error_code`` of a request without an error (pending, fiscalized, debug).
NO_ERROR = "000"
RECEIPT_NAME = "Кассовый чек"
CORRECTION_NAME = "Кассовый чек коррекции"
#: Paths of the QR picture and of the public receipt page (both take ``nuid`` and ``qnuid``).
QR_IMAGE_PATH = "/v1/qr.png"
RECEIPT_PAGE_PATH = "/check"


def valid_ids(nuid: str | None, qnuid: str | None) -> bool:
    return bool(nuid and qnuid and NUID_RE.fullmatch(nuid) and NUID_RE.fullmatch(qnuid))


def _seconds(micros: int | None) -> int | str:
    return "" if micros is None else int(micros // 1_000_000)


def _value(value: Any) -> Any:
    return "" if value is None else value


def decode_receipt(row: dict[str, Any]) -> dict[str, Any]:
    """The stored receipt (wire form) of a ``requests`` row, ``{}`` if unreadable."""
    try:
        receipt = msgspec.json.decode(row["receipt"])
    except msgspec.DecodeError:
        return {}
    return receipt if isinstance(receipt, dict) else {}


def is_correction(receipt: dict[str, Any]) -> bool:
    """A correction receipt: ``korr_arr`` with a correction type (a return that only names
    its basis document is an ordinary receipt)."""
    korr = receipt.get("korr_arr")
    return isinstance(korr, dict) and any(korr.get(n) not in (None, "") for n in ("type_korr", "tip_korr"))


def request_urls(public_url: str, nuid: str, qnuid: str) -> tuple[str, str]:
    """The QR picture's URL and the public receipt page's URL of a request."""
    query = urllib.parse.urlencode({"nuid": nuid, "qnuid": qnuid})
    base = public_url.rstrip("/")
    return f"{base}{QR_IMAGE_PATH}?{query}", f"{base}{RECEIPT_PAGE_PATH}?{query}"


def status_body(row: dict[str, Any], public_url: str = "") -> dict[str, Any]:
    """Every field of the status answer from a ``requests`` row; ``public_url`` is this
    installation's public address (``check_kkt_operator`` and the base of the URLs)."""
    receipt = decode_receipt(row)
    oplata = receipt.get("oplata_arr") if isinstance(receipt.get("oplata_arr"), dict) else {}
    itog = receipt.get("itog_arr") if isinstance(receipt.get("itog_arr"), dict) else {}
    status = int(row["status"])
    qr = row.get("qr")
    code = NO_ERROR if status != RequestStatus.FAILED or row.get("error_code") is None else str(row["error_code"])
    img_url, page_url = request_urls(public_url, row["nuid"], row["qnuid"])
    return {
        "status": "success",
        "check_nuid": row["nuid"],
        "check_qnuid": row["qnuid"],
        "check_status": status,
        "check_status_info": STATUS_INFO.get(status, "unknown"),
        "status_code": code,
        "error_code": code,
        "error_text": _value(row.get("error_text")),
        "rid": _value(row.get("rid")),
        "name_zakaz": _value(receipt.get("name_zakaz")),
        "check_name": CORRECTION_NAME if is_correction(receipt) else RECEIPT_NAME,
        "check_type": _value(row.get("check_type")),
        "check_sno": _value(oplata.get("rezhim_nalog")),
        "check_itog": _value(itog.get("itog_cheka")),
        "check_vend_address": _value(receipt.get("check_vend_address")),
        "check_vend_mesto": _value(receipt.get("check_vend_mesto")),
        "check_vend_num_avtovat": _value(receipt.get("check_vend_num_avtovat")),
        "check_dt_unixtime": _seconds(row.get("fiscal_dt")),
        # The Cashbox protocol does not tell when the OFD acknowledged a document.
        "check_dt_ofdtime": "",
        "check_num_fd": _value(row.get("fd_number")),
        "check_num_fp": _value(row.get("fiscal_sign")),
        "check_fn_num": _value(row.get("fn_serial")),
        "check_kkt_rn": _value(row.get("kkt_reg_number")),
        "check_shift": _value(row.get("shift_number")),
        "check_num_in_shift": _value(row.get("number_in_shift")),
        "check_kkt_operator": public_url.rstrip("/"),
        "check_site_fns": FNS_SITE,
        "check_qr_code": _value(qr),
        "check_qr_code_img_b64": qr_png_data_uri(qr) if qr else "",
        "check_qr_code_img_url": img_url if qr else "",
        "check_qr_code_nano_url": page_url,
    }
