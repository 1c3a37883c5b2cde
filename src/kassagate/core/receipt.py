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
    """``korr_arr``: present only on a correction receipt (kassagate's wire extension).

    - ``tip_korr`` (tag 1173): 0 = made by the merchant on its own (``"self"``),
      1 = by order of the tax office (``"ordered"``);
    - ``data_korr`` (tag 1178): the date of the settlement being corrected;
    - ``nomer_predpisaniya`` (tag 1179): the tax office's order number, required when
      ``tip_korr`` = 1, optional otherwise.
    """

    tip_korr: int
    data_korr: dt.date
    nomer_predpisaniya: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "tip_korr": self.tip_korr,
            "data_korr": self.data_korr.isoformat(),
            "nomer_predpisaniya": self.nomer_predpisaniya,
        }


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
        return self.korr_arr is not None

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
    if obj.get("korr_arr") is not None:
        korr = _parse_correction(_Obj(_as_object(obj["korr_arr"], "korr_arr"), "korr_arr"), today)

    # VAT by date: a sale or purchase uses the rates valid today; a correction those valid on
    # the corrected settlement's date; a return any rate of the table (the original
    # settlement's date is not on the wire).
    vat_day: dt.date | None
    if today is None or SettlementSign(itog.priznak_rascheta).is_return:
        vat_day = None
    elif korr is not None:
        vat_day = korr.data_korr
    else:
        vat_day = today

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
        _parse_product(raw, f"products_arr[{i}]", vat_day, korr is not None) for i, raw in enumerate(raw_products)
    )

    payment = _parse_payment(_Obj(_as_object(top.required("oplata_arr"), "oplata_arr"), "oplata_arr"), check_send_type)

    total = sum(p.summa for p in products)
    if itog.itog_cheka != total:
        parts = " + ".join(str(p.summa) for p in products[:10]) + (" + …" if len(products) > 10 else "")
        raise ReceiptError(
            "itog_arr.itog_cheka",
            f"expected {total} (= Σ products_arr[].summa: {parts}), got {itog.itog_cheka}",
        )
    paid = payment.money_total
    if paid != itog.itog_cheka:
        parts = " + ".join(f"{name} {getattr(payment, name)}" for name in PAYMENT_FORMS)
        raise ReceiptError(
            "oplata_arr",
            f"expected the payments to add up to itog_cheka {itog.itog_cheka}, got {paid} (= {parts})",
        )
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


def _parse_correction(o: _Obj, today: dt.date | None) -> Correction:
    raw_type = o.required("tip_korr")
    if isinstance(raw_type, str) and raw_type.strip().lower() in ("self", "ordered"):
        tip = 0 if raw_type.strip().lower() == "self" else 1
    else:
        tip = _enum(
            raw_type,
            o.p("tip_korr"),
            CORRECTION_TYPES,
            'a correction type (tag 1173): 0 or "self" (on the merchant\'s own initiative), 1 or "ordered" '
            "(by order of the tax office)",
        )
    day = _parse_date(o.required("data_korr"), o.p("data_korr"))
    if today is not None and day > today:
        raise ReceiptError(
            o.p("data_korr"), f"expected the date of a past settlement (at most {today.isoformat()}), got {day}"
        )
    number = _text(
        o.get("nomer_predpisaniya"), o.p("nomer_predpisaniya"), max_len=MAX_NOMER_PREDPISANIYA, numbers_ok=True
    )
    if tip == 1 and not number.strip():
        raise ReceiptError(o.p("nomer_predpisaniya"), "required when tip_korr is 1 (correction by order)")
    return Correction(tip_korr=tip, data_korr=day, nomer_predpisaniya=number)


def _vat_hint(day: dt.date) -> str:
    valid = [f"{r.code} ({r.name})" for r in VAT_RATES.values() if r.valid_on(day)]
    return ", ".join(valid)


def _parse_product(raw: Any, path: str, vat_day: dt.date | None, correction: bool) -> Product:
    if not isinstance(raw, dict):
        raise ReceiptError(path, f"expected a product object, got {_describe(raw)}")
    o = _Obj(raw, path)

    name = _text(o.required("name_tovar"), o.p("name_tovar"), max_len=MAX_ITEM_NAME, required=True, numbers_ok=True)
    base = _money(o.required("price_piece_bez_skidki"), o.p("price_piece_bez_skidki"))
    qty = _kolvo(o.required("kolvo"), o.p("kolvo"))
    skidka = _money(o.get("skidka") if o.get("skidka") is not None else 0, o.p("skidka"))
    price = _money(o.required("price_piece"), o.p("price_piece"))
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
    if raw_agent is None or (isinstance(raw_agent, str) and raw_agent.strip().lower() in ("none", "")):
        agent = None
    else:
        agent = _enum(raw_agent, o.p("priznak_agenta"), AGENT_SIGNS, 'an agent sign (tag 1222): "none" or 0 to 6')
    agent_values: dict[str, str] = {}
    for fname, (_tag, kind, max_len) in AGENT_FIELDS.items():
        value = o.get(fname)
        if kind == "phone":
            agent_values[fname] = (
                _phone(value, o.p(fname))
                if agent is not None
                else _text(value, o.p(fname), max_len=max_len, numbers_ok=True)
            )
        elif kind == "inn":
            agent_values[fname] = (
                _inn(value, o.p(fname))
                if agent is not None
                else _text(value, o.p(fname), max_len=max_len, numbers_ok=True)
            )
        else:
            agent_values[fname] = _text(value, o.p(fname), max_len=max_len)
    if agent is not None:
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
    if skidka > gross:
        raise ReceiptError(
            o.p("skidka"),
            f"expected at most {gross} (= round(price_piece_bez_skidki {base} × kolvo {_fmt_qty(qty)})), got {skidka}",
        )
    expected = gross - skidka
    if abs(summa - expected) > 1:
        raise ReceiptError(
            o.p("summa"),
            f"expected {expected} (= round(price_piece_bez_skidki {base} × kolvo {_fmt_qty(qty)}) − skidka {skidka}), "
            f"got {summa}",
        )
    if summa + skidka > MAX_MONEY:
        raise ReceiptError(
            o.p("skidka"),
            f"expected the line's amount before its discount (summa {summa} + skidka {skidka}) to be at most "
            f"{MAX_MONEY} kopecks, got {summa + skidka}",
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
