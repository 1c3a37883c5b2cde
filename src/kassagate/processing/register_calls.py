"""Where a receipt meets a register: sending a document and asking a register whether it
holds one, with the answers read as the outcomes ``dispatch.py`` decides on.

Only a refused or failed connection proves that a send did not reach the register
(:func:`maybe_delivered`); any other failure leaves the outcome unknown. A found document
counts only when it names the request (:func:`_names`): a register that ignores the
lookup's keys answers with its last document, whatever it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from kassagate.cashbox.client import FiscalAnswer, RegisterUnreachable
from kassagate.core.codes import CashboxCode
from kassagate.core.qr import build_qr
from kassagate.core.register.clock import parse_time
from kassagate.core.states import FnState
from kassagate.processing import dispatch
from kassagate.processing.mapping import CashboxDocument
from kassagate.processing.monitor import rotate_shift
from kassagate.processing.ports import AskRegister, Registers
from kassagate.processing.registers import RegisterHandle, UnknownRegister
from kassagate.storage.queue import FiscalData

#: Cashbox codes that say the shift must be opened, or closed and reopened.
SHIFT_CODES = {CashboxCode.SHIFT_NOT_OPEN, CashboxCode.SHIFT_EXPIRED}
FN_DOWN_STATES = {FnState.FULL, FnState.BROKEN, FnState.BLOCKED}


def maybe_delivered(exc: RegisterUnreachable) -> bool:
    """Whether the register may have received the document: only a refused or failed
    connection proves it did not."""
    return not isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def fiscal_data_from_answer(answer: FiscalAnswer, handle: RegisterHandle, doc: CashboxDocument) -> FiscalData:
    """The fiscal data of a fiscalized document. A real device may leave ``extraParams``
    empty: then FD number and fiscal sign come from ``fiscalNum``/``fiscalID``, the FN and
    registration numbers from the register's record, and the QR string is built here."""
    extra = answer.extra
    fd = (extra.fd_number if extra is not None else None) or _int_or_none(answer.fiscal_num)
    fp_text = (extra.fiscal_sign if extra is not None else "") or answer.fiscal_id or None
    fn_serial = (extra.fn_number if extra is not None else "") or handle.fn_serial or None
    reg = (extra.kkt_reg_number if extra is not None else "") or handle.kkt_reg_number or None
    when = parse_time(answer.print_time or answer.doc_time, handle.tz)
    qr = extra.qr if extra is not None else ""
    if not qr and fd is not None and fp_text and fp_text.isdigit() and fn_serial and when is not None:
        qr = build_qr(
            when=when.replace(tzinfo=None),
            total=int(doc.body["amount"]),
            fn_serial=fn_serial,
            fd=fd,
            fp=int(fp_text),
            sign=int(doc.body["settlementSign"]),
        )
    return FiscalData(
        fiscal_dt=None if when is None else int(when.timestamp()) * 1_000_000,
        fd_number=fd,
        fiscal_sign=fp_text,
        fn_serial=fn_serial,
        kkt_reg_number=reg,
        shift_number=extra.shift_number if extra is not None else None,
        number_in_shift=extra.receipt_number if extra is not None else None,
        qr=qr or None,
    )


@dataclass
class RegisterCalls:
    """The calls of one worker to its registers; ``inflight`` counts its documents in
    flight per register (the routing's load). ``ask`` reads and records a register's
    ``/get_info`` when it refused a document, to tell a dead fiscal drive from a refused
    receipt."""

    registers: Registers
    ask: AskRegister
    inflight: dict[int, int] = field(default_factory=dict)

    async def send(self, kkt_id: int, doc: CashboxDocument) -> dispatch.SendOutcome:
        """Send the document to register ``kkt_id`` (opening its shift when it says so)."""
        try:
            handle = await self.registers.get(kkt_id)
        except UnknownRegister:
            return dispatch.Unreachable(maybe_delivered=False, reason="the register no longer exists")
        except Exception as exc:  # a journal that cannot be opened, a bad URL
            why = f"cannot open the register ({type(exc).__name__})"
            return dispatch.Unreachable(maybe_delivered=False, reason=why)
        self.inflight[kkt_id] = self.inflight.get(kkt_id, 0) + 1
        try:
            answer = await _send(handle, doc)
            if isinstance(answer, dispatch.Unreachable):
                return answer
            if answer.code in SHIFT_CODES:
                async with handle.lock:
                    await rotate_shift(handle.client, close_first=answer.code == CashboxCode.SHIFT_EXPIRED)
                answer = await _send(handle, doc)
                if isinstance(answer, dispatch.Unreachable):
                    return answer
            if answer.code == CashboxCode.OK:
                return dispatch.Fiscalized(fiscal_data_from_answer(answer, handle, doc))
            state = await self._fn_state(handle)
            if state in FN_DOWN_STATES:
                return dispatch.FnDown(state)
            if answer.code == CashboxCode.INTERNAL:
                # A device's internal error does not prove that nothing was fiscalized: the
                # register is asked whether it holds the document (dispatch.Confirm).
                return dispatch.Unreachable(maybe_delivered=True, reason=f"register internal error: {answer.message}")
            return dispatch.Refused(answer.code, answer.message)
        finally:
            self.inflight[kkt_id] -= 1

    async def lookup(self, kkt_id: int, doc: CashboxDocument) -> dispatch.LookupOutcome:
        """Whether register ``kkt_id`` holds the document: ``/last_document`` by
        ``documentExtID`` and by ``docTime`` + ``docNumber`` + ``amount``."""
        body = doc.body
        try:
            handle = await self.registers.get(kkt_id)
            answer = await handle.client.last_document(
                document_ext_id=body["documentExtID"], doc_time=body["docTime"], doc_number=body["docNumber"],
                amount=body["amount"],
            )
        except UnknownRegister:
            return dispatch.Unreachable(maybe_delivered=True, reason="the register no longer exists")
        except RegisterUnreachable as exc:
            return dispatch.Unreachable(maybe_delivered=True, reason=f"it is unreachable: {exc}")
        except Exception as exc:  # a journal that cannot be opened, a bad URL
            return dispatch.Unreachable(maybe_delivered=True, reason=f"cannot open it ({type(exc).__name__})")
        if answer.code == CashboxCode.OK and _names(answer, doc):
            return dispatch.Fiscalized(fiscal_data_from_answer(answer, handle, doc))
        if answer.code == CashboxCode.NOT_FOUND:
            return dispatch.Absent()
        return dispatch.Unreachable(
            maybe_delivered=True, reason=f"its /last_document answered code {answer.code}: {answer.message}"
        )

    async def _fn_state(self, handle: RegisterHandle) -> str | None:
        """The register's FN state, recorded where the intake reads it."""
        info = await self.ask(handle)
        state = None if info is None else info.get("fnState")
        return state if isinstance(state, str) else None


async def _send(handle: RegisterHandle, doc: CashboxDocument) -> FiscalAnswer | dispatch.Unreachable:
    try:
        return FiscalAnswer.parse(await handle.client.call(doc.endpoint, doc.body))
    except RegisterUnreachable as exc:
        return dispatch.Unreachable(maybe_delivered=maybe_delivered(exc), reason=str(exc))


def _names(answer: FiscalAnswer, doc: CashboxDocument) -> bool:
    """Whether a found document is this request's (a register that ignores the lookup's
    keys answers with its last document, whatever it is)."""
    ext = answer.raw.get("documentExtID")
    number = answer.raw.get("docNumber")
    nuid = doc.body["documentExtID"]
    return nuid in (ext, number)
