"""The front server's receipt (layer 1 plaintext, ``front.md`` section 4): types and rules.

Contract C1 (``docs/architecture.md``); the rules, their paths and messages are listed in
``docs/receipt.md``.

- :func:`parse_receipt` checks a decoded JSON object against every rule of ``front.md``
  section 4 and ``fiscal-rules.md`` and returns a typed, frozen :class:`Receipt`; the first
  broken rule raises :class:`ReceiptError` with the field path (``products_arr[2].summa``,
  0-based indexes) and a message saying what was expected.
- :meth:`Receipt.to_wire` gives the canonical wire JSON back; :meth:`Receipt.from_wire`
  reads it again without the date rules (for stored, already-checked receipts).
- :meth:`Receipt.canonical_bytes` is a stable byte form for hashing and comparing
  (the token is left out).

The attribute names are the wire names, so that an error path maps one-to-one onto the
attributes (``products_arr[2].summa`` -> ``receipt.products_arr[2].summa``).

Pure: no I/O, no clock; ``today`` is passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec

from kassagate.core.limits import MAX_ITEMS, MAX_MONEY
from kassagate.core.tables import (
    AGENT_SIGNS,
    MAX_ITEM_NAME,
    MAX_VEND_ADDRESS,
    MAX_VEND_MACHINE_NUMBER,
    MAX_VEND_PLACE,
    MEASURE_UNITS,
    PAYMENT_FORMS,
    PAYMENT_METHODS,
    PAYMENT_SUBJECTS,
    VAT_RATES,
    SettlementSign,
    TaxSystem,
)

__all__ = [
    "CHECK_SEND_TYPES",
    "CORRECTION_TYPES",
    "MAX_KOLVO",
    "MAX_MONEY",
    "MAX_PRODUCTS",
    "Correction",
    "Payment",
    "Product",
    "Receipt",
    "ReceiptError",
    "Total",
    "parse_receipt",
]

#: Largest quantity (tag 1023).
MAX_KOLVO = Decimal("99999999.999")
#: Decimal places allowed in a quantity.
KOLVO_DECIMALS = 3
#: Most lines on one receipt (bounds the work of one request).
MAX_PRODUCTS = MAX_ITEMS

MAX_CMS = 128
MAX_NAME_ZAKAZ = 256
MAX_KASSIR_FIO = 64  # tag 1021
MAX_NAME_POKUPATEL = 256  # tag 1227
MAX_EMAIL = 64  # tag 1008
MAX_AGENT_TEXT = 64  # tags 1044, 1026, 1225
MAX_AGENT_ADDRESS = 256  # tag 1005
MAX_NOMER_PREDPISANIYA = 32  # tag 1179
MAX_KASSAID = 20
MAX_KASSATOKEN = 256

CHECK_SEND_TYPES = ("email", "phone", "none")
#: Correction type, tag 1173: 0 made by the merchant on its own, 1 by order of the tax office.
CORRECTION_TYPES: dict[int, str] = {0: "self", 1: "ordered"}
#: ``korr_arr`` amounts by VAT rate (FFD 1.05 correction) -> the VAT code (tag 1199) of the rate.
KORR_VAT_FIELDS: dict[str, int] = {
    "money_nds_20": 1,
    "money_nds_10": 2,
    "money_nds_20_120": 3,
    "money_nds_10_110": 4,
    "money_nds_0": 5,
    "money_bez_nds": 6,
    "money_nds_5": 7,
    "money_nds_7": 8,
    "money_nds_5_105": 9,
    "money_nds_7_107": 10,
    "money_nds_22": 11,
    "money_nds_22_122": 12,
}
#: Wire names of ``korr_arr`` fields, the vendor's name first, then its aliases.
KORR_TYPE_NAMES = ("type_korr", "tip_korr")
KORR_DATE_NAMES = ("date_doc_korr", "data_korr")
KORR_NUMBER_NAMES = ("numb_doc_korr", "num_doc_korr", "nomer_predpisaniya")
MAX_NAME_DOC_KORR = 256  # tag 1177
#: ``priznak_agenta`` values that mean "not an agent" besides a missing field: the vendor's
#: plugin sends 40 (or "40") by default.
NOT_AGENT_TEXTS = frozenset({"none", "", "40"})
NOT_AGENT_NUMBER = 40
#: Dates given as unix seconds (``date_doc_korr``) are read in Moscow time, as the front's
#: settlement dates are.
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")
_MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z

#: Agent strings of a product line: wire name -> (FFD tag, kind, max length).
AGENT_FIELDS: dict[str, tuple[int, str, int]] = {
    "phone_oper_perevoda": (1075, "phone", 19),
    "operation_plat_agenta": (1044, "text", MAX_AGENT_TEXT),
    "phone_oper_priem_plat": (1074, "phone", 19),
    "name_oper_perevoda": (1026, "text", MAX_AGENT_TEXT),
    "address_oper_perevoda": (1005, "text", MAX_AGENT_ADDRESS),
    "inn_oper_perevoda": (1016, "inn", 12),
    "phone_postavshika": (1171, "phone", 19),
    "name_postavshika": (1225, "text", MAX_AGENT_TEXT),
}

#: Agent strings that must be non-empty for each agent sign (tag 1222), besides the
#: supplier's name and phone, required for every agent sign.
AGENT_REQUIRED_FIELDS: dict[int, tuple[str, ...]] = {
    0: (
        "operation_plat_agenta",
        "phone_oper_perevoda",
        "name_oper_perevoda",
        "address_oper_perevoda",
        "inn_oper_perevoda",
    ),  # bank paying agent
    1: (
        "operation_plat_agenta",
        "phone_oper_perevoda",
        "name_oper_perevoda",
        "address_oper_perevoda",
        "inn_oper_perevoda",
    ),  # bank paying subagent
    2: ("phone_oper_priem_plat",),  # paying agent
    3: ("phone_oper_priem_plat",),  # paying subagent
    4: (),  # attorney
    5: (),  # commission agent
    6: (),  # other agent
}
_AGENT_SUPPLIER = ("name_postavshika", "phone_postavshika")
AGENT_SIGN_NAMES: dict[int, str] = {
    0: "bank paying agent",
    1: "bank paying subagent",
    2: "paying agent",
    3: "paying subagent",
    4: "attorney",
    5: "commission agent",
    6: "other agent",
}

_TAX_SYSTEM_NAMES = {
    0: "general",
    1: "simplified, income",
    2: "simplified, income minus expense",
    4: "agricultural",
    5: "patent",
}

_SETTLEMENT_SIGNS = frozenset(int(s) for s in SettlementSign)
_TAX_SYSTEMS = frozenset(int(t) for t in TaxSystem)
_VAT_CODES = frozenset(VAT_RATES)
_PAYMENT_METHOD_CODES = frozenset(PAYMENT_METHODS)

_INT_RE = re.compile(r"-?[0-9]+")
_DEC_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DIGITS_RE = re.compile(r"[0-9]+")
_EMAIL_RE = re.compile(r"[^@\s\"<>(),;:\\\[\]]+@[^@\s\"<>(),;:\\\[\]]+\.[^@\s\"<>(),;:\\\[\]]+")
_PHONE_STRIP_RE = re.compile(r"[\s()\-]")
_PHONE_RE = re.compile(r"\+?[0-9]{10,15}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NUMBER_TEXT = 40  # longest digit string looked at (int() of huge strings is slow or refused)
_HUGE = 10**40  # integers this large are never printed (str() of huge ints is slow or refused)
_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class ReceiptError(ValueError):
    """A receipt rule is broken: ``path`` names the field, ``message`` what was expected."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __reduce__(self) -> tuple[type[ReceiptError], tuple[str, str]]:
        return (type(self), (self.path, self.message))


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class Product:
    """One line of ``products_arr``. Money in kopecks, ``kolvo`` a :class:`Decimal`.

    ``priznak_agenta`` is ``None`` for ``"none"``; ``mera_kolva_predmeta_rasheta`` is ``None``
    when not sent (processing then sends 0, pieces).
    """

    name_tovar: str
    price_piece_bez_skidki: int
    kolvo: Decimal
    skidka: int
    price_piece: int
    summa: int
    stavka_nds: int
    priznak_sposoba_rascheta: int
    priznak_predmeta_rascheta: int
    priznak_agenta: int | None = None
    phone_oper_perevoda: str = ""
    operation_plat_agenta: str = ""
    phone_oper_priem_plat: str = ""
    name_oper_perevoda: str = ""
    address_oper_perevoda: str = ""
    inn_oper_perevoda: str = ""
    phone_postavshika: str = ""
    name_postavshika: str = ""
    mera_kolva_predmeta_rasheta: int | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name_tovar": self.name_tovar,
            "price_piece_bez_skidki": self.price_piece_bez_skidki,
            "kolvo": _kolvo_to_wire(self.kolvo),
            "skidka": self.skidka,
            "price_piece": self.price_piece,
            "summa": self.summa,
            "stavka_nds": self.stavka_nds,
            "priznak_sposoba_rascheta": self.priznak_sposoba_rascheta,
            "priznak_predmeta_rascheta": self.priznak_predmeta_rascheta,
            "priznak_agenta": "none" if self.priznak_agenta is None else self.priznak_agenta,
        }
        for name in AGENT_FIELDS:
            out[name] = getattr(self, name)
        if self.mera_kolva_predmeta_rasheta is not None:
            out["mera_kolva_predmeta_rasheta"] = str(self.mera_kolva_predmeta_rasheta)
        return out


