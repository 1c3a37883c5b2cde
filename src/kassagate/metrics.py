"""Prometheus metrics of one kassagate process (``GET /metrics``, docs/operations.md "Observe").

Per-request counters and histograms are updated where the event happens (the intake's
answer, a request's end, a callback's delivery); their label children are looked up once
and kept, so an update costs a lock and an addition. Gauges that need the database (the
queue, pending callbacks) are read at scrape time by one or two indexed queries
(``storage/metrics.py``); the registers' gauges hold what the register monitor last saw.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from kassagate.storage import metrics as stats
from kassagate.storage.db import Database

log = logging.getLogger("kassagate.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The ``*_created`` series (each counter's creation time) say nothing an alert would use.
disable_created_metrics()

#: Intake answers: crypto and a durable store take milliseconds; a synchronous wait seconds.
INTAKE_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Acceptance to fiscal data: tens of milliseconds on a virtual register, retries minutes.
FISCAL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A request's end, as processing reports it."""

    request_id: int
    fiscalized: bool
    error_code: int | None
    accepted_at_us: int
    ended_at_us: int
    kassaid: str
    kkt_id: int | None


@dataclass(frozen=True, slots=True)
class RegisterReading:
    """What one ``/get_info`` of the register monitor told (``info`` None: no answer)."""

    kkt_id: int
    info: dict[str, Any] | None
    #: The register's local time when it was asked (naive), for its dates and times.
    local_now: dt.datetime


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("T", " ")).replace(tzinfo=None)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Metrics:
    """The metrics of one process, in a registry of their own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.intake_answers = Counter(
            "kassagate_intake_answers", "Intake answers by response code.", ["code"], registry=r
        )
        self.intake_seconds = Histogram(
            "kassagate_intake_duration_seconds", "Time from a request's arrival to its answer.",
            buckets=INTAKE_BUCKETS, registry=r,
        )
        self.refused = Counter(
            "kassagate_intake_refused", "Requests answered 70 by backpressure, by reason (queue, rate).",
            ["reason"], registry=r,
        )
        self.queue_depth = Gauge("kassagate_queue_depth", "Pending requests (retries included).", registry=r)
        self.oldest_pending = Gauge(
            "kassagate_queue_oldest_pending_age_seconds", "Age of the oldest pending request.", registry=r
        )
        self.queue_lag = Gauge(
            "kassagate_queue_lag_seconds", "How long the longest-waiting due request has waited for a worker.",
            registry=r,
        )
        self.fiscal_seconds = Histogram(
            "kassagate_fiscalization_latency_seconds", "Time from acceptance to fiscal data.",
            buckets=FISCAL_BUCKETS, registry=r,
        )
        self.fiscalized = Counter("kassagate_requests_fiscalized", "Requests fiscalized.", registry=r)
        self.failed = Counter("kassagate_requests_failed", "Requests failed, by response code.", ["code"], registry=r)
        self.callbacks_pending = Gauge(
            "kassagate_callbacks_pending", "Callbacks not yet delivered nor given up.", registry=r
        )
        self.callbacks = Counter(
            "kassagate_callbacks", "Callback attempts by outcome (delivered, retry, failed: given up).",
            ["outcome"], registry=r,
        )
        labels = ["register"]
        self.register_up = Gauge(
            "kassagate_register_up", "1 when the register answered its last /get_info, else 0.", labels, registry=r
        )
        self.fn_fill = Gauge(
            "kassagate_register_fn_fill_percent", "How full the register's fiscal drive is, in percent.",
            labels, registry=r,
        )
        self.fn_expiry_days = Gauge(
            "kassagate_register_fn_expiry_days", "Days until the fiscal drive's key expires.", labels, registry=r
        )
        self.unsent = Gauge(
            "kassagate_register_unsent_documents", "Fiscal documents not yet acknowledged by the OFD.",
            labels, registry=r,
        )
        self.oldest_unsent = Gauge(
            "kassagate_register_oldest_unsent_age_seconds", "Age of the oldest document not sent to the OFD.",
            labels, registry=r,
        )
        self.shift_age = Gauge(
            "kassagate_register_shift_age_seconds", "Age of the open shift (0: no shift open).", labels, registry=r
        )
        self._answers: dict[int, Any] = {}
        self._failed: dict[int, Any] = {}
        self._callbacks = {o: self.callbacks.labels(o) for o in ("delivered", "retry", "failed")}
        self._refused = {o: self.refused.labels(o) for o in ("queue", "rate")}
        self._callback_low = 0

    # -- the hot path --------------------------------------------------------------------

    def intake_answered(self, code: int, seconds: float) -> None:
        child = self._answers.get(code)
        if child is None:
            child = self._answers[code] = self.intake_answers.labels(str(code))
        child.inc()
        self.intake_seconds.observe(seconds)

    def intake_refused(self, reason: str) -> None:
        self._refused[reason].inc()

    # -- processing's hooks ----------------------------------------------------------------

    def request_ended(self, outcome: Outcome) -> None:
        if outcome.fiscalized:
            self.fiscalized.inc()
            self.fiscal_seconds.observe(max(0.0, (outcome.ended_at_us - outcome.accepted_at_us) / 1e6))
            return
        code = outcome.error_code or 0
        child = self._failed.get(code)
        if child is None:
            child = self._failed[code] = self.failed.labels(str(code))
        child.inc()

    def callback_ended(self, outcome: str) -> None:
        self._callbacks[outcome].inc()

    def register_seen(self, reading: RegisterReading) -> None:
        reg = str(reading.kkt_id)
        info = reading.info
        self.register_up.labels(reg).set(0 if info is None else 1)
        if info is None:
            return
        fill = _number(info.get("fnFillPercent"))
        if fill is not None:
            self.fn_fill.labels(reg).set(fill)
        expiry = _time(info.get("fnExpiry"))
        if expiry is not None:
            self.fn_expiry_days.labels(reg).set((expiry.date() - reading.local_now.date()).days)
        unsent = _number(info.get("unsentCount"))
        if unsent is not None:
            self.unsent.labels(reg).set(unsent)
        oldest = _time(info.get("oldestUnsentAt"))
        self.oldest_unsent.labels(reg).set(
            max(0.0, (reading.local_now - oldest).total_seconds()) if oldest is not None else 0.0
        )
        opened = _time(info.get("shiftOpenAt")) if str(info.get("isShiftOpen")).lower() == "true" else None
        self.shift_age.labels(reg).set(
            max(0.0, (reading.local_now - opened).total_seconds()) if opened is not None else 0.0
        )

    # -- scrape time -------------------------------------------------------------------------

    def queue_seen(self, q: stats.QueueStats) -> None:
        self.queue_depth.set(q.depth)
        self.oldest_pending.set(q.oldest_pending_age)
        self.queue_lag.set(q.lag)

    async def refresh(self, db: Database) -> stats.QueueStats:
        """Read the database's gauges (one query for the queue, one or two for callbacks)."""
        q = await stats.queue_stats(db)
        self.queue_seen(q)
        cb = await stats.callback_stats(db, self._callback_low)
        self._callback_low = cb.low
        self.callbacks_pending.set(cb.pending)
        return q

    def render(self) -> bytes:
        return generate_latest(self.registry)
