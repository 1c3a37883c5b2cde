"""Which register fiscalizes a cluster's receipt: the routing policy, pure.

A register is *healthy* when its kassa is activated, it has a fiscal registration, its FN
is ok (not full, broken or blocked by the 30-day rule) and its shift is not about to
expire. Among the healthy ones of the cluster's type, the least loaded wins; ties go to the
one whose shift has the most time left, then to the lowest kassaid (as a number), so that
the choice is deterministic for a given state.

The same policy picks the kassa an accepted cluster request is stored under
(:func:`pick_at_intake`) and the register the worker sends it to (:func:`pick`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kassagate.core.codes import FrontCode
from kassagate.core.states import FnState

if TYPE_CHECKING:
    from kassagate.storage.repos import Kassa

#: A shift with less time than this left is not chosen while another register can take the
#: receipt (its register will close and reopen the shift first, which costs a moment).
SHIFT_MARGIN_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Candidate:
    kassaid: str
    kassa_type: str
    activated: bool
    kkt_id: int | None
    registered: bool
    fn_state: str  # FnState
    load: int = 0  # requests in flight on this register
    shift_seconds_left: float | None = None  # None: no shift open (one opens on demand)


def candidate(kassa: Kassa, *, load: int, shift_seconds_left: float | None = None) -> Candidate:
    """A cluster's kassa (with its register) as the routing sees it."""
    kkt = kassa.kkt
    return Candidate(
        kassaid=kassa.kassaid,
        kassa_type=kassa.type,
        activated=kassa.activated,
        kkt_id=kassa.kkt_id,
        registered=kkt is not None and kkt.registered,
        fn_state=kkt.fn_state if kkt is not None else FnState.OK,
        load=load,
        shift_seconds_left=shift_seconds_left,
    )


@dataclass(frozen=True, slots=True)
class Route:
    """Either a kassa to try, or the code that ends the request."""

    kassaid: str | None = None
    kkt_id: int | None = None
    code: FrontCode | None = None
    reason: str = ""


def _usable(c: Candidate) -> bool:
    return c.activated and c.kkt_id is not None and c.registered


def pick(candidates: list[Candidate], *, cluster_type: str | None, tried: frozenset[str] = frozenset()) -> Route:
    """Pick the register for a cluster request, skipping the kassas already ``tried``
    (``cluster_type`` None: a kassa of any type).

    Ends with 250 when the only usable registers are of another type than the cluster's,
    with 210 when every usable register of the cluster's type has a full, broken or blocked
    FN, and with 240 when every healthy register was tried already.
    """
    usable = [c for c in candidates if _usable(c)]
    if not usable:
        return Route(code=FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH, reason="no activated, registered kassa")
    typed = usable if cluster_type is None else [c for c in usable if c.kassa_type == cluster_type]
    if not typed:
        return Route(
            code=FrontCode.CLUSTER_KASSA_TYPE_MISMATCH,
            reason=f"every usable kassa is of another type than the cluster's ({cluster_type})",
        )
    healthy = [c for c in typed if c.fn_state == FnState.OK]
    if not healthy:
        return Route(code=FrontCode.CLUSTER_ALL_FN_DOWN_AT_DISPATCH, reason="every FN is full, broken or blocked")
    typed = healthy
    fresh = [c for c in typed if c.kassaid not in tried]
    if not fresh:
        return Route(code=FrontCode.CLUSTER_ALL_FAILED, reason="every healthy kassa of the cluster was tried")

    def key(c: Candidate) -> tuple[int, int, float, int, str]:
        left = float("inf") if c.shift_seconds_left is None else c.shift_seconds_left
        expiring = 1 if left < SHIFT_MARGIN_SECONDS else 0
        return (expiring, c.load, -left, len(c.kassaid), c.kassaid)

    best = min(fresh, key=key)
    return Route(kassaid=best.kassaid, kkt_id=best.kkt_id)


def pick_at_intake(candidates: list[Candidate], *, cluster_type: str) -> Route:
    """The kassa an accepted cluster request is stored under: as :func:`pick`, with a
    healthy kassa of another type taken when none of the cluster's type is healthy (the
    worker then ends the request with 250). ``kassaid`` None: no kassa can take it."""
    route = pick(candidates, cluster_type=cluster_type)
    return route if route.code is None else pick(candidates, cluster_type=None)

