"""The account checks: the kassa's or cluster's fields and state (270-320, 40, 50,
160-220, 330, 340) and the kassa of a cluster that takes the request (200)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kassagate.core.codes import FrontCode
from kassagate.core.states import ACCOUNT_TYPES, FnState
from kassagate.front.intake.answer import Answer, answer, id_text, type_name
from kassagate.processing.routing import candidate, pick_at_intake
from kassagate.storage.repos import Cluster, Kassa

KASSAID_RE = re.compile(r"[0-9]{1,20}")


def check_kassa_fields(layer2: dict[str, Any]) -> Answer | tuple[str, str]:
    """270, 280, 290."""
    raw_id = layer2.get("kassaid")
    if raw_id is None or raw_id == "":
        return answer(FrontCode.KASSAID_MISSING)
    kassaid = id_text(raw_id)
    if kassaid is None or not KASSAID_RE.fullmatch(kassaid):
        return answer(FrontCode.KASSAID_MALFORMED)
    token = layer2.get("kassatoken")
    if token is None or token == "":
        return answer(FrontCode.TOKEN_MISSING)
    token_text = id_text(token)
    if token_text is None:
        return answer(FrontCode.TOKEN_MISSING, f"kassatoken must be a string, got {type_name(token)}.")
    return kassaid, token_text


def check_kassa_state(kassa: Kassa) -> Answer | None:
    """310, 40, 50 (after 300 and 320)."""
    if not kassa.activated:
        return answer(FrontCode.KASSA_NOT_ACTIVATED)
    if kassa.kkt is None:
        return answer(FrontCode.NO_KKT)
    if not kassa.kkt.registered:
        return answer(FrontCode.KKT_NOT_REGISTERED)
    return None


def check_cluster_fields(layer2: dict[str, Any]) -> Answer | tuple[str, str]:
    """160 for a missing or malformed id; the token is checked against the cluster (180).

    The cluster's id and token travel in ``clusterid``/``clustertoken`` or, as existing
    clients send them, in ``kassaid``/``kassatoken``."""
    id_key, token_key = ("clusterid", "clustertoken") if "clusterid" in layer2 else ("kassaid", "kassatoken")
    cid = id_text(layer2.get(id_key))
    if cid is None or cid == "":
        return answer(FrontCode.CLUSTER_ID_INVALID, f"{id_key} (the cluster id) is missing.")
    if not KASSAID_RE.fullmatch(cid):
        return answer(FrontCode.CLUSTER_ID_INVALID, f"{id_key} (the cluster id) must be 1 to 20 digits.")
    token = id_text(layer2.get(token_key))
    return cid, token or ""


def check_cluster_state(cluster: Cluster, members: Sequence[Kassa]) -> Answer | None:
    """170, 220, 190 (after 160 and 180)."""
    if not cluster.activated:
        return answer(FrontCode.CLUSTER_NOT_ACTIVATED)
    if cluster.type not in ACCOUNT_TYPES:
        return answer(FrontCode.CLUSTER_TYPE_UNKNOWN, f"Known types: {', '.join(ACCOUNT_TYPES)}.")
    if not members:
        return answer(FrontCode.CLUSTER_EMPTY)
    return None


def check_fn(kassa: Kassa) -> Answer | None:
    """330, 340 (kassa mode)."""
    state = kassa.kkt.fn_state if kassa.kkt is not None else FnState.OK
    if state == FnState.BROKEN:
        return answer(FrontCode.FN_BROKEN)
    if state in (FnState.FULL, FnState.BLOCKED):
        return answer(FrontCode.FN_EXHAUSTED)
    return None


def kassa_can_fiscalize(kassa: Kassa) -> bool:
    return kassa.activated and kassa.kkt is not None and kassa.kkt.registered and kassa.kkt.fn_state == FnState.OK


def pick_kassa(members: Sequence[Kassa], loads: dict[str, int], cluster_type: str) -> Kassa | None:
    """The kassa of a cluster that takes the request (``routing.pick_at_intake``: the
    cluster's routing policy, with the fewest pending requests as the load). None: code 200."""
    candidates = [candidate(k, load=loads.get(k.kassaid, 0)) for k in members]
    route = pick_at_intake(candidates, cluster_type=cluster_type)
    return next((k for k in members if k.kassaid == route.kassaid), None)
