# Over 400 lines: one class holds the page handlers, which share its session, scope and rendering plumbing.
"""The cabinet's ASGI app, mounted by ``kassagate serve`` under ``/cabinet``.

Server-rendered Jinja2 pages; htmx (a static file) refreshes pending rows of the requests
list. Reads go through ``kassagate.storage.cabinet``; kassas, clusters and tokens are
made by ``kassagate.provisioning``, as by ``kassagate kassa add``. What a page may show is in ``docs/cabinet.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kassagate.cabinet import auth, health, i18n
from kassagate.config import Settings
from kassagate.core.states import AccountType
from kassagate.core.tables import VAT_RATES
from kassagate.front.keys import load_or_create_token_key
from kassagate.front.qr_png import qr_png_data_uri
from kassagate.provisioning import DuplicateError, Provisioning
from kassagate.storage import cabinet as q
from kassagate.storage.cabinet_today import TodayCounts
from kassagate.storage.db import Database
from kassagate.storage.tokens import new_token
from kassagate.storage.users import User, Users

log = logging.getLogger("kassagate.cabinet")

PREFIX = "/cabinet"
_HERE = Path(__file__).resolve().parent
_ID_RE = re.compile(r"[0-9]{1,20}")
AccountKind = Literal["kassa", "cluster"]
_MAX_FORM = 16 * 1024
JOURNAL_PAGE = 50

_SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def money(kopecks: Any) -> str:
    try:
        k = int(kopecks)
    except (TypeError, ValueError):
        return ""
    sign = "-" if k < 0 else ""
    return f"{sign}{abs(k) // 100}.{abs(k) % 100:02d}"


def when(micros: Any) -> str:
    """A stored time (µs since the epoch) as UTC, to the second."""
    if micros is None:
        return ""
    return dt.datetime.fromtimestamp(int(micros) / 1e6, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def mask_contact(value: str | None) -> str:
    """An e-mail or phone with most of it hidden: ``b***@example.com``, ``+7*******67``."""
    if not value:
        return ""
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    keep = 2 if len(value) > 4 else 0
    return value[:2] + "*" * max(len(value) - 2 - keep, 1) + (value[-keep:] if keep else "")


def _date_micros(text: str | None, *, end: bool = False) -> int | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    if end:
        day += dt.timedelta(days=1)
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1_000_000)


@dataclass
class Visit:
    """One request's view of the cabinet: who asks, in which language, with which session."""

    request: Request
    session: auth.Session
    user: User | None
    lang: str
    fresh: bool  # the session cookie must be (re)set

    @property
    def t(self) -> dict[str, str]:
        return i18n.MESSAGES[self.lang]