@dataclass(frozen=True, slots=True)
class Payment:
    """``oplata_arr``: tax system (1055), the five payment forms (kopecks), cashier, customer."""

    rezhim_nalog: int
    money_nal: int = 0
    money_electro: int = 0
    money_predoplata: int = 0
    money_postoplata: int = 0
    money_vstrecha: int = 0
    kassir_inn: str = ""
    kassir_fio: str = ""
    client_email: str = field(default="", repr=False)
    client_phone: str = field(default="", repr=False)
    inn_pokupatel: str = field(default="", repr=False)
    name_pokupatel: str = field(default="", repr=False)

    @property
    def money_total(self) -> int:
        return sum(getattr(self, name) for name in PAYMENT_FORMS)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rezhim_nalog": self.rezhim_nalog}
        for name in PAYMENT_FORMS:
            out[name] = getattr(self, name)
        out.update(
            kassir_inn=self.kassir_inn,
            kassir_fio=self.kassir_fio,
            client_email=self.client_email,
            client_phone=self.client_phone,
            inn_pokupatel=self.inn_pokupatel,
            name_pokupatel=self.name_pokupatel,
        )
        return out


@dataclass(frozen=True, slots=True)
class Total:
    """``itog_arr``: settlement sign (1054) and the receipt total in kopecks."""

    priznak_rascheta: int
    itog_cheka: int

    def to_wire(self) -> dict[str, Any]:
        return {"priznak_rascheta": self.priznak_rascheta, "itog_cheka": self.itog_cheka}


