"""The named states of the service's records, one home each.

- ``RequestStatus``: a request's status as stored and as answered by ``/v1/status``
  (the front protocol's numbers: 0 pending, 1 fiscalized, 2 failed, 3 debug).
- ``FnState``: what an account record says of its register's fiscal drive.
- ``AccountType``: a kassa's or a cluster's type (a vending one needs the vending fields).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal


class RequestStatus(IntEnum):
    PENDING = 0
    FISCALIZED = 1
    FAILED = 2
    DEBUG = 3


class FnState(StrEnum):
    OK = "ok"
    FULL = "full"
    BROKEN = "broken"
    BLOCKED = "blocked"


#: The FN states a person may inject into a virtual register (``blocked`` is only ever
#: reached by the drive itself, through the 30-day unsent rule).
FnFault = Literal["ok", "full", "broken"]
FN_FAULTS: tuple[str, ...] = ("ok", "full", "broken")
FN_STATES: tuple[str, ...] = tuple(s.value for s in FnState)


class AccountType(StrEnum):
    STANDARD = "standard"
    VENDING = "vending"


ACCOUNT_TYPES: tuple[str, ...] = tuple(t.value for t in AccountType)