class Cabinet:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        sessions: auth.Sessions | None = None,
        throttle: auth.Throttle | None = None,
        clock: Callable[[], float] = time.time,
        faults: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        #: Operators may inject faults into virtual registers (``serve --demo``).
        self.faults = faults
        self.settings = settings
        self.users = Users(db)
        self.provisioning = Provisioning(db, Path(settings.data_dir), load_or_create_token_key(Path(settings.data_dir)))
        self.accounts = self.provisioning.accounts
        #: "Receipts today" per kassa, kept between views of the kassas page.
        self.today = TodayCounts(db)
        self._warming: asyncio.Task[Any] | None = None
        self.sessions = sessions or auth.Sessions(auth.load_secret(settings.data_dir), clock=clock)
        self.throttle = throttle or auth.Throttle()
        self.clock = clock
        self.sleep = sleep
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters.update(money=money, when=when, mask=mask_contact)
        self.env.globals.update(base=PREFIX, vat_names={code: r.name for code, r in VAT_RATES.items()},
                                block_days=health.BLOCK_DAYS)

    # -- plumbing

    async def visit(self, request: Request) -> Visit:
        if self._warming is None:
            self._warming = asyncio.create_task(self._warm())
        session = self.sessions.load(request.cookies.get(auth.SESSION_COOKIE))
        fresh = session is None
        user: User | None = None
        if session is not None and session.user_id is not None:
            user = await self.users.get(session.user_id)
            if user is None or user.disabled or user.session_epoch != session.epoch:
                user, session, fresh = None, None, True
        if session is None:
            session = self.sessions.new()
        lang = i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))
        return Visit(request, session, user, lang, fresh)

    def _today_from(self) -> int:
        today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return int(today.timestamp() * 1_000_000)

    async def _warm(self) -> None:
        """Count today's receipts of every kassa once, in the background of the first page
        asked after a start, so that the kassas page finds the counts kept."""
        try:
            kassaids = await q.all_kassaids(self.db)
            await self.today.counts(kassaids, today_from=self._today_from(), now=int(self.clock() * 1_000_000))
        except Exception as exc:  # the page counts for itself then
            log.warning("cabinet: counting today's receipts failed (%s)", type(exc).__name__)

    def _finish(self, visit: Visit, response: Response) -> Response:
        response.headers.update(_SECURITY_HEADERS)
        if visit.fresh:
            response.set_cookie(
                auth.SESSION_COOKIE,
                self.sessions.dump(visit.session),
                max_age=int(self.sessions.ttl),
                path=PREFIX,
                httponly=True,
                samesite="lax",
                secure=visit.request.url.scheme == "https",
            )
        return response

    def page(self, visit: Visit, template: str, status: int = 200, **values: Any) -> Response:
        html = self.env.get_template(template).render(
            t=visit.t, lang=visit.lang, user=visit.user, csrf=visit.session.csrf,
            here=visit.request.url.path + (f"?{visit.request.url.query}" if visit.request.url.query else ""),
            **values,
        )
        return self._finish(visit, HTMLResponse(html, status_code=status))

    def not_found(self, visit: Visit) -> Response:
        return self.page(visit, "message.html", 404, message=visit.t["not_found"])

    def redirect(self, visit: Visit, path: str) -> Response:
        return self._finish(visit, RedirectResponse(PREFIX + path, status_code=303))

    async def form(self, visit: Visit) -> dict[str, str] | None:
        """The posted form when its CSRF token is the session's, else ``None``."""
        body = b""
        async for chunk in visit.request.stream():
            body += chunk
            if len(body) > _MAX_FORM:
                return None
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8"), max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            return None
        # NUL is no character of any field (PostgreSQL refuses it in text)
        form = {k: v[0].replace("\x00", "") for k, v in fields.items()}
        return form if auth.csrf_ok(visit.session, form.get("csrf")) else None

    def refused(self, visit: Visit) -> Response:
        return self.page(visit, "message.html", 403, message=visit.t["forbidden"])

    async def signed_in(self, request: Request) -> tuple[Visit, Response | None]:
        visit = await self.visit(request)
        if visit.user is None:
            return visit, self.redirect(visit, "/login")
        return visit, None

    async def scope(self, visit: Visit) -> frozenset[str] | None:
        assert visit.user is not None
        return await self.users.visible_kassas(visit.user)

    # -- sign-in

    async def login(self, request: Request) -> Response:
        visit = await self.visit(request)
        if request.method == "GET":
            if visit.user is not None:
                return self.redirect(visit, "/")
            return self.page(visit, "login.html", error=None, login="")
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        login = form.get("login", "")[:64]
        password = form.get("password", "")[:1024]
        delay = self.throttle.attempt(login)
        if delay:
            await self.sleep(delay)
        user = await self.users.by_login(login) if login else None
        ok = await auth.verify_password_async(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            log.info("cabinet: failed sign-in")
            return self.page(visit, "login.html", 401, error=visit.t["bad_login"], login=login)
        self.throttle.succeeded(login)
        visit.session = self.sessions.new(user.id, user.session_epoch)
        visit.fresh = True
        return self.redirect(visit, "/")

    async def logout(self, request: Request) -> Response:
        visit = await self.visit(request)
        if await self.form(visit) is None:
            return self.refused(visit)
        visit.session, visit.user, visit.fresh = self.sessions.new(), None, True
        return self.redirect(visit, "/login")

    async def language(self, request: Request) -> Response:
        visit = await self.visit(request)
        to = request.query_params.get("to", "")
        nxt = request.query_params.get("next", "")
        if not nxt.startswith(PREFIX + "/") or "//" in nxt or "\\" in nxt:
            nxt = PREFIX + "/"
        response = self._finish(visit, RedirectResponse(nxt, status_code=303))
        if to in i18n.LANGS:
            response.set_cookie(i18n.LANG_COOKIE, to, max_age=365 * 86400, path=PREFIX, samesite="lax")
        return response

    # -- pages

    async def home(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        return away or self.redirect(visit, "/overview")

    async def overview(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        kassaids = await self.scope(visit)
        figures = await q.overview(self.db, kassaids, now=int(self.clock() * 1_000_000))
        registers = await q.list_registers(self.db, kassaids)
        warned = [r for r in registers if r["fn_state"] != "ok"]
        return self.page(visit, "overview.html", figures=figures, warned=warned)

    def _filter(self, request: Request) -> tuple[q.RequestFilter, dict[str, str]]:
        p = request.query_params
        kassa = p.get("kassa", "").strip()
        state = p.get("state", "")
        search = p.get("q", "").replace("\x00", "").strip()[:256]
        flt = q.RequestFilter(
            kassa=kassa if _ID_RE.fullmatch(kassa) else None,
            status=int(state) if state in ("0", "1", "2", "3") else None,
            since=_date_micros(p.get("from")),
            until=_date_micros(p.get("to"), end=True),
            search=search or None,
        )
        shown = {
            "kassa": flt.kassa or "",
            "state": state if flt.status is not None else "",
            "from": p.get("from", "") if flt.since is not None else "",
            "to": p.get("to", "") if flt.until is not None else "",
            "q": search,
        }
        return flt, shown

    async def requests_list(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        kassaids = await self.scope(visit)
        flt, shown = self._filter(request)
        before_raw = request.query_params.get("before", "")
        before = int(before_raw) if _ID_RE.fullmatch(before_raw) else None
        rows = await q.list_requests(self.db, kassaids, flt, before_id=before, limit=q.PAGE_SIZE + 1)
        more = len(rows) > q.PAGE_SIZE
        rows = [self._summary(r) for r in rows[: q.PAGE_SIZE]]
        older = None
        if more:
            older = "?" + urllib.parse.urlencode({**{k: v for k, v in shown.items() if v}, "before": rows[-1]["id"]})
        kassa_choices = sorted(kassaids) if kassaids is not None else None
        return self.page(
            visit, "requests.html", rows=rows, shown=shown, older=older, paged=before is not None,
            kassa_choices=kassa_choices, newer=self._newer_url(shown, rows[0]["id"] if rows else 0),
        )

    @staticmethod
    def _newer_url(shown: dict[str, str], after: int) -> str:
        return f"{PREFIX}/requests/newer?" + urllib.parse.urlencode(
            {**{k: v for k, v in shown.items() if v}, "after": after}
        )

    async def requests_newer(self, request: Request) -> Response:
        """The rows that arrived after ``after`` (htmx polls it from the first page)."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        flt, shown = self._filter(request)
        after_raw = request.query_params.get("after", "")
        after = int(after_raw) if _ID_RE.fullmatch(after_raw) and int(after_raw) < q.MAX_ID else 0
        rows = await q.list_requests(self.db, await self.scope(visit), flt, after_id=after, limit=q.PAGE_SIZE)
        rows = [self._summary(r) for r in rows]
        newest = rows[0]["id"] if rows else after
        return self.page(visit, "requests_newer.html", rows=rows, newer=self._newer_url(shown, newest))

    @staticmethod
    def _summary(row: dict[str, Any]) -> dict[str, Any]:
        try:
            receipt = msgspec.json.decode(row["receipt"])
        except msgspec.DecodeError:
            receipt = {}
        itog = receipt.get("itog_arr") if isinstance(receipt, dict) else None
        out = {k: v for k, v in row.items() if k != "receipt"}
        out["total"] = itog.get("itog_cheka") if isinstance(itog, dict) else None
        return out

    async def request_row(self, request: Request) -> Response:
        """One row of the requests list (htmx polls the pending ones)."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        row = await q.get_request(self.db, await self.scope(visit), request.path_params["rid"])
        if row is None:
            return self.not_found(visit)
        return self.page(visit, "request_row.html", r=self._summary(row))

    async def request_page(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        request_id = request.path_params["rid"]
        row = await q.get_request(self.db, await self.scope(visit), request_id)
        if row is None:
            return self.not_found(visit)
        try:
            receipt = msgspec.json.decode(row["receipt"])
        except msgspec.DecodeError:
            receipt = {}
        if not isinstance(receipt, dict):
            receipt = {}
        receipt.pop("kassatoken", None)
        events = await q.request_events_of(self.db, request_id)
        callback = await q.request_callback(self.db, request_id)
        oplata = receipt.get("oplata_arr") if isinstance(receipt.get("oplata_arr"), dict) else {}
        contact = oplata.get("client_email") or oplata.get("client_phone") or ""
        qr_img = qr_png_data_uri(row["qr"]) if row.get("qr") else None
        return self.page(
            visit, "request.html", r=self._summary(row), row=row, receipt=receipt, oplata=oplata,
            contact=contact, events=events, callback=callback, qr_img=qr_img, now=int(self.clock() * 1_000_000),
            itog=receipt.get("itog_arr") if isinstance(receipt.get("itog_arr"), dict) else {},
        )

    async def request_action(self, request: Request) -> Response:
        """Requeue a failed request, or resend its callback."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        assert visit.user is not None
        request_id = request.path_params["rid"]
        action = request.path_params["action"]
        kassaids = await self.scope(visit)
        if action not in ("requeue", "callback") or await q.get_request(self.db, kassaids, request_id) is None:
            return self.not_found(visit)
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        now = int(self.clock() * 1_000_000)
        if action == "requeue":
            done = await q.requeue_failed(self.db, kassaids, request_id, now=now, who=visit.user.login)
        else:
            done = await q.resend_callback(self.db, kassaids, request_id, now=now)
        if not done:
            return self.page(visit, "message.html", 409, message=visit.t[f"cannot_{action}"])
        log.info("cabinet: request #%d %s by user #%d", request_id, action, visit.user.id)
        return self.redirect(visit, f"/requests/{request_id}")

    async def kassas_page(self, request: Request, *, created: tuple[str, str, str] | None = None,
                          error: str | None = None, done: str | None = None) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        assert visit.user is not None
        kassaids = await self.scope(visit)
        rows = await q.list_kassas(self.db, kassaids, today_from=self._today_from(), counts=self.today,
                                   now=int(self.clock() * 1_000_000))
        cluster_rows = await q.list_clusters(self.db, kassaids, visit.user.clusters)
        return self.page(visit, "kassas.html", 201 if created else (400 if error else 200), rows=rows,
                         clusters=cluster_rows, created=created, error=error, done=done)

    async def kassas(self, request: Request) -> Response:
        """The kassas page, or (POST) create a kassa (its token shown once)."""
        if request.method == "GET":
            return await self.kassas_page(request)
        return await self._create(request, "kassa")

    async def clusters(self, request: Request) -> Response:
        """Create a cluster (its token shown once)."""
        return await self._create(request, "cluster")

    async def _create(self, request: Request, kind: AccountKind) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        assert visit.user is not None
        ident = form.get("kassaid" if kind == "kassa" else "cluster_id", "").strip()
        if not _ID_RE.fullmatch(ident):
            return await self.kassas_page(request, error=visit.t["bad_kassaid"])
        token = new_token()
        try:
            if kind == "kassa":
                await self.provisioning.add_kassa(
                    ident, token, type_=_account_type(form), debug=form.get("debug") == "on"
                )
            else:
                await self.provisioning.add_cluster(ident, token, type_=_account_type(form))
        except DuplicateError:
            return await self.kassas_page(request, error=visit.t[f"{kind}_exists"])
        if not visit.user.is_operator:
            grant = self.users.grant_kassa if kind == "kassa" else self.users.grant_cluster
            await grant(visit.user.id, ident)
        log.info("cabinet: %s %s created by user #%d", kind, ident, visit.user.id)
        return await self.kassas_page(request, created=(kind, ident, token))

    async def _rotate(self, request: Request, visit: Visit, kind: AccountKind, ident: str) -> Response:
        """A new token for the kassa or cluster, shown once on the kassas page."""
        assert visit.user is not None
        token = await self.provisioning.rotate_token(kind, ident)
        log.info("cabinet: %s %s token rotated by user #%d", kind, ident, visit.user.id)
        return await self.kassas_page(request, created=(kind, ident, token))

    async def cluster_action(self, request: Request) -> Response:
        """Rotate a cluster's token, activate or deactivate it (its owner or an operator)."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        assert visit.user is not None
        cluster_id = request.path_params["cluster_id"]
        if not _ID_RE.fullmatch(cluster_id) or (
            not visit.user.is_operator and cluster_id not in visit.user.clusters
        ) or await self.accounts.get_cluster(cluster_id) is None:
            return self.not_found(visit)
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        action = form.get("action", "")
        if action == "rotate":
            return await self._rotate(request, visit, "cluster", cluster_id)
        if action not in ("activate", "deactivate"):
            return await self.kassas_page(request, error=visit.t["bad_action"])
        await self.accounts.set_cluster_activated(cluster_id, action == "activate")
        log.info("cabinet: cluster %s %s by user #%d", cluster_id, action, visit.user.id)
        return await self.kassas_page(request, done=cluster_id)

    async def kassa_action(self, request: Request) -> Response:
        """Rotate a kassa's token, (de)activate it, debug on or off, attach it to a cluster."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        assert visit.user is not None
        kassaid = request.path_params["kassaid"]
        kassaids = await self.scope(visit)
        if not _ID_RE.fullmatch(kassaid) or (kassaids is not None and kassaid not in kassaids):
            return self.not_found(visit)
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        if await self.accounts.get_kassa(kassaid) is None:
            return self.not_found(visit)
        action = form.get("action", "")
        values: dict[str, Any] = {
            "activate": {"activated": True},
            "deactivate": {"activated": False},
            "debug_on": {"debug": True},
            "debug_off": {"debug": False},
        }.get(action, {})
        if action == "rotate":
            return await self._rotate(request, visit, "kassa", kassaid)
        if action == "attach":
            cluster = form.get("cluster", "")
            if cluster and (
                not _ID_RE.fullmatch(cluster)
                or (not visit.user.is_operator and cluster not in visit.user.clusters)
                or await self.accounts.get_cluster(cluster) is None
            ):
                return await self.kassas_page(request, error=visit.t["bad_cluster"])
            values = {"cluster_id": cluster or None}
        if not values:
            return await self.kassas_page(request, error=visit.t["bad_action"])
        await self.accounts.update_kassa(kassaid, **values)
        log.info("cabinet: kassa %s %s by user #%d", kassaid, action, visit.user.id)
        return await self.kassas_page(request, done=kassaid)

    async def registers(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        rows = await q.list_registers(self.db, await self.scope(visit))
        endpoints = await q.register_endpoints(self.db, [r["id"] for r in rows])
        data_dir = Path(self.settings.data_dir)
        healths = await asyncio.gather(
            *(health.health(r, endpoints.get(r["id"], (None, None)), data_dir) for r in rows)
        )
        return self.page(visit, "registers.html", rows=list(zip(rows, healths, strict=True)),
                         faults=self.faults and visit.user is not None and visit.user.is_operator)

    async def fault(self, request: Request) -> Response:
        """Fault injection into a virtual register (operators, where the installation allows it)."""
        visit, away = await self.signed_in(request)
        if away:
            return away
        assert visit.user is not None
        kkt = await q.get_register(self.db, await self.scope(visit), request.path_params["kid"])
        if not self.faults or not visit.user.is_operator or kkt is None or kkt["kind"] != "virtual" \
                or not kkt["journal_path"]:
            return self.not_found(visit)
        form = await self.form(visit)
        if form is None:
            return self.refused(visit)
        fn, ofd = form.get("fn"), form.get("ofd")
        if fn not in ("ok", "full", "broken") or ofd not in ("up", "down"):
            return self.page(visit, "message.html", 400, message=visit.t["bad_action"])
        from kassagate.cashbox.journal import JournalError
        from kassagate.cashbox.virtual import set_fault

        path = Path(kkt["journal_path"])
        path = path if path.is_absolute() else Path(self.settings.data_dir) / path
        try:
            await asyncio.to_thread(set_fault, path, fn=fn, ofd_down=ofd == "down")  # type: ignore[arg-type]
        except JournalError:
            return self.page(visit, "message.html", 409, message=visit.t["no_fn"])
        await self.accounts.set_fn_state(kkt["id"], fn)  # type: ignore[arg-type]
        log.info("cabinet: register #%d fault fn=%s ofd=%s by user #%d", kkt["id"], fn, ofd, visit.user.id)
        return self.redirect(visit, "/registers")

    async def journal(self, request: Request) -> Response:
        visit, away = await self.signed_in(request)
        if away:
            return away
        kkt = await q.get_register(self.db, await self.scope(visit), request.path_params["kid"])
        if kkt is None or kkt["kind"] != "virtual" or not kkt["journal_path"]:
            return self.not_found(visit)
        page_raw = request.query_params.get("page", "1")
        page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) < 10**6 else 1
        path = Path(kkt["journal_path"])
        path = path if path.is_absolute() else Path(self.settings.data_dir) / path
        entries = await asyncio.to_thread(_journal_page, path, page)
        more = len(entries) > JOURNAL_PAGE
        return self.page(visit, "journal.html", kkt=kkt, entries=entries[:JOURNAL_PAGE], page=page, more=more)


def _account_type(form: dict[str, str]) -> str:
    return AccountType.VENDING if form.get("type") == AccountType.VENDING else AccountType.STANDARD


def _journal_page(path: Path, page: int) -> list[dict[str, Any]]:
    from kassagate.cashbox.virtual import read_journal

    start = (page - 1) * JOURNAL_PAGE
    keep = ("fd", "type", "docNumber", "amount", "time", "fiscalSign")
    it = read_journal(path, offsets=True)  # time: the register's local time with its UTC offset
    try:
        entries = [{k: e.get(k) for k in keep} for e in itertools.islice(it, start, start + JOURNAL_PAGE + 1)]
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    for e in entries:
        if isinstance(e["time"], str):
            with contextlib.suppress(ValueError):
                e["time"] = dt.datetime.fromisoformat(e["time"]).isoformat(sep=" ")
    return entries


def create_cabinet_app(db: Database, settings: Settings, **kwargs: Any) -> Starlette:
    """The cabinet on ``db``; mount it at :data:`PREFIX`. ``faults=True`` lets operators
    inject faults into virtual registers (``serve --demo``)."""
    cab = Cabinet(db, settings, **kwargs)

    async def on_error(request: Request, exc: Exception) -> Response:
        cid = secrets.token_hex(8)
        log.error("cabinet: unhandled failure (correlation id %s): %s", cid, type(exc).__name__, exc_info=exc)
        return HTMLResponse(f"<p>Internal error. Correlation id: {cid}.</p>", status_code=500,
                            headers=_SECURITY_HEADERS)

    async def missing(request: Request, exc: Exception) -> Response:
        return cab.not_found(await cab.visit(request))

    app = Starlette(
        routes=[
            Route("/", cab.home),
            Route("/login", cab.login, methods=["GET", "POST"]),
            Route("/logout", cab.logout, methods=["POST"]),
            Route("/lang", cab.language),
            Route("/overview", cab.overview),
            Route("/requests", cab.requests_list),
            Route("/requests/newer", cab.requests_newer),
            Route("/requests/{rid:int}", cab.request_page),
            Route("/requests/{rid:int}/row", cab.request_row),
            Route("/requests/{rid:int}/{action:str}", cab.request_action, methods=["POST"]),
            Route("/kassas", cab.kassas, methods=["GET", "POST"]),
            Route("/kassas/{kassaid}", cab.kassa_action, methods=["POST"]),
            Route("/clusters", cab.clusters, methods=["POST"]),
            Route("/clusters/{cluster_id}", cab.cluster_action, methods=["POST"]),
            Route("/registers", cab.registers),
            Route("/registers/{kid:int}/journal", cab.journal),
            Route("/registers/{kid:int}/fault", cab.fault, methods=["POST"]),
            Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
        ],
        exception_handlers={404: missing, 405: missing, Exception: on_error},
    )
    app.state.cabinet = cab
    return app
