"""The receipt's types and their wire form.

The attribute names are the wire names, so that an error path maps one-to-one onto the
attributes (``products_arr[2].summa`` -> ``receipt.products_arr[2].summa``).

- :meth:`Receipt.to_wire` gives the canonical wire JSON back; :meth:`Receipt.from_wire`
  reads it again without the date rules (for stored, already-checked receipts).
- :meth:`Receipt.canonical_bytes` is a stable byte form for hashing and comparing
  (the token is left out).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from kassagate.core.receipt.tags import AGENT_FIELDS
from kassagate.core.tables import PAYMENT_FORMS, SettlementSign

_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode


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
        from kassagate.core.receipt.rules import parse  # (rules build receipts of these types)

        return parse(obj, today=None)

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


def _kolvo_to_wire(kolvo: Decimal) -> int | float:
    if kolvo == kolvo.to_integral_value():
        return int(kolvo)
    # At most 3 decimals and 11 digits: the float's repr gives exactly these digits back.
    return float(kolvo)
