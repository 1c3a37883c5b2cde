"""The register's data: documents, the register state, the store port, the error type.

Pure: the ``Store`` protocol is the port through which the rules read and write documents;
``kassagate.cashbox.journal`` implements it on SQLite, ``MemoryStore`` in memory.
"""

from __future__ import annotations

import copy
import datetime as dt
import operator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from kassagate.core.codes import CASHBOX_MESSAGES, CashboxCode
from kassagate.core.fn import FiscalDrive, naive
from kassagate.core.register import reports
from kassagate.core.register.clock import DEFAULT_ZONE_NAME, TIME_FORMAT

__all__ = [
    "DATE_FORMAT",
    "SHIFT_KINDS",
    "TIME_FORMAT",
    "CashboxError",
    "Doc",
    "MemoryStore",
    "RegisterState",
    "Store",
    "error_answer",
]

DATE_FORMAT = "%Y-%m-%d"
#: Kinds of the register's own reports (not answers to a document request).
SHIFT_KINDS = ("registration", "open_shift", "close_shift")


class CashboxError(Exception):
    """A protocol error: the answer carries ``code`` and ``message`` (and ``extra`` fields)."""

    def __init__(self, code: CashboxCode, message: str | None = None, **extra: Any) -> None:
        self.code = CashboxCode(code)
        self.message = message or CASHBOX_MESSAGES[self.code]
        self.extra = extra
        super().__init__(f"{int(self.code)}: {self.message}")

    def answer(self) -> dict[str, Any]:
        return error_answer(self.code, self.message, **self.extra)


def error_answer(code: CashboxCode | int, message: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "error", "code": int(code), "message": message, "printError": 0}
    out.update(extra)
    return out


@dataclass(slots=True)
class Doc:
    """One document of the register's journal."""

    id: int  # documentID (0 until the store assigns one)
    kind: str  # sale, refund, rollback, prepay, creditpay, correction, order, deposit, withdraw,
    #            registration, open_shift, close_shift
    origin: str  # the endpoint that created it (idempotency scope)
    status: int  # docStatus: 0 open (orders), 1 closed, 2 deleted (orders)
    shift: int
    time: str  # register's local time, TIME_FORMAT
    amount: int = 0
    fd: int | None = None
    fp: int | None = None
    sign: int | None = None  # 1054
    doc_time: str | None = None
    doc_number: str | None = None
    ext_id: str | None = None
    idem: str | None = None  # docTime|docNumber|amount
    parent_id: int | None = None
    request: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # cat, pay{kind: net}, vat{percent: sum}
    progress: dict[str, Any] = field(default_factory=dict)  # refunded{idx: qty}, credit_left, ...

    def journal_line(self) -> dict[str, Any]:
        return {
            "fd": self.fd,
            "type": self.kind,
            "docNumber": self.doc_number,
            "amount": self.amount,
            "time": self.time,
            "fiscalSign": None if self.fp is None else str(self.fp),
            "documentID": self.id,
            "documentExtID": self.ext_id,
            "docTime": self.doc_time,
            "shift": self.shift,
            "docStatus": self.status,
            "settlementSign": self.sign,
            "itemAmountReading": self.summary.get("reading"),
        }


class Store(Protocol):
    """Where the register's documents live (the journal)."""

    def get(self, document_id: int) -> Doc | None: ...
    def by_fd(self, fd: int) -> Doc | None: ...
    def find(self, origin: str | None, *, idem: str | None = None, ext_id: str | None = None) -> Doc | None: ...
    def last(self) -> Doc | None:
        """The last document other than a registration or shift report."""
        ...

    def add(self, doc: Doc) -> int: ...
    def update(self, doc: Doc) -> None: ...
    def of_shift(self, shift: int) -> list[Doc]: ...
    def close_report(self, shift: int) -> Doc | None:
        """The Z report (``close_shift`` document) of ``shift``."""
        ...

    def between(self, start: str, stop: str) -> list[Doc]: ...
    def count(self, doc: Doc) -> None:
        """Count ``doc`` into its day's kept totals (``reports.add_to_day``), written with
        the document: undone with its savepoint."""
        ...

    def day_totals(self, first_day: str, last_day: str) -> dict[str, Any]:
        """The kept running totals of the days ``first_day`` to ``last_day`` (``YYYY-MM-DD``)
        merged, at a cost in proportion to the days, not to their documents."""
        ...

    def open_orders(self) -> list[Doc]: ...
    def savepoint(self) -> None: ...
    def rollback_savepoint(self) -> None: ...
    def release_savepoint(self) -> None: ...


