"""The merchant clients: send receipts to a kassagate front server and poll their status.

:class:`AsyncKassaClient` (``httpx.AsyncClient``) and :class:`KassaClient` (``httpx.Client``)
have the same methods and the same settings (:class:`~kassagate.client.base.BaseClient`).
What a method sends and how its answer is read is built in the base class (a
:class:`~kassagate.client.base.Call`); the two classes only carry it out, one with
``await``, as httpx's own two clients do. See ``docs/client.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from kassagate.client.answers import Answer, Status, TransportError
from kassagate.client.base import LIMITS, BaseClient, Call, Polling, moscow_today, transport_error
from kassagate.client.envelope import DEFAULT_CHECK_TYPE, PublicKeys
from kassagate.core.receipt import Receipt

__all__ = ["AsyncKassaClient", "KassaClient"]

T = TypeVar("T")


class AsyncKassaClient(BaseClient):
    """Async client. ``kassaid``/``kassatoken`` are the kassa's, or with ``cluster=True`` the
    cluster's id and token (sent to ``POST /v1/fiscalize/cluster``). ``keys`` are fetched
    from ``GET /v1/keys`` on first use when not given. ``timeout``: seconds per HTTP
    request; ``check``: run the receipt rules locally before sending; ``today``: the
    settlement date of that check; ``fiscalize_path``: the intake's path when not the
    default; ``refresh_keys``: fetch the keys again after an answer 120 or 130. ``http``
    may be an ``httpx.AsyncClient`` of your own (not closed by :meth:`aclose`)."""

    def __init__(
        self,
        base_url: str,
        kassaid: str,
        kassatoken: str,
        *,
        cluster: bool = False,
        keys: PublicKeys | None = None,
        timeout: float = 30.0,
        check: bool = True,
        today: Callable[[], dt.date] = moscow_today,
        fiscalize_path: str | None = None,
        refresh_keys: bool = True,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url,
            kassaid,
            kassatoken,
            cluster=cluster,
            keys=keys,
            timeout=timeout,
            check=check,
            today=today,
            fiscalize_path=fiscalize_path,
            refresh_keys=refresh_keys,
        )
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=self.timeout, limits=LIMITS)

    async def __aenter__(self) -> AsyncKassaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def _call(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, self._url(call.path), **call.options)
        except httpx.HTTPError as exc:
            raise transport_error(exc, call.what) from None
        return call.parse(response)

    async def fetch_keys(self) -> PublicKeys:
        """Fetch (and keep) the published keys."""
        self.keys = await self._call(self._keys_call())
        return self.keys

    async def send(
        self,
        receipt: Receipt | Mapping[str, Any],
        *,
        rid: str | None = None,
        test: bool = False,
        wait: float | None = None,
        check_type: str | None = DEFAULT_CHECK_TYPE,
    ) -> Answer:
        """Check, encrypt and send a receipt; the typed answer. ``rid`` makes the request
        idempotent (a resend answers 409 with the first ``nuid``/``qnuid``); ``test``
        asks for code 140 (checks only, nothing stored); ``wait`` (extension) lets the
        server wait up to that many seconds for the fiscal data (``answer.fiscal``)."""
        post = self._sender(self.prepare_receipt(receipt), rid=rid, test=test, wait=wait, check_type=check_type)
        keys = self.keys or await self.fetch_keys()
        answer = await self._call(post(keys))
        if self._retry_with_fresh_keys(answer):
            fresh = await self.fetch_keys()
            if fresh != keys:
                answer = await self._call(post(fresh))
        return answer

    async def post_body(self, body: Mapping[str, Any] | bytes, *, http_timeout: float | None = None) -> Answer:
        """POST a ready body (a JSON object or raw bytes) to the fiscalization endpoint."""
        return await self._call(self._fiscalize_call(body, http_timeout))

    async def test_connection(self) -> Answer:
        """A bare connectivity check (``{"test": "1"}``): code 100."""
        return await self.post_body({"test": "1"})

    async def get_status(self, nuid: str, qnuid: str) -> Status:
        """The request's status; :class:`StatusNotFound` for an unknown pair."""
        return await self._call(self._status_call(nuid, qnuid))

    async def wait_fiscalized(
        self,
        nuid: str,
        qnuid: str,
        timeout: float = 60.0,  # noqa: ASYNC109 - a polling budget spread over many requests
        *,
        interval: float = 0.2,
        max_interval: float = 2.0,
    ) -> Status:
        """Poll the status until it is no longer pending (fiscalized, failed or debug) and
        return it; :class:`WaitTimeout` (with the last status) after ``timeout`` seconds.
        Unreachable-server errors while polling are retried until the deadline."""
        poll = Polling(timeout, interval, max_interval)
        while True:
            try:
                poll.last = await self.get_status(nuid, qnuid)
                if poll.last.final:
                    return poll.last
            except TransportError:
                pass
            await asyncio.sleep(poll.pause())

    async def fiscalize(
        self,
        receipt: Receipt | Mapping[str, Any],
        *,
        rid: str | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109 - the polling budget of wait_fiscalized
    ) -> tuple[Answer, Status | None]:
        """Send and, when accepted, wait for the final status. A 409 duplicate waits for
        the first request's status."""
        answer = await self.send(receipt, rid=rid)
        if (answer.accepted or answer.duplicate) and answer.nuid and answer.qnuid:
            return answer, await self.wait_fiscalized(answer.nuid, answer.qnuid, timeout)
        return answer, None


