"""The dispatch rules (processing/dispatch.py), without I/O: above all, a request whose
outcome at a register is unknown never goes to another register and is never failed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassagate.core.codes import FrontCode
from kassagate.processing import dispatch as d

FISCAL = object()
LOST = d.Unreachable(maybe_delivered=True, reason="the connection was reset")
REFUSED_CONNECTION = d.Unreachable(maybe_delivered=False, reason="connection refused")
modes = st.sampled_from(["kassa", "cluster"])
attempts = st.integers(min_value=1, max_value=1000)
budgets = st.integers(min_value=1, max_value=1000)


def test_first_attempt_is_never_in_doubt() -> None:
    assert not d.in_doubt(attempts=1, kkt_id=7, kkt_ruled_out=False)


def test_later_attempt_at_a_named_register_is_in_doubt_until_ruled_out() -> None:
    assert d.in_doubt(attempts=2, kkt_id=7, kkt_ruled_out=False)
    assert not d.in_doubt(attempts=2, kkt_id=7, kkt_ruled_out=True)
    assert not d.in_doubt(attempts=2, kkt_id=None, kkt_ruled_out=False)


@given(mode=modes, n=attempts, budget=budgets)
def test_a_lost_answer_is_confirmed_at_the_same_register(mode: d.Mode, n: int, budget: int) -> None:
    decision = d.after_send(LOST, mode=mode, kkt_id=7, attempts=n, retry_budget=budget)
    assert decision == d.Confirm(7, LOST.reason)


@given(mode=modes, n=attempts, budget=budgets, reason=st.text(max_size=20))
def test_unknown_after_confirming_waits_whatever_the_budget(mode: d.Mode, n: int, budget: int, reason: str) -> None:
    """The lost answer, then the register refuses connections: no failover, no failure."""
    still = d.Unreachable(maybe_delivered=False, reason=reason)
    decision = d.after_confirm(still, mode=mode, kkt_id=7, why=LOST.reason, attempts=n, retry_budget=budget)
    assert isinstance(decision, d.Wait)
    assert decision.kkt_id == 7
    assert "waiting for register 7" in decision.reason


@given(n=st.integers(min_value=2, max_value=1000), reason=st.text(max_size=20))
def test_claimed_in_doubt_and_the_register_cannot_say_waits(n: int, reason: str) -> None:
    for outcome in (d.Unreachable(maybe_delivered=False, reason=reason), d.Unreachable(True, reason)):
        decision = d.at_claim(outcome, kkt_id=3)
        assert isinstance(decision, d.Wait) and decision.kkt_id == 3


def test_claimed_in_doubt_finishes_with_what_the_register_holds() -> None:
    assert d.at_claim(d.Fiscalized(FISCAL), kkt_id=3) == d.Finish(FISCAL)
    assert d.after_confirm(d.Fiscalized(FISCAL), mode="cluster", kkt_id=3, why="x", attempts=1,
                           retry_budget=1) == d.Finish(FISCAL)


def test_claimed_in_doubt_and_absent_sends_again() -> None:
    assert d.at_claim(d.Absent(), kkt_id=3) == d.Send()


def test_failover_is_immediate_where_nothing_was_delivered() -> None:
    assert isinstance(d.after_send(REFUSED_CONNECTION, mode="cluster", kkt_id=1, attempts=1, retry_budget=5),
                      d.NextRegister)
    assert isinstance(d.after_send(d.FnDown("full"), mode="cluster", kkt_id=1, attempts=1, retry_budget=5),
                      d.NextRegister)
    absent = d.after_confirm(d.Absent(), mode="cluster", kkt_id=1, why="reset", attempts=1, retry_budget=5)
    assert isinstance(absent, d.NextRegister) and absent.transient


@pytest.mark.parametrize(("outcome", "code"), [
    (REFUSED_CONNECTION, FrontCode.STORE_FAILED),
    (d.FnDown("full"), FrontCode.FN_EXHAUSTED),
    (d.FnDown("broken"), FrontCode.FN_BROKEN),
])
def test_kassa_mode_proven_failures_spend_the_budget(outcome: d.SendOutcome, code: FrontCode) -> None:
    assert isinstance(d.after_send(outcome, mode="kassa", kkt_id=1, attempts=1, retry_budget=3), d.Retry)
    failed = d.after_send(outcome, mode="kassa", kkt_id=1, attempts=3, retry_budget=3)
    assert isinstance(failed, d.Fail) and failed.code is code and "retry budget spent (3 attempts)" in failed.reason


def test_a_refused_document_fails_at_once() -> None:
    decision = d.after_send(d.Refused(4, "amounts differ"), mode="cluster", kkt_id=1, attempts=1, retry_budget=9)
    assert decision == d.Fail(FrontCode.RECEIPT_INVALID, "the register refused the document: Cashbox code 4: "
                                                        "amounts differ")


@given(mode=modes, n=attempts, budget=budgets)
def test_no_decision_about_an_unknown_outcome_ends_or_moves_the_request(mode: d.Mode, n: int, budget: int) -> None:
    """Whatever the attempt and budget: a send that may have been delivered leads, through
    the confirmation, only to Finish (the register holds it), Wait, or (absent) a proven failure."""
    first = d.after_send(LOST, mode=mode, kkt_id=5, attempts=n, retry_budget=budget)
    assert isinstance(first, d.Confirm)
    for outcome in (LOST, REFUSED_CONNECTION):
        assert isinstance(d.after_confirm(outcome, mode=mode, kkt_id=5, why=first.reason, attempts=n,
                                          retry_budget=budget), d.Wait)


@pytest.mark.parametrize(("code", "transient", "tried", "expected"), [
    (FrontCode.CLUSTER_ALL_FAILED, True, True, d.Retry),
    (FrontCode.CLUSTER_ALL_FAILED, False, True, d.Fail),
    (FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH, False, True, d.Retry),
    (FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH, False, False, d.Fail),
    (FrontCode.CLUSTER_KASSA_TYPE_MISMATCH, True, True, d.Fail),
])
def test_routing_ended(code: FrontCode, transient: bool, tried: bool, expected: type) -> None:
    decision = d.routing_ended(code, "why", transient=transient, tried=tried, attempts=1, retry_budget=3)
    assert isinstance(decision, expected)
