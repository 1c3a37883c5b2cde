"""``GET /v1/status`` and ``/getfp``: a request's state and fiscal data (front.md §6)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from kassagate.front.qr_png import qr_png_data_uri

NUID_RE = re.compile(r"[0-9]{23}")

STATUS_INFO = {
    0: "pending: accepted, waiting for fiscalization",
    1: "fiscalized",
    2: "failed",
    3: "debug: not fiscalized, fake fiscal data",
}


def valid_ids(nuid: str | None, qnuid: str | None) -> bool:
    return bool(nuid and qnuid and NUID_RE.fullmatch(nuid) and NUID_RE.fullmatch(qnuid))


def _seconds(micros: int | None) -> int | None:
    return None if micros is None else int(micros // 1_000_000)


def status_body(row: dict[str, Any]) -> dict[str, Any]:
    """Every field of front.md §6 from a ``requests`` row (fiscal fields null until known)."""
    try:
        receipt = msgspec.json.decode(row["receipt"])
    except msgspec.DecodeError:
        receipt = {}
    oplata = receipt.get("oplata_arr") if isinstance(receipt.get("oplata_arr"), dict) else {}
    itog = receipt.get("itog_arr") if isinstance(receipt.get("itog_arr"), dict) else {}
    status = int(row["status"])
    qr = row.get("qr")
    return {
        "status": "success",
        "check_nuid": row["nuid"],
        "check_qnuid": row["qnuid"],
        "check_status": status,
        "check_status_info": STATUS_INFO.get(status, "unknown"),
        "error_code": None if row.get("error_code") is None else str(row["error_code"]),
        "error_text": row.get("error_text"),
        "rid": row.get("rid"),
        "name_zakaz": receipt.get("name_zakaz", ""),
        "check_type": row.get("check_type"),
        "check_sno": oplata.get("rezhim_nalog"),
        "check_itog": itog.get("itog_cheka"),
        "check_vend_address": receipt.get("check_vend_address", ""),
        "check_vend_mesto": receipt.get("check_vend_mesto", ""),
        "check_vend_num_avtovat": receipt.get("check_vend_num_avtovat", ""),
        "check_dt_unixtime": _seconds(row.get("fiscal_dt")),
        "check_num_fd": row.get("fd_number"),
        "check_num_fp": row.get("fiscal_sign"),
        "check_fn_num": row.get("fn_serial"),
        "check_kkt_rn": row.get("kkt_reg_number"),
        "check_shift": row.get("shift_number"),
        "check_num_in_shift": row.get("number_in_shift"),
        "check_qr_code": qr,
        "check_qr_code_img_b64": qr_png_data_uri(qr) if qr else None,
    }