class KassaClient(BaseClient):
    """The synchronous twin of :class:`AsyncKassaClient`, with the same parameters;
    ``http`` may be an ``httpx.Client`` of your own (not closed by :meth:`close`)."""

    def __init__(
        self,
        base_url: str,
        kassaid: str,
        kassatoken: str,
        *,
        cluster: bool = False,
        keys: PublicKeys | None = None,
        timeout: float = 30.0,
        check: bool = True,
        today: Callable[[], dt.date] = moscow_today,
        fiscalize_path: str | None = None,
        refresh_keys: bool = True,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url,
            kassaid,
            kassatoken,
            cluster=cluster,
            keys=keys,
            timeout=timeout,
            check=check,
            today=today,
            fiscalize_path=fiscalize_path,
            refresh_keys=refresh_keys,
        )
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=self.timeout, limits=LIMITS)

    def __enter__(self) -> KassaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def _call(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, self._url(call.path), **call.options)
        except httpx.HTTPError as exc:
            raise transport_error(exc, call.what) from None
        return call.parse(response)

    def fetch_keys(self) -> PublicKeys:
        self.keys = self._call(self._keys_call())
        return self.keys

    def send(
        self,
        receipt: Receipt | Mapping[str, Any],
        *,
        rid: str | None = None,
        test: bool = False,
        wait: float | None = None,
        check_type: str | None = DEFAULT_CHECK_TYPE,
    ) -> Answer:
        post = self._sender(self.prepare_receipt(receipt), rid=rid, test=test, wait=wait, check_type=check_type)
        keys = self.keys or self.fetch_keys()
        answer = self._call(post(keys))
        if self._retry_with_fresh_keys(answer):
            fresh = self.fetch_keys()
            if fresh != keys:
                answer = self._call(post(fresh))
        return answer

    def post_body(self, body: Mapping[str, Any] | bytes, *, http_timeout: float | None = None) -> Answer:
        return self._call(self._fiscalize_call(body, http_timeout))

    def test_connection(self) -> Answer:
        return self.post_body({"test": "1"})

    def get_status(self, nuid: str, qnuid: str) -> Status:
        return self._call(self._status_call(nuid, qnuid))

    def wait_fiscalized(
        self, nuid: str, qnuid: str, timeout: float = 60.0, *, interval: float = 0.2, max_interval: float = 2.0
    ) -> Status:
        poll = Polling(timeout, interval, max_interval)
        while True:
            try:
                poll.last = self.get_status(nuid, qnuid)
                if poll.last.final:
                    return poll.last
            except TransportError:
                pass
            time.sleep(poll.pause())

    def fiscalize(
        self, receipt: Receipt | Mapping[str, Any], *, rid: str | None = None, timeout: float = 60.0
    ) -> tuple[Answer, Status | None]:
        answer = self.send(receipt, rid=rid)
        if (answer.accepted or answer.duplicate) and answer.nuid and answer.qnuid:
            return answer, self.wait_fiscalized(answer.nuid, answer.qnuid, timeout)
        return answer, None
