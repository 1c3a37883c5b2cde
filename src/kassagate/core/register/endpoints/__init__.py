"""The register's endpoints by family, each a function ``(register, request, ctx) -> answer``:
``receipts`` (sale, prepay, refund, rollback, creditpay), ``documents`` (order,
preorder, deposit, withdraw, correction), ``shifts``, ``queries`` (check_status,
check_copy, last_document, get_info) and ``reports`` (x_report, control_tape,
dates_report). ``HANDLERS`` maps each endpoint's name to its function."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kassagate.core.register.endpoints import documents, queries, receipts, reports, shifts

if TYPE_CHECKING:
    from kassagate.core.register.engine import Ctx, Register

HANDLERS: dict[str, Callable[[Register, dict[str, Any], Ctx], dict[str, Any]]] = {
    "sale": receipts.sale, "refund": receipts.refund, "rollback": receipts.rollback, "prepay": receipts.prepay,
    "creditpay": receipts.creditpay,
    "order": documents.order, "preorder": documents.preorder, "deposit": documents.deposit,
    "withdraw": documents.withdraw, "correction": documents.correction,
    "open_shift": shifts.open_shift, "close_shift": shifts.close_shift, "check_shift": shifts.check_shift,
    "check_status": queries.check_status, "check_copy": queries.check_copy,
    "last_document": queries.last_document, "get_info": queries.get_info,
    "x_report": reports.x_report, "control_tape": reports.control_tape, "dates_report": reports.dates_report,
}
