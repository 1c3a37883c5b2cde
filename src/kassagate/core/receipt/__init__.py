"""The front server's receipt (the merchant's plaintext request): its types and rules.

- ``tags``: the tag tables (field lengths, accepted values, agent and correction fields);
- ``types``: the frozen types and their wire form (:class:`Receipt` and its parts);
- ``coerce``: lenient reading of JSON values (numbers as strings, dates in three forms);
- ``products``: the rules of one receipt line; ``rules``: the receipt's rules,
  :func:`parse_receipt`.

The rules, their paths and messages are listed in ``docs/receipt.md``. Pure: no I/O, no
clock; ``today`` is passed in.
"""

from kassagate.core.limits import MAX_MONEY
from kassagate.core.receipt.rules import parse_receipt
from kassagate.core.receipt.tags import (
    AGENT_FIELDS,
    AGENT_REQUIRED_FIELDS,
    AGENT_SIGN_NAMES,
    CHECK_SEND_TYPES,
    CORRECTION_TYPES,
    KOLVO_DECIMALS,
    KORR_DATE_NAMES,
    KORR_NUMBER_NAMES,
    KORR_TYPE_NAMES,
    KORR_VAT_FIELDS,
    MAX_KOLVO,
    MAX_PRODUCTS,
    MSK,
    NOT_AGENT_NUMBER,
    NOT_AGENT_TEXTS,
)
from kassagate.core.receipt.types import (
    Correction,
    Payment,
    Product,
    Receipt,
    ReceiptError,
    Total,
    canonical_json,
)

__all__ = [
    "AGENT_FIELDS",
    "AGENT_REQUIRED_FIELDS",
    "AGENT_SIGN_NAMES",
    "CHECK_SEND_TYPES",
    "CORRECTION_TYPES",
    "KOLVO_DECIMALS",
    "KORR_DATE_NAMES",
    "KORR_NUMBER_NAMES",
    "KORR_TYPE_NAMES",
    "KORR_VAT_FIELDS",
    "MAX_KOLVO",
    "MAX_MONEY",
    "MAX_PRODUCTS",
    "MSK",
    "NOT_AGENT_NUMBER",
    "NOT_AGENT_TEXTS",
    "Correction",
    "Payment",
    "Product",
    "Receipt",
    "ReceiptError",
    "Total",
    "canonical_json",
    "parse_receipt",
]
