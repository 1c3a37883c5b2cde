"""A register speaking the Cashbox protocol, as rules over its journal; pure: no I/O.

``Register`` (``engine``) dispatches the twenty endpoints, which live by family in
``endpoints/``, over a ``Store`` (``model``); ``rules`` holds the document checks
(amounts, payments, tax percents), ``reports`` the shift and date totals.
"""

from kassagate.core.register.engine import ENDPOINTS, READ_ONLY, Ctx, Register
from kassagate.core.register.model import (
    CashboxError,
    Doc,
    MemoryStore,
    RegisterState,
    Store,
    error_answer,
)

__all__ = [
    "ENDPOINTS",
    "READ_ONLY",
    "CashboxError",
    "Ctx",
    "Doc",
    "MemoryStore",
    "Register",
    "RegisterState",
    "Store",
    "error_answer",
]
