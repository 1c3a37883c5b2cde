"""The synchronous option: how long a client asked to wait for the fiscal data."""

from __future__ import annotations

from typing import Any

#: The longest synchronous wait a client may ask for (layer 2 ``"wait"``, seconds).
MAX_SYNC_WAIT = 30.0


def wait_seconds(layer2: dict[str, Any]) -> float:
    """Layer 2's ``wait`` (kassagate extension): seconds to wait for the fiscal data before
    answering, at most ``MAX_SYNC_WAIT``; absent, malformed or not positive: 0 (no wait)."""
    raw = layer2.get("wait")
    if isinstance(raw, bool) or raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return 0.0
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, MAX_SYNC_WAIT)