@dataclass(frozen=True, slots=True)
class Correction:
    """``korr_arr``: a correction (``type_korr`` set) or the basis document of a return.

    - ``type_korr`` (tag 1173): 0 = made by the merchant on its own (``"self"``),
      1 = by order of the tax office (``"ordered"``); ``None`` on a return that only names
      its basis document (an ordinary return, see :attr:`Receipt.correction_form`);
    - ``date_doc_korr`` (tag 1178): the date of the settlement (or basis document);
    - ``numb_doc_korr`` (tag 1179): the basis document's number (the tax office's order
      number), required when ``type_korr`` = 1;
    - ``name_doc_korr`` (tag 1177): the basis document's name;
    - ``fio_upolnomoch``, ``inn_upolnomoch``: who made the correction;
    - ``vat_amounts``: the FFD 1.05 amounts by VAT rate, ``(wire name, kopecks)`` in the
      order of :data:`KORR_VAT_FIELDS`, only the ones sent.
    """

    type_korr: int | None
    date_doc_korr: dt.date | None
    numb_doc_korr: str = ""
    name_doc_korr: str = ""
    fio_upolnomoch: str = ""
    inn_upolnomoch: str = field(default="", repr=False)
    vat_amounts: tuple[tuple[str, int], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.type_korr is not None:
            out["type_korr"] = self.type_korr
        out.update(
            date_doc_korr="" if self.date_doc_korr is None else self.date_doc_korr.isoformat(),
            numb_doc_korr=self.numb_doc_korr,
            name_doc_korr=self.name_doc_korr,
            fio_upolnomoch=self.fio_upolnomoch,
            inn_upolnomoch=self.inn_upolnomoch,
        )
        out.update(self.vat_amounts)
        return out


@dataclass(frozen=True, slots=True)
class Receipt:
    """A checked receipt. Build one with :func:`parse_receipt` or :meth:`from_wire`."""

    kassaid: str
    kassatoken: str = field(repr=False)
    cms: str
    check_send_type: str
    products_arr: tuple[Product, ...]
    oplata_arr: Payment
    itog_arr: Total
    name_zakaz: str = ""
    check_vend_address: str = ""
    check_vend_mesto: str = ""
    check_vend_num_avtovat: str = ""
    korr_arr: Correction | None = None

    # -- convenience views

    @property
    def settlement_sign(self) -> SettlementSign:
        return SettlementSign(self.itog_arr.priznak_rascheta)

    @property
    def is_return(self) -> bool:
        return self.settlement_sign.is_return

    @property
    def is_correction(self) -> bool:
        """A correction receipt (``korr_arr`` with ``type_korr``); a return that only names
        its basis document is not one."""
        return self.korr_arr is not None and self.korr_arr.type_korr is not None

    @property
    def correction_form(self) -> str | None:
        """``"ffd105"`` (a correction by amounts, no lines), ``"ffd12"`` (a correction with
        lines), ``"basis"`` (a return naming its basis document) or ``None`` (no ``korr_arr``)."""
        if self.korr_arr is None:
            return None
        if self.korr_arr.type_korr is None:
            return "basis"
        return "ffd12" if self.products_arr else "ffd105"

    @property
    def total(self) -> int:
        return self.itog_arr.itog_cheka

    @property
    def customer_contact(self) -> str | None:
        """What the receipt is sent to (tag 1008): the e-mail or phone chosen by
        ``check_send_type``, ``None`` for ``"none"``."""
        if self.check_send_type == "email":
            return self.oplata_arr.client_email
        if self.check_send_type == "phone":
            return self.oplata_arr.client_phone
        return None

    # -- wire form

    def to_wire(self, *, include_token: bool = True) -> dict[str, Any]:
        """The canonical wire JSON (field names as on the wire).

        ``include_token=False`` leaves ``kassatoken`` out: store receipts that way (a token
        must never be kept in clear), :meth:`from_wire` reads them back.
        """
        out: dict[str, Any] = {"kassaid": self.kassaid}
        if include_token:
            out["kassatoken"] = self.kassatoken
        out.update(
            cms=self.cms,
            check_send_type=self.check_send_type,
            name_zakaz=self.name_zakaz,
            check_vend_address=self.check_vend_address,
            check_vend_mesto=self.check_vend_mesto,
            check_vend_num_avtovat=self.check_vend_num_avtovat,
            products_arr=[p.to_wire() for p in self.products_arr],
            oplata_arr=self.oplata_arr.to_wire(),
            itog_arr=self.itog_arr.to_wire(),
        )
        if self.korr_arr is not None:
            out["korr_arr"] = self.korr_arr.to_wire()
        return out

    @classmethod
    def from_wire(cls, obj: Any) -> Receipt:
        """:func:`parse_receipt` without the date rules (VAT by date, correction date not in
        the future), for receipts already checked when they were accepted. A missing
        ``kassatoken`` (stored form) reads as ``""``."""
        return _parse(obj, today=None)

    def canonical_bytes(self) -> bytes:
        """A stable byte form of the receipt without the token: equal for two receipts that
        mean the same (whatever the sender's number types, key order or whitespace), so its
        hash compares requests (the front's ``same_request`` of code 409)."""
        return canonical_json(self.to_wire(include_token=False))

    def stored_form(self) -> tuple[str, str]:
        """``(json, hash)``: the wire JSON without the token (what is stored) and the
        SHA-256 hex of :meth:`canonical_bytes`, from one :meth:`to_wire`."""
        wire = self.to_wire(include_token=False)
        return _encode(wire).decode("utf-8"), hashlib.sha256(canonical_json(wire)).hexdigest()


def canonical_json(wire: dict[str, Any]) -> bytes:
    """Keys sorted, no whitespace, UTF-8 unescaped: byte for byte what
    ``json.dumps(wire, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` gives
    (hashes stored by earlier versions stay comparable), at a tenth of its cost."""
    return _encode_sorted(wire)


def parse_receipt(obj: Any, *, today: dt.date) -> Receipt:
    """Check ``obj`` (the decoded layer 1 JSON) against every receipt rule; ``today`` is the
    settlement date (the acceptance date, local to the merchant) used by the VAT table."""
    return _parse(obj, today=today)


# --------------------------------------------------------------------------- helpers


def _kolvo_to_wire(kolvo: Decimal) -> int | float:
    if kolvo == kolvo.to_integral_value():
        return int(kolvo)
    # At most 3 decimals and 11 digits: the float's repr gives exactly these digits back.
    return float(kolvo)


def _describe(value: Any, *, secret: bool = False) -> str:
    """A short, log-safe description of a wrong value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        if secret:
            return f"a {len(value)}-character string"
        if len(value) > 40:
            return f"{value[:40]!r}… (a string of {len(value)} characters)"
        return repr(value) + " (string)"
    if isinstance(value, int) and abs(value) >= _HUGE:
        return "a number of more than 40 digits"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else text[:40] + "…"
    return type(value).__name__


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Obj:
    """A JSON object being read, with its path."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def p(self, name: str) -> str:
        return _join(self.path, name)

    def get(self, name: str) -> Any:
        """The value, ``None`` when missing or null."""
        return self.data.get(name)

    def required(self, name: str) -> Any:
        if name not in self.data:
            raise ReceiptError(self.p(name), "required field is missing")
        value = self.data[name]
        if value is None:
            raise ReceiptError(self.p(name), "required field is null")
        return value


def _as_object(value: Any, path: str) -> Mapping[str, Any]:
    """A JSON object; a one-element array holding an object is taken as that object (some
    PHP clients wrap ``oplata_arr``/``itog_arr`` in an array)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        raise ReceiptError(path, f"expected a JSON object, got {_describe(value)}")
    return value


def _int(value: Any, path: str, what: str) -> int:
    """An integer: a JSON integer, an integral JSON number (``100.0``) or a string of digits
    (``"100"``, as PHP clients send). Anything else is refused with ``what`` expected."""
    if isinstance(value, bool):
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    if isinstance(value, int):
        if abs(value) >= _HUGE:
            raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) <= 2**53:
            return int(value)
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    if isinstance(value, str):
        if len(value) <= _MAX_NUMBER_TEXT and _INT_RE.fullmatch(value):
            return int(value)
        if len(value) <= _MAX_NUMBER_TEXT and _DEC_RE.fullmatch(value):
            raise ReceiptError(path, f"expected {what}, got {_describe(value)}: a decimal string is ambiguous here")
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    raise ReceiptError(path, f"expected {what}, got {_describe(value)}")


def _money(value: Any, path: str) -> int:
    what = "a non-negative integer number of kopecks"
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        raise ReceiptError(
            path, f"expected {what}, got {_describe(value)}: money is in kopecks (12.50 roubles is 1250)"
        )
    if isinstance(value, str) and len(value) <= _MAX_NUMBER_TEXT and "." in value and _DEC_RE.fullmatch(value):
        raise ReceiptError(
            path, f"expected {what}, got {_describe(value)}: money is in kopecks (12.50 roubles is 1250)"
        )
    amount = _int(value, path, what)
    if amount < 0:
        raise ReceiptError(path, f"expected {what}, got {amount}")
    if amount > MAX_MONEY:
        raise ReceiptError(path, f"expected at most {MAX_MONEY} kopecks, got {amount}")
    return amount


def _kolvo(value: Any, path: str) -> Decimal:
    what = f'a quantity > 0 with at most {KOLVO_DECIMALS} decimals (a number or a string like "1.5")'
    if isinstance(value, bool):
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    if isinstance(value, int):
        qty = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
        qty = Decimal(repr(value))  # the shortest decimal that reads back as this float
    elif isinstance(value, str):
        text = value
        if len(text) > _MAX_NUMBER_TEXT or not _DEC_RE.fullmatch(text):
            hint = " (use a dot as decimal separator)" if "," in text else ""
            raise ReceiptError(path, f"expected {what}, got {_describe(value)}{hint}")
        qty = Decimal(text)
    else:
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    try:
        exponent = qty.normalize().as_tuple().exponent
    except InvalidOperation as exc:  # pragma: no cover - finite decimals always normalise
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}") from exc
    if not isinstance(exponent, int):
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    if qty <= 0:
        raise ReceiptError(path, f"expected a quantity > 0, got {_describe(value)}")
    if -exponent > KOLVO_DECIMALS:
        raise ReceiptError(path, f"expected at most {KOLVO_DECIMALS} decimals, got {_describe(value)}")
    if qty > MAX_KOLVO:
        raise ReceiptError(path, f"expected a quantity of at most {MAX_KOLVO}, got {_describe(value)}")
    qty = qty.normalize()
    if qty == qty.to_integral_value():
        qty = qty.quantize(Decimal(1))
    return qty


def _text(
    value: Any,
    path: str,
    *,
    max_len: int,
    required: bool = False,
    numbers_ok: bool = False,
    secret: bool = False,
) -> str:
    """A string of at most ``max_len`` characters without control characters. Missing or
    null is ``""`` unless ``required``. ``numbers_ok`` takes a JSON integer as its digits
    (identifiers that PHP clients may send as numbers)."""
    if value is None:
        if required:
            raise ReceiptError(path, "required field is null")
        return ""
    if numbers_ok and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _HUGE:
        value = str(value)
    if not isinstance(value, str):
        raise ReceiptError(path, f"expected a string, got {_describe(value, secret=secret)}")
    if len(value) > max_len:
        raise ReceiptError(path, f"expected at most {max_len} characters, got {len(value)}")
    if _CONTROL_RE.search(value):
        raise ReceiptError(path, "control characters (line breaks, tabs, NUL ...) are not allowed")
    if _SURROGATE_RE.search(value):
        raise ReceiptError(path, "invalid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character")
    if required and not value.strip():
        raise ReceiptError(path, "must not be empty")
    return value


def _inn(value: Any, path: str, *, required: bool = False) -> str:
    text = _text(value, path, max_len=_MAX_NUMBER_TEXT, required=required, numbers_ok=True, secret=True)
    if not text and not required:
        return ""
    if not (_DIGITS_RE.fullmatch(text) and len(text) in (10, 12)):
        raise ReceiptError(path, f"expected an INN of 10 or 12 digits, got {_describe(text, secret=True)}")
    return text


def _phone(value: Any, path: str, *, required: bool = False, secret: bool = False) -> str:
    text = _text(value, path, max_len=19, required=required, numbers_ok=True, secret=True)
    if not text and not required:
        return ""
    if not _PHONE_RE.fullmatch(_PHONE_STRIP_RE.sub("", text)):
        shown = _describe(text, secret=secret)
        raise ReceiptError(path, f"expected a phone number of 10 to 15 digits like +79991234567, got {shown}")
    return text


def _email(value: Any, path: str, *, required: bool = False) -> str:
    text = _text(value, path, max_len=MAX_EMAIL, required=required, secret=True)
    if not text and not required:
        return ""
    if not _EMAIL_RE.fullmatch(text):
        raise ReceiptError(
            path, f"expected an e-mail address like name@example.com, got {_describe(text, secret=True)}"
        )
    return text


def _enum(value: Any, path: str, allowed: Mapping[int, str] | frozenset[int], what: str) -> int:
    code = _int(value, path, f"{what} (an integer)")
    if code not in allowed:
        raise ReceiptError(path, f"expected {what}, got {code}")
    return code


def _round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _fmt_qty(qty: Decimal) -> str:
    return format(qty, "f")


# --------------------------------------------------------------------------- parsing


def _parse(obj: Any, *, today: dt.date | None) -> Receipt:
    if not isinstance(obj, dict):
        raise ReceiptError("receipt", f"expected a JSON object, got {_describe(obj)}")
    top = _Obj(obj, "")

    kassaid = _text(top.required("kassaid"), "kassaid", max_len=MAX_KASSAID, required=True, numbers_ok=True)
    if today is None and obj.get("kassatoken") is None:
        kassatoken = ""  # the stored form (to_wire(include_token=False))
    else:
        kassatoken = _text(top.required("kassatoken"), "kassatoken", max_len=MAX_KASSATOKEN, required=True, secret=True)
    cms = _text(top.required("cms"), "cms", max_len=MAX_CMS, required=True)

    send_raw = top.required("check_send_type")
    if not isinstance(send_raw, str) or send_raw.strip().lower() not in CHECK_SEND_TYPES:
        raise ReceiptError("check_send_type", f'expected "email", "phone" or "none", got {_describe(send_raw)}')
    check_send_type = send_raw.strip().lower()

    name_zakaz = _text(top.get("name_zakaz"), "name_zakaz", max_len=MAX_NAME_ZAKAZ, numbers_ok=True)
    vend_address = _text(top.get("check_vend_address"), "check_vend_address", max_len=MAX_VEND_ADDRESS)
    vend_mesto = _text(top.get("check_vend_mesto"), "check_vend_mesto", max_len=MAX_VEND_PLACE)
    vend_num = _text(
        top.get("check_vend_num_avtovat"), "check_vend_num_avtovat", max_len=MAX_VEND_MACHINE_NUMBER, numbers_ok=True
    )

    itog = _parse_total(_Obj(_as_object(top.required("itog_arr"), "itog_arr"), "itog_arr"))
    korr = None
    korr_obj = None
    raw_korr = obj.get("korr_arr")
    if raw_korr is not None and raw_korr is not False and raw_korr not in ("", [], {}):
        korr_obj = _Obj(_as_object(raw_korr, "korr_arr"), "korr_arr")
        korr = _parse_correction(korr_obj, today, itog)
    correction = korr is not None and korr.type_korr is not None

    # VAT by date: a sale or purchase uses the rates valid today; a correction those valid on
    # the corrected settlement's date; a return any rate of the table (the original
    # settlement's date is not on the wire).
    vat_day: dt.date | None
    if today is None or SettlementSign(itog.priznak_rascheta).is_return:
        vat_day = None
    elif correction:
        assert korr is not None
        vat_day = korr.date_doc_korr
    else:
        vat_day = today

    raw_products = obj.get("products_arr")
    if correction and raw_products in (None, [], {}):
        # FFD 1.05 correction: no lines, the amounts by VAT rate in korr_arr.
        assert korr is not None
        if not korr.vat_amounts:
            names = ", ".join(KORR_VAT_FIELDS)
            raise ReceiptError(
                "korr_arr",
                f"a correction without products_arr needs its amounts by VAT rate: at least one of {names}",
            )
        payment = _parse_payment(_payment_source(top, korr_obj), check_send_type)
        _check_payments(payment, itog)
        return Receipt(
            kassaid=kassaid,
            kassatoken=kassatoken,
            cms=cms,
            check_send_type=check_send_type,
            products_arr=(),
            oplata_arr=payment,
            itog_arr=itog,
            name_zakaz=name_zakaz,
            check_vend_address=vend_address,
            check_vend_mesto=vend_mesto,
            check_vend_num_avtovat=vend_num,
            korr_arr=korr,
        )
    raw_products = top.required("products_arr")
    if (
        isinstance(raw_products, dict)
        and raw_products
        and all(isinstance(k, str) and len(k) <= 6 and _DIGITS_RE.fullmatch(k) for k in raw_products)
    ):
        # PHP's json_encode turns an array with holes into an object {"0": ..., "1": ...}.
        raw_products = [raw_products[k] for k in sorted(raw_products, key=int)]
    if not isinstance(raw_products, list):
        raise ReceiptError("products_arr", f"expected an array of products, got {_describe(raw_products)}")
    if not raw_products:
        raise ReceiptError("products_arr", "expected at least one product, got an empty array")
    if len(raw_products) > MAX_PRODUCTS:
        raise ReceiptError("products_arr", f"expected at most {MAX_PRODUCTS} products, got {len(raw_products)}")
    products = tuple(
        _parse_product(raw, f"products_arr[{i}]", vat_day, correction) for i, raw in enumerate(raw_products)
    )

    if not correction:
        payment = _parse_payment(
            _Obj(_as_object(top.required("oplata_arr"), "oplata_arr"), "oplata_arr"), check_send_type
        )
    else:
        payment = _parse_payment(_payment_source(top, korr_obj), check_send_type)

    total = sum(p.summa for p in products)
    if itog.itog_cheka != total:
        parts = " + ".join(str(p.summa) for p in products[:10]) + (" + …" if len(products) > 10 else "")
        raise ReceiptError(
            "itog_arr.itog_cheka",
            f"expected {total} (= Σ products_arr[].summa: {parts}), got {itog.itog_cheka}",
        )
    _check_payments(payment, itog)
    if korr is not None and itog.itog_cheka == 0:
        raise ReceiptError("itog_arr.itog_cheka", "a correction settles an amount: expected more than 0, got 0")

    return Receipt(
        kassaid=kassaid,
        kassatoken=kassatoken,
        cms=cms,
        check_send_type=check_send_type,
        products_arr=products,
        oplata_arr=payment,
        itog_arr=itog,
        name_zakaz=name_zakaz,
        check_vend_address=vend_address,
        check_vend_mesto=vend_mesto,
        check_vend_num_avtovat=vend_num,
        korr_arr=korr,
    )


def _check_payments(payment: Payment, itog: Total) -> None:
    paid = payment.money_total
    if paid != itog.itog_cheka:
        parts = " + ".join(f"{name} {getattr(payment, name)}" for name in PAYMENT_FORMS)
        raise ReceiptError(
            "oplata_arr",
            f"expected the payments to add up to itog_cheka {itog.itog_cheka}, got {paid} (= {parts})",
        )


class _MergedObj(_Obj):
    """``oplata_arr`` with the fields that ``korr_arr`` carries instead (their paths name
    ``korr_arr``)."""

    __slots__ = ("moved",)

    def __init__(self, data: Mapping[str, Any], path: str, moved: frozenset[str]) -> None:
        super().__init__(data, path)
        self.moved = moved

    def p(self, name: str) -> str:
        return f"korr_arr.{name}" if name in self.moved else _join(self.path, name)


def _payment_source(top: _Obj, korr: _Obj | None) -> _Obj:
    """``oplata_arr``, with ``rezhim_nalog`` and the payment split taken from ``korr_arr``
    where it carries them (the vendor's correction formats). A ``korr_arr`` that carries any
    ``money_*`` carries the whole split (a missing one is 0)."""
    raw = top.get("oplata_arr")
    moved: set[str] = set()
    if korr is not None:
        if korr.get("rezhim_nalog") is not None:
            moved.add("rezhim_nalog")
        if any(korr.get(name) is not None for name in PAYMENT_FORMS):
            moved.update(PAYMENT_FORMS)
    if not moved:
        return _Obj(_as_object(top.required("oplata_arr"), "oplata_arr"), "oplata_arr")
    data = dict(_as_object(raw, "oplata_arr")) if raw is not None else {}
    assert korr is not None
    for name in moved:
        data[name] = korr.get(name)
    if "rezhim_nalog" not in moved and data.get("rezhim_nalog") is None:
        raise ReceiptError("korr_arr.rezhim_nalog", "required field is missing (or oplata_arr.rezhim_nalog)")
    return _MergedObj(data, "oplata_arr", frozenset(moved))


def _parse_total(o: _Obj) -> Total:
    sign = _enum(
        o.required("priznak_rascheta"),
        o.p("priznak_rascheta"),
        _SETTLEMENT_SIGNS,
        "a settlement sign (tag 1054): 1 sale, 2 sale return, 3 purchase, 4 purchase return",
    )
    return Total(priznak_rascheta=sign, itog_cheka=_money(o.required("itog_cheka"), o.p("itog_cheka")))


def _parse_date(value: Any, path: str) -> dt.date:
    what = 'a date "YYYY-MM-DD" (or "DD.MM.YYYY")'
    if not isinstance(value, str):
        raise ReceiptError(path, f"expected {what}, got {_describe(value)}")
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ReceiptError(path, f"expected {what}, got {_describe(value)}")


def _parse_unix_date(value: Any, path: str) -> dt.date:
    """``date_doc_korr``: unix seconds (a number or a string of digits, read in Moscow time)
    or a date string as :func:`_parse_date` reads it."""
    if isinstance(value, str) and not _DIGITS_RE.fullmatch(value.strip()):
        try:
            return _parse_date(value, path)
        except ReceiptError:
            pass
    elif not isinstance(value, bool) and isinstance(value, int | float | str):
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, float) and not (math.isfinite(text) and text.is_integer()):
            text = -1
        seconds = int(text) if not isinstance(text, str) or len(text) <= _MAX_NUMBER_TEXT else -1
        if 0 <= seconds <= _MAX_UNIX_SECONDS:
            return dt.datetime.fromtimestamp(seconds, MSK).date()
    raise ReceiptError(
        path,
        f'expected a date: unix seconds (a number or a string of digits), "YYYY-MM-DD" or "DD.MM.YYYY", '
        f"got {_describe(value)}",
    )


def _pick(o: _Obj, names: tuple[str, ...]) -> tuple[str, Any]:
    """The first of ``names`` (a field and its aliases) with a non-empty value, else the
    first one present, else the first name; and its value (``None`` when none is sent)."""
    present = None
    for name in names:
        value = o.get(name)
        if value is None:
            continue
        if value != "" and value is not False:
            return name, value
        if present is None:
            present = (name, value)
    return present if present is not None else (names[0], None)


def _parse_correction(o: _Obj, today: dt.date | None, itog: Total) -> Correction:
    """``korr_arr`` in the vendor's three forms (``front.md`` §4): a correction (``type_korr``
    set, with or without lines) or the basis document of a return (no ``type_korr``)."""
    type_name, raw_type = _pick(o, KORR_TYPE_NAMES)
    tip: int | None
    if raw_type is None or raw_type == "" or raw_type is False:
        tip = None
        if not SettlementSign(itog.priznak_rascheta).is_return:
            raise ReceiptError(
                o.p("type_korr"),
                "required on a correction: 0 or \"self\" (on the merchant's own initiative), 1 or \"ordered\" "
                "(by order of the tax office); a korr_arr without it only names the basis document of a return "
                f"(itog_arr.priznak_rascheta 2 or 4), got priznak_rascheta {itog.priznak_rascheta}",
            )
    elif isinstance(raw_type, str) and raw_type.strip().lower() in ("self", "ordered"):
        tip = 0 if raw_type.strip().lower() == "self" else 1
    else:
        tip = _enum(
            raw_type,
            o.p(type_name),
            CORRECTION_TYPES,
            'a correction type (tag 1173): 0 or "self" (on the merchant\'s own initiative), 1 or "ordered" '
            "(by order of the tax office)",
        )

    date_name, raw_date = _pick(o, KORR_DATE_NAMES)
    day: dt.date | None = None
    if raw_date is None or raw_date == "" or raw_date is False:
        if tip is not None:
            raise ReceiptError(
                o.p(date_name),
                "required on a correction: the date of the corrected settlement (tag 1178), "
                'unix seconds or "YYYY-MM-DD"',
            )
    else:
        # kassagate's own alias data_korr takes a date; the vendor's name takes unix seconds too.
        day = _parse_date(raw_date, o.p(date_name)) if date_name == "data_korr" else _parse_unix_date(
            raw_date, o.p(date_name)
        )
        if today is not None and day > today:
            raise ReceiptError(
                o.p(date_name), f"expected the date of a past settlement (at most {today.isoformat()}), got {day}"
            )

    number_name, raw_number = _pick(o, KORR_NUMBER_NAMES)
    number = _text(raw_number, o.p(number_name), max_len=MAX_NOMER_PREDPISANIYA, numbers_ok=True)
    if tip == 1 and not number.strip():
        raise ReceiptError(o.p(number_name), f"required when {type_name} is 1 (correction by order)")
    name_doc = _text(o.get("name_doc_korr"), o.p("name_doc_korr"), max_len=MAX_NAME_DOC_KORR, numbers_ok=True)
    if tip is None:
        return Correction(type_korr=None, date_doc_korr=day, numb_doc_korr=number, name_doc_korr=name_doc)

    fio = _text(o.get("fio_upolnomoch"), o.p("fio_upolnomoch"), max_len=MAX_KASSIR_FIO)
    inn = _inn(o.get("inn_upolnomoch"), o.p("inn_upolnomoch"))
    vats: list[tuple[str, int]] = []
    for name, code in KORR_VAT_FIELDS.items():
        raw = o.get(name)
        if raw is None:
            continue
        amount = _money(raw, o.p(name))
        if amount > itog.itog_cheka:
            raise ReceiptError(o.p(name), f"expected at most itog_arr.itog_cheka {itog.itog_cheka}, got {amount}")
        rate = VAT_RATES[code]
        if amount and today is not None and day is not None and not rate.valid_on(day):
            valid = ", ".join(n for n, c in KORR_VAT_FIELDS.items() if VAT_RATES[c].valid_on(day))
            raise ReceiptError(
                o.p(name),
                f"VAT rate {rate.name} is {rate.describe_validity()}, not on the corrected settlement's date {day}; "
                f"valid: {valid}",
            )
        vats.append((name, amount))
    return Correction(
        type_korr=tip,
        date_doc_korr=day,
        numb_doc_korr=number,
        name_doc_korr=name_doc,
        fio_upolnomoch=fio,
        inn_upolnomoch=inn,
        vat_amounts=tuple(vats),
    )


def _vat_hint(day: dt.date) -> str:
    valid = [f"{r.code} ({r.name})" for r in VAT_RATES.values() if r.valid_on(day)]
    return ", ".join(valid)


def _parse_product(raw: Any, path: str, vat_day: dt.date | None, correction: bool) -> Product:
    if not isinstance(raw, dict):
        raise ReceiptError(path, f"expected a product object, got {_describe(raw)}")
    o = _Obj(raw, path)

    name = _text(o.required("name_tovar"), o.p("name_tovar"), max_len=MAX_ITEM_NAME, required=True, numbers_ok=True)
    raw_base = o.get("price_piece_bez_skidki")
    base = None if raw_base is None else _money(raw_base, o.p("price_piece_bez_skidki"))
    qty = _kolvo(o.required("kolvo"), o.p("kolvo"))
    skidka = _money(o.get("skidka") if o.get("skidka") is not None else 0, o.p("skidka"))
    price = _money(o.required("price_piece"), o.p("price_piece"))
    if base is None:
        base = price  # optional: no discount before price_piece
    summa = _money(o.required("summa"), o.p("summa"))

    vat = _enum(
        o.required("stavka_nds"),
        o.p("stavka_nds"),
        _VAT_CODES,
        f"a VAT code (tag 1199) from 1 to {max(VAT_RATES)}",
    )
    if vat_day is not None and not VAT_RATES[vat].valid_on(vat_day):
        rate = VAT_RATES[vat]
        when = f"the corrected settlement's date {vat_day}" if correction else f"{vat_day}"
        raise ReceiptError(
            o.p("stavka_nds"),
            f"VAT code {vat} ({rate.name}) is {rate.describe_validity()}, not on {when}; "
            f"valid codes: {_vat_hint(vat_day)}",
        )
    method = _enum(
        o.required("priznak_sposoba_rascheta"),
        o.p("priznak_sposoba_rascheta"),
        _PAYMENT_METHOD_CODES,
        "a payment method (tag 1214) from 1 to 7",
    )
    subject = _enum(
        o.required("priznak_predmeta_rascheta"),
        o.p("priznak_predmeta_rascheta"),
        PAYMENT_SUBJECTS,
        "a payment subject (tag 1212) from 1 to 33",
    )

    raw_agent = o.get("priznak_agenta")
    agent: int | None
    if (
        raw_agent is None
        or (isinstance(raw_agent, str) and raw_agent.strip().lower() in NOT_AGENT_TEXTS)
        or (raw_agent.__class__ in (int, float) and raw_agent == NOT_AGENT_NUMBER)
    ):
        agent = None
    else:
        agent = _enum(raw_agent, o.p("priznak_agenta"), AGENT_SIGNS, 'an agent sign (tag 1222): "none" or 0 to 6')
    # Not an agent's line: the agent and supplier strings are ignored whatever they hold
    # (clients send them empty, or false for settings never saved) and not kept.
    agent_values: dict[str, str] = {}
    if agent is not None:
        for fname, (_tag, kind, max_len) in AGENT_FIELDS.items():
            value = o.get(fname)
            if kind == "phone":
                agent_values[fname] = _phone(value, o.p(fname))
            elif kind == "inn":
                agent_values[fname] = _inn(value, o.p(fname))
            else:
                agent_values[fname] = _text(value, o.p(fname), max_len=max_len)
        for fname in (*AGENT_REQUIRED_FIELDS[agent], *_AGENT_SUPPLIER):
            if not agent_values[fname].strip():
                tag = AGENT_FIELDS[fname][0]
                raise ReceiptError(
                    o.p(fname),
                    f"required (tag {tag}) when priznak_agenta is {agent} ({AGENT_SIGN_NAMES[agent]})",
                )

    measure: int | None = None
    if o.get("mera_kolva_predmeta_rasheta") is not None:
        measure = _enum(
            o.get("mera_kolva_predmeta_rasheta"),
            o.p("mera_kolva_predmeta_rasheta"),
            MEASURE_UNITS,
            "a measure of quantity (tag 2108): 0 pieces, 10-12 mass, 20-22 length, 30-32 area, 40-42 volume, "
            "50-51 energy, 70-73 time, 80-83 data, 255 other",
        )

    # Arithmetic (front.md section 4).
    gross = _round_half_up(Decimal(base) * qty)
    if skidka:
        _check_discounted_summa(o, base, qty, skidka, summa, gross)
    elif abs(summa - gross) > 1:
        raise ReceiptError(
            o.p("summa"),
            f"expected {gross} (= round(price_piece_bez_skidki {base} × kolvo {_fmt_qty(qty)}) − skidka 0), "
            f"got {summa}",
        )
    # The line's amount before its discount, as the register receives it (itemAmount).
    before = max(gross, summa) if skidka else summa
    if before > MAX_MONEY:
        raise ReceiptError(
            o.p("skidka"),
            f"expected the line's amount before its discount to be at most {MAX_MONEY} kopecks, got {before} "
            f"(= round(price_piece_bez_skidki {base} × kolvo {_fmt_qty(qty)}): summa {summa} + discount "
            f"{before - summa})",
        )
    tolerance = int(qty.to_integral_value(rounding=ROUND_CEILING))
    line = Decimal(price) * qty
    if abs(line - summa) > tolerance:
        raise ReceiptError(
            o.p("price_piece"),
            f"expected price_piece × kolvo {_fmt_qty(qty)} within {tolerance} kopeck{'' if tolerance == 1 else 's'} "
            f"of summa {summa} "
            f"(price_piece ≈ {_round_half_up(Decimal(summa) / qty)}), got {price} "
            f"(× kolvo = {_fmt_qty(line.normalize())})",
        )

    return Product(
        name_tovar=name,
        price_piece_bez_skidki=base,
        kolvo=qty,
        skidka=skidka,
        price_piece=price,
        summa=summa,
        stavka_nds=vat,
        priznak_sposoba_rascheta=method,
        priznak_predmeta_rascheta=subject,
        priznak_agenta=agent,
        mera_kolva_predmeta_rasheta=measure,
        **agent_values,
    )


def _check_discounted_summa(o: _Obj, base: int, qty: Decimal, skidka: int, summa: int, gross: int) -> None:
    """``summa`` of a discounted line: ``skidka`` is read for the whole line (the protocol's
    documentation) or per unit (the vendor's shop plugin); ``summa`` must match either
    reading within 1 kopeck."""
    per_line = gross - skidka if skidka <= gross else None
    per_unit = _round_half_up(Decimal(base - skidka) * qty) if skidka <= base else None
    q = _fmt_qty(qty)
    if per_line is None and per_unit is None:
        if gross >= base:
            bound = f"{gross} (= round(price_piece_bez_skidki {base} × kolvo {q}))"
        else:
            bound = f"{base} (= price_piece_bez_skidki, a discount per unit)"
        raise ReceiptError(o.p("skidka"), f"expected at most {bound}, got {skidka}")
    if (per_line is not None and abs(summa - per_line) <= 1) or (per_unit is not None and abs(summa - per_unit) <= 1):
        return
    readings = []
    if per_line is not None:
        readings.append(
            f"{per_line} (discount per line: round(price_piece_bez_skidki {base} × kolvo {q}) − skidka {skidka})"
        )
    else:
        readings.append(f"nothing with the discount per line (skidka {skidka} is over round({base} × {q}) = {gross})")
    if per_unit is not None:
        readings.append(
            f"{per_unit} (discount per unit: round((price_piece_bez_skidki {base} − skidka {skidka}) × kolvo {q}))"
        )
    else:
        readings.append(f"nothing with the discount per unit (skidka {skidka} is over price_piece_bez_skidki {base})")
    raise ReceiptError(o.p("summa"), f"expected {readings[0]} or {readings[1]}, got {summa}")


def _parse_payment(o: _Obj, check_send_type: str) -> Payment:
    tax = o.required("rezhim_nalog")
    tax_code = _int(tax, o.p("rezhim_nalog"), "a tax system (tag 1055, an integer)")
    if tax_code == 3:
        raise ReceiptError(
            o.p("rezhim_nalog"),
            "tax system 3 (imputed income, ENVD) no longer exists; expected 0 general, 1 simplified income, "
            "2 simplified income minus expense, 4 agricultural or 5 patent",
        )
    if tax_code not in _TAX_SYSTEMS:
        names = ", ".join(f"{k} {v}" for k, v in _TAX_SYSTEM_NAMES.items())
        raise ReceiptError(o.p("rezhim_nalog"), f"expected a tax system (tag 1055): {names}; got {tax_code}")

    money = {name: _money(o.get(name) if o.get(name) is not None else 0, o.p(name)) for name in PAYMENT_FORMS}

    kassir_inn = _inn(o.get("kassir_inn"), o.p("kassir_inn"))
    kassir_fio = _text(o.get("kassir_fio"), o.p("kassir_fio"), max_len=MAX_KASSIR_FIO)

    email_raw = o.get("client_email")
    phone_raw = o.get("client_phone")
    if check_send_type == "email":
        if email_raw is None or (isinstance(email_raw, str) and not email_raw.strip()):
            raise ReceiptError(o.p("client_email"), 'required when check_send_type is "email"')
        client_email = _email(email_raw, o.p("client_email"), required=True)
    else:
        client_email = _text(email_raw, o.p("client_email"), max_len=MAX_EMAIL, secret=True)
    if check_send_type == "phone":
        if phone_raw is None or (isinstance(phone_raw, str) and not phone_raw.strip()):
            raise ReceiptError(o.p("client_phone"), 'required when check_send_type is "phone"')
        client_phone = _phone(phone_raw, o.p("client_phone"), required=True, secret=True)
    else:
        client_phone = _text(phone_raw, o.p("client_phone"), max_len=19, numbers_ok=True, secret=True)

    inn_pokupatel = _inn(o.get("inn_pokupatel"), o.p("inn_pokupatel"))
    name_pokupatel = _text(o.get("name_pokupatel"), o.p("name_pokupatel"), max_len=MAX_NAME_POKUPATEL, secret=True)

    return Payment(
        rezhim_nalog=tax_code,
        kassir_inn=kassir_inn,
        kassir_fio=kassir_fio,
        client_email=client_email,
        client_phone=client_phone,
        inn_pokupatel=inn_pokupatel,
        name_pokupatel=name_pokupatel,
        **money,
    )