class MemoryStore:
    """A ``Store`` in memory (tests, and anything that needs no durability)."""

    def __init__(self) -> None:
        self.docs: dict[int, Doc] = {}
        self.days: dict[str, dict[str, Any]] = {}  # day -> running totals (replaced, never mutated)
        self._saved: list[tuple[dict[int, Doc], dict[str, dict[str, Any]]]] = []

    def savepoint(self) -> None:
        self._saved.append((dict(self.docs), dict(self.days)))

    def rollback_savepoint(self) -> None:
        self.docs, self.days = self._saved.pop()

    def release_savepoint(self) -> None:
        self._saved.pop()

    def get(self, document_id: int) -> Doc | None:
        d = self.docs.get(document_id)
        return copy.deepcopy(d) if d else None

    def by_fd(self, fd: int) -> Doc | None:
        return copy.deepcopy(next((d for d in self.docs.values() if d.fd == fd), None))

    def find(self, origin: str | None, *, idem: str | None = None, ext_id: str | None = None) -> Doc | None:
        for d in self.docs.values():
            if origin is not None and d.origin != origin:
                continue
            if (idem is not None and d.idem == idem) or (ext_id is not None and d.ext_id == ext_id):
                return copy.deepcopy(d)
        return None

    def last(self) -> Doc | None:
        ids = [i for i, d in self.docs.items() if d.kind not in SHIFT_KINDS]
        return copy.deepcopy(self.docs[max(ids)]) if ids else None

    def add(self, doc: Doc) -> int:
        if not doc.id:
            doc.id = max(self.docs, default=0) + 1
        self.docs[doc.id] = copy.deepcopy(doc)
        return doc.id

    def update(self, doc: Doc) -> None:
        self.docs[doc.id] = copy.deepcopy(doc)

    def of_shift(self, shift: int) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.docs.values() if d.shift == shift]

    def close_report(self, shift: int) -> Doc | None:
        return copy.deepcopy(next((d for d in self.docs.values() if d.kind == "close_shift" and d.shift == shift),
                                  None))

    def between(self, start: str, stop: str) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.docs.values() if start <= d.time <= stop]

    def count(self, doc: Doc) -> None:
        day = doc.time[:10]
        self.days[day] = reports.add_to_day(self.days.get(day, {}), doc)

    def day_totals(self, first_day: str, last_day: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for day, running in self.days.items():
            if first_day <= day <= last_day:
                out = reports.merge(out, running)
        return out

    def open_orders(self) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.docs.values() if d.kind == "order" and d.status == 0]


@dataclass(slots=True)
class RegisterState:
    """The register's own small state (the documents live in the ``Store``)."""

    kkt_serial: str
    merchant_id: str = field(repr=False)  # the shared secret: never in a repr or a log
    fn: FiscalDrive | None = None  # None: no fiscal registration
    auto_shift: bool = True
    timezone: str = DEFAULT_ZONE_NAME
    shift_number: int = 0  # the last shift's number (0: none yet)
    shift_open: bool = False
    shift_opened_at: str | None = None
    shift_docs: int = 0  # transactions in the open shift (code 26)
    shift_receipts: int = 0  # receipts and corrections in the open shift
    shift_start_cash: int = 0
    shift_cash_in: int = 0
    shift_cash_out: int = 0
    cash: int = 0  # the drawer
    printer_fail: bool = False
    terminal_fail: bool = False
    terminal_checks: int = 0
    last_doc_id: int = 0
    open_orders: int = 0
    # Settings (``docs/cashbox.md``): the accepted tax percents (None: the Russian VAT table
    # by date), and the JSON type of ``shiftID`` and ``fiscalID`` in answers.
    tax_rates: list[int] | None = None
    shift_id_type: str = "int"  # or "string"
    fiscal_id_type: str = "string"  # or "int"
    shift_totals: dict[str, Any] = field(default_factory=dict)  # running; replaced, never mutated

    def clone(self) -> RegisterState:
        return _clone(self)

    def snapshot(self) -> tuple[Any, ...]:
        """The state's values (cheap): ``restore`` puts them back in place."""
        return (_STATE_GET(self), self.fn, None if self.fn is None else _FN_GET(self.fn))

    def restore(self, snap: tuple[Any, ...]) -> None:
        values, fn, fn_values = snap
        for name, v in zip(_STATE_SLOTS, values, strict=True):
            setattr(self, name, v)
        self.fn = fn
        if fn is not None:
            for name, v in zip(_FN_SLOTS, fn_values, strict=True):
                setattr(fn, name, v)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisterState:
        d = dict(d)
        fn = d.pop("fn", None)
        return cls(fn=FiscalDrive.from_dict(fn) if fn else None, **d)

    def shift_age(self, now: dt.datetime) -> dt.timedelta:
        if not self.shift_open or self.shift_opened_at is None:
            return dt.timedelta(0)
        return naive(now) - dt.datetime.fromisoformat(self.shift_opened_at)


def _copy_slots(obj: Any) -> Any:
    new = object.__new__(type(obj))
    for name in type(obj).__slots__:
        object.__setattr__(new, name, getattr(obj, name))
    return new


def _clone(state: RegisterState) -> RegisterState:
    c: RegisterState = _copy_slots(state)
    if state.fn is not None:
        c.fn = _copy_slots(state.fn)
    return c


_STATE_SLOTS: tuple[str, ...] = tuple(RegisterState.__slots__)
_FN_SLOTS: tuple[str, ...] = tuple(FiscalDrive.__slots__)
_STATE_GET = operator.attrgetter(*_STATE_SLOTS)
_FN_GET = operator.attrgetter(*_FN_SLOTS)
