from kassagate.core.codes import FrontCode
from kassagate.processing.routing import Candidate, pick


def c(kid: str, **kw: object) -> Candidate:
    base: dict[str, object] = dict(
        kassaid=kid, kassa_type="standard", activated=True, kkt_id=int(kid), registered=True, fn_state="ok"
    )
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


def test_least_loaded_healthy_register_wins() -> None:
    r = pick([c("1", load=5), c("2", load=1), c("3", fn_state="full")], cluster_type="standard")
    assert (r.kassaid, r.code) == ("2", None)


def test_shift_about_to_expire_is_avoided() -> None:
    r = pick([c("1", load=0, shift_seconds_left=30), c("2", load=3, shift_seconds_left=3600)], cluster_type="standard")
    assert r.kassaid == "2"


def test_failover_skips_tried_and_ends_with_240() -> None:
    cands = [c("1"), c("2")]
    first = pick(cands, cluster_type="standard")
    second = pick(cands, cluster_type="standard", tried=frozenset({first.kassaid or ""}))
    assert {first.kassaid, second.kassaid} == {"1", "2"}
    assert pick(cands, cluster_type="standard", tried=frozenset({"1", "2"})).code is FrontCode.CLUSTER_ALL_FAILED


def test_every_fn_down_is_210() -> None:
    r = pick([c("1", fn_state="full"), c("2", fn_state="broken"), c("3", fn_state="blocked")], cluster_type="standard")
    assert r.code is FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH


def test_only_other_type_is_250() -> None:
    r = pick([c("1", kassa_type="vending")], cluster_type="standard")
    assert r.code is FrontCode.CLUSTER_KASSA_TYPE_MISMATCH


def test_inactive_unregistered_or_unbound_are_never_picked() -> None:
    r = pick(
        [c("1", activated=False), c("2", registered=False), c("3", kkt_id=None), c("4", load=99)],
        cluster_type="standard",
    )
    assert r.kassaid == "4"
    assert pick([c("1", activated=False)], cluster_type="standard").code is FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH
