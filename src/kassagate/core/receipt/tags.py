"""The receipt's tag tables: field lengths, the accepted values of its enumerations, the
agent fields, the correction fields and their wire names. Data only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kassagate.core.limits import MAX_ITEMS
from kassagate.core.tables import PAYMENT_METHODS, VAT_RATES, SettlementSign, TaxSystem

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
AGENT_SUPPLIER_FIELDS = ("name_postavshika", "phone_postavshika")
AGENT_SIGN_NAMES: dict[int, str] = {
    0: "bank paying agent",
    1: "bank paying subagent",
    2: "paying agent",
    3: "paying subagent",
    4: "attorney",
    5: "commission agent",
    6: "other agent",
}

TAX_SYSTEM_NAMES = {
    0: "general",
    1: "simplified, income",
    2: "simplified, income minus expense",
    4: "agricultural",
    5: "patent",
}

SETTLEMENT_SIGNS = frozenset(int(s) for s in SettlementSign)
TAX_SYSTEM_CODES = frozenset(int(t) for t in TaxSystem)
VAT_CODES = frozenset(VAT_RATES)
PAYMENT_METHOD_CODES = frozenset(PAYMENT_METHODS)
