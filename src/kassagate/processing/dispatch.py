"""Where exactly-once is decided: what the worker does after each step, with no I/O.

The worker (``worker.py``) does the talking: it sends a document to a register, asks a
register whether it holds a document, and writes the request's row. After each of those
steps it asks this module what to do next. The rules:

* A send whose outcome is unknown (a timeout, a reset connection, an answer that is not the
  protocol's, the register's internal error) may have produced a fiscal document. The
  register is asked at once (``/last_document`` by ``documentExtID`` and by ``docTime`` +
  ``docNumber`` + ``amount``): it holds the document (finish with its fiscal data), it
  does not (a failure like any other), or it cannot say (*wait*).
* While a request waits, the register that may hold its document is the only register it
  may go to. It stays pending (never failed, whatever its retry budget) and is asked again
  with backoff until it answers.
* A request claimed again after an attempt that may have reached a register (the worker
  died, or the answer was lost) starts *in doubt* at that register: it is asked first.
* Only a proof that a register holds no document of the request rules it out: the
  connection was refused, the register refused the document, or it says it has no such
  document. Only then may a cluster request go to another register, or a kassa request be
  failed when its retry budget is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kassagate.core.codes import FrontCode

Mode = Literal["kassa", "cluster"]


# -- what a step found out ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fiscalized:
    """The register holds the document (fiscalized now, or recognised as a resend)."""

    data: object  # storage.queue.FiscalData; kept opaque here


@dataclass(frozen=True, slots=True)
class Refused:
    """The register answered and refused the document (its FN is fine)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class FnDown:
    """The register refused the document because its fiscal drive is full, broken or blocked."""

    state: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No usable answer. ``maybe_delivered``: the request may have reached the register."""

    maybe_delivered: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Absent:
    """The register says it holds no document of the request."""


#: The outcome of sending a document.
SendOutcome = Fiscalized | Refused | FnDown | Unreachable
#: The outcome of asking a register whether it holds the document (an ``Unreachable``, or an
#: answer that is neither the document nor "not found", leaves the question open).
LookupOutcome = Fiscalized | Absent | Unreachable


# -- what to do next --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finish:
    """End the request fiscalized with this fiscal data."""

    data: object


@dataclass(frozen=True, slots=True)
class Fail:
    """End the request failed with this front code."""

    code: FrontCode
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """Pending again, with backoff. The register last written into the request is ruled out."""

    reason: str


@dataclass(frozen=True, slots=True)
class Wait:
    """Pending, with backoff, in doubt at ``kkt_id``: never failed, never sent elsewhere."""

    kkt_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Confirm:
    """Ask ``kkt_id`` now whether it holds the document (the send's outcome is unknown)."""

    kkt_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Send:
    """The register holds no document of the request: send (again)."""


@dataclass(frozen=True, slots=True)
class NextRegister:
    """Cluster: this register is ruled out; route to another one now. ``transient``: the
    register may take documents again later (it was unreachable, not refusing)."""

    reason: str
    transient: bool


Decision = Finish | Fail | Retry | Wait | Confirm | Send | NextRegister


# -- the rules ----------------------------------------------------------------------------------


def in_doubt(*, attempts: int, kkt_id: int | None, kkt_ruled_out: bool) -> bool:
    """Whether an earlier attempt may have left a document at ``kkt_id``. The first attempt
    (``attempts`` counts claims, this one included) has sent nothing before."""
    return attempts > 1 and kkt_id is not None and not kkt_ruled_out


def waiting_reason(kkt_id: int, why: str) -> str:
    return f"waiting for register {kkt_id} to confirm whether it holds the document ({why})"


def budget(code: FrontCode, reason: str, *, attempts: int, retry_budget: int) -> Retry | Fail:
    """A failure that proves no document exists: retried until the budget is spent."""
    if attempts >= retry_budget:
        return Fail(code, f"{reason}; retry budget spent ({attempts} attempts)")
    return Retry(reason)


def refusal_text(code: int, message: str) -> str:
    return f"the register refused the document: Cashbox code {code}: {message}".rstrip(": ")


def _failure(mode: Mode, code: FrontCode, reason: str, *, transient: bool, attempts: int,
             retry_budget: int) -> Decision:
    if mode == "cluster":
        return NextRegister(reason, transient=transient)
    return budget(code, reason, attempts=attempts, retry_budget=retry_budget)


def after_send(outcome: SendOutcome, *, mode: Mode, kkt_id: int, attempts: int, retry_budget: int) -> Decision:
    """What follows a send of the document to register ``kkt_id``."""
    if isinstance(outcome, Fiscalized):
        return Finish(outcome.data)
    if isinstance(outcome, Refused):
        return Fail(FrontCode.RECEIPT_INVALID, refusal_text(outcome.code, outcome.message))
    if isinstance(outcome, FnDown):
        code = FrontCode.FN_BROKEN if outcome.state == "broken" else FrontCode.FN_EXHAUSTED
        return _failure(mode, code, f"the register's fiscal drive is {outcome.state}", transient=False,
                        attempts=attempts, retry_budget=retry_budget)
    if outcome.maybe_delivered:
        return Confirm(kkt_id, outcome.reason)
    return _failure(mode, FrontCode.STORE_FAILED, f"the register could not be reached: {outcome.reason}",
                    transient=True, attempts=attempts, retry_budget=retry_budget)


def after_confirm(outcome: LookupOutcome, *, mode: Mode, kkt_id: int, why: str, attempts: int,
                  retry_budget: int) -> Decision:
    """What follows asking ``kkt_id`` about a send whose outcome was unknown (``why``)."""
    if isinstance(outcome, Fiscalized):
        return Finish(outcome.data)
    if isinstance(outcome, Absent):
        return _failure(mode, FrontCode.STORE_FAILED, f"the register did not take the document: {why}",
                        transient=True, attempts=attempts, retry_budget=retry_budget)
    return Wait(kkt_id, waiting_reason(kkt_id, f"{why}; then {outcome.reason}"))


def at_claim(outcome: LookupOutcome, *, kkt_id: int) -> Decision:
    """What follows asking ``kkt_id`` first, for a request claimed in doubt there."""
    if isinstance(outcome, Fiscalized):
        return Finish(outcome.data)
    if isinstance(outcome, Absent):
        return Send()
    return Wait(kkt_id, waiting_reason(kkt_id, outcome.reason))


def routing_ended(code: FrontCode, reason: str, *, transient: bool, tried: bool, attempts: int,
                  retry_budget: int) -> Retry | Fail:
    """A cluster request for which routing found no register to try (``code``, from
    ``routing.pick``). ``transient``: a register tried in this attempt was unreachable;
    ``tried``: some register was tried in this attempt. Every register tried was ruled out."""
    if code is FrontCode.CLUSTER_ALL_FAILED and transient:
        return budget(code, reason, attempts=attempts, retry_budget=retry_budget)
    if code is FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH and tried:
        return budget(FrontCode.CLUSTER_ALL_FAILED, "every register tried failed", attempts=attempts,
                      retry_budget=retry_budget)
    return Fail(code, reason)
