"""``kassagate kassa list|show|disable|enable|delete``, the same for ``cluster``, and
``kassagate kkt list|show``: the accounts and registers as they stand.

Tables by default, ``--json`` for scripts. No output carries a token, a token hash, a
merchant ID or a callback secret (``storage/manage.py`` never reads them for output).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kassagate.cli.accounts import cluster_app, kassa_app
from kassagate.cli.common import fail, print_fields, print_json, print_table, settings, when
from kassagate.cli.system import kkt_app
from kassagate.config import Settings
from kassagate.core.codes import FrontCode

T = TypeVar("T")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (KASSAGATE_DATA_DIR).")]
Json = Annotated[bool, typer.Option("--json", help="JSON on standard output, for scripts.")]
KassaId = Annotated[str, typer.Argument(metavar="KASSAID", help="The kassa.")]
ClusterId = Annotated[str, typer.Argument(metavar="CLUSTERID", help="The cluster.")]


def with_db(s: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """``fn(db)`` on the service database; a missing row or a refusal ends the command with
    status 1 and the reason."""
    from kassagate.storage.db import open_database
    from kassagate.storage.manage import RefusedError
    from kassagate.storage.repos import NotFoundError

    async def run() -> T:
        db = await open_database(s.effective_database_url)
        try:
            return await fn(db)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except (NotFoundError, RefusedError) as exc:
        raise fail(str(exc)) from None


def _counts(c: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(c.items())) or "none"


def _register(k: dict[str, Any]) -> str:
    if k["kkt_id"] is None:
        return "none"
    return f"#{k['kkt_id']} {k['kkt_kind']}"


# -- kassas ------------------------------------------------------------------------------


def kassa_list(json_: Json = False, data_dir: DataDir = None) -> None:
    """Every kassa: type, state, cluster, register and FN, requests by status."""
    from kassagate.storage.manage import list_kassas

    rows = with_db(settings(data_dir=data_dir), list_kassas)
    if json_:
        print_json(rows)
        return
    print_table(
        ("KASSAID", "TYPE", "STATE", "CLUSTER", "REGISTER", "FN", "PENDING", "FAILED", "FISCALIZED"),
        [
            (
                k["kassaid"], k["type"],
                ("active" if k["activated"] else "disabled") + (" debug" if k["debug"] else ""),
                k["cluster_id"], _register(k), k["fn_state"], k["requests"].get("pending", 0),
                k["requests"].get("failed", 0), k["requests"].get("fiscalized", 0),
            )
            for k in rows
        ],
    )


def kassa_show(kassaid: KassaId, json_: Json = False, data_dir: DataDir = None) -> None:
    """One kassa in full (no token, no merchant ID)."""
    from kassagate.storage.manage import get_kassa

    k = with_db(settings(data_dir=data_dir), lambda db: get_kassa(db, kassaid))
    if json_:
        print_json(k)
        return
    print_fields([
        ("kassa", k["kassaid"]),
        ("type", k["type"]),
        ("activated", "yes" if k["activated"] else f"no (code {int(FrontCode.KASSA_NOT_ACTIVATED)})"),
        ("debug", f"yes (code {int(FrontCode.ACCEPTED_DEBUG)}, never fiscalized)" if k["debug"] else "no"),
        ("cluster", k["cluster_id"]),
        ("register", _register(k)),
        ("FN", None if k["kkt_id"] is None else f"{k['fn_serial'] or 'no registration'}, state {k['fn_state']}"),
        ("registration number", k["kkt_reg_number"]),
        ("callback", "set" if k["callback"] else "none"),
        ("created", when(k["created_at"])),
        ("last request", when(k["last_request_at"])),
        ("requests", _counts(k["requests"])),
    ])


def _set_activated(kind: str, key: str, activated: bool, data_dir: Path | None) -> None:
    """Enable or disable a kassa or a cluster; its requests get ``code`` while disabled."""
    from kassagate.storage.manage import set_cluster_activated, set_kassa_activated

    setter, code = ((set_kassa_activated, FrontCode.KASSA_NOT_ACTIVATED) if kind == "kassa"
                    else (set_cluster_activated, FrontCode.CLUSTER_NOT_ACTIVATED))
    changed = with_db(settings(data_dir=data_dir), lambda db: setter(db, key, activated))
    state = "enabled" if activated else f"disabled (its requests get code {int(code)})"
    typer.echo(f"{kind} {key} {state}" if changed else f"{kind} {key} was already {state.split()[0]}")


def kassa_disable(kassaid: KassaId, data_dir: DataDir = None) -> None:
    """Stop accepting the kassa's requests (code 310); pending ones are still processed."""
    _set_activated("kassa", kassaid, False, data_dir)


def kassa_enable(kassaid: KassaId, data_dir: DataDir = None) -> None:
    """Accept the kassa's requests again."""
    _set_activated("kassa", kassaid, True, data_dir)


def kassa_delete(kassaid: KassaId, data_dir: DataDir = None) -> None:
    """Delete a kassa that never had a request (one that has: disable it). Its register
    row goes with it when nothing else uses it; a virtual register's journal file stays."""
    from kassagate.storage.manage import delete_kassa

    d = with_db(settings(data_dir=data_dir), lambda db: delete_kassa(db, kassaid))
    text = f"kassa {kassaid} deleted"
    if d.kkt_id is not None:
        text += f", with its register #{d.kkt_id}"
        if d.journal_path:
            text += f" (journal file kept: {d.journal_path})"
    typer.echo(text)


# -- clusters ----------------------------------------------------------------------------


def cluster_list(json_: Json = False, data_dir: DataDir = None) -> None:
    """Every cluster: type, state, number of kassas."""
    from kassagate.storage.manage import list_clusters

    rows = with_db(settings(data_dir=data_dir), list_clusters)
    if json_:
        print_json(rows)
        return
    print_table(
        ("CLUSTERID", "TYPE", "STATE", "KASSAS", "CREATED"),
        [(c["cluster_id"], c["type"], "active" if c["activated"] else "disabled", c["kassas"], when(c["created_at"]))
         for c in rows],
    )


def cluster_show(cluster_id: ClusterId, json_: Json = False, data_dir: DataDir = None) -> None:
    """One cluster and its kassas."""
    from kassagate.storage.manage import get_cluster

    c = with_db(settings(data_dir=data_dir), lambda db: get_cluster(db, cluster_id))
    if json_:
        print_json(c)
        return
    print_fields([
        ("cluster", c["cluster_id"]),
        ("type", c["type"]),
        ("activated", "yes" if c["activated"] else f"no (code {int(FrontCode.CLUSTER_NOT_ACTIVATED)})"),
        ("created", when(c["created_at"])),
        ("requests", _counts(c["requests"])),
        ("kassas", ", ".join(
            f"{k['kassaid']} ({'active' if k['activated'] else 'disabled'}, FN {k['fn_state'] or '-'})"
            for k in c["members"]) or "none"),
    ])


def cluster_disable(cluster_id: ClusterId, data_dir: DataDir = None) -> None:
    """Stop accepting the cluster's requests (code 170)."""
    _set_activated("cluster", cluster_id, False, data_dir)


def cluster_enable(cluster_id: ClusterId, data_dir: DataDir = None) -> None:
    """Accept the cluster's requests again."""
    _set_activated("cluster", cluster_id, True, data_dir)


def cluster_delete(cluster_id: ClusterId, data_dir: DataDir = None) -> None:
    """Delete a cluster that never had a request; its kassas are detached and stay."""
    from kassagate.storage.manage import delete_cluster

    members = with_db(settings(data_dir=data_dir), lambda db: delete_cluster(db, cluster_id))
    typer.echo(f"cluster {cluster_id} deleted" + (f"; kassas detached: {', '.join(members)}" if members else ""))


# -- registers ---------------------------------------------------------------------------


def _safe_url(url: str | None) -> str | None:
    """A register's URL without user name or password."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


async def _probe(db: Any, s: Settings, k: dict[str, Any], wait: float) -> dict[str, Any]:
    """Ask the register's ``/get_info``: reachability, FN state, shift."""
    from kassagate.cashbox.client import CashboxClient, HttpTransport, InProcessTransport, RegisterUnreachable
    from kassagate.cashbox.virtual import VirtualRegister
    from kassagate.storage.manage import kkt_merchant_id

    vr: VirtualRegister | None = None
    transport: Any
    if k["kind"] == "virtual":
        path = Path(k["journal_path"] or "")
        path = path if path.is_absolute() else s.data_dir / path
        if not k["journal_path"] or not path.exists():
            return {"reachable": False, "reason": f"journal file missing: {path}"}
        vr = await VirtualRegister.open(path)
        transport = InProcessTransport(vr)
    else:
        transport = HttpTransport(k["url"] or "", await kkt_merchant_id(db, k["id"]) or "", timeout=wait)
    try:
        info = await asyncio.wait_for(CashboxClient(transport).get_info(), wait)
    except (RegisterUnreachable, TimeoutError) as exc:
        return {"reachable": False, "reason": str(exc) or type(exc).__name__}
    except Exception as exc:  # an answer that is not the protocol's must not end the listing
        return {"reachable": False, "reason": f"unusable get_info answer ({type(exc).__name__})"}
    finally:
        if vr is not None:
            await vr.close()
        else:
            await transport.aclose()
    if not info.ok:
        return {"reachable": True, "reason": f"get_info answered code {info.code}"}
    return {
        "reachable": True,
        "device_fn_state": info.fn_state,
        "shift_open": info.is_shift_open,
        "shift_number": info.shift_id,
        "shift_opened_at": info.shift_open_at,
        "unsent_documents": info.unsent_count,
    }


def _kkts(s: Settings, kkt_id: int | None, probe: bool, timeout: float) -> list[dict[str, Any]]:
    from kassagate.storage.manage import list_kkts

    async def run(db: Any) -> list[dict[str, Any]]:
        rows = await list_kkts(db, kkt_id)
        if kkt_id is not None and not rows:
            from kassagate.storage.repos import NotFoundError

            raise NotFoundError(f"no register #{kkt_id}")
        for r in rows:
            r["url"] = _safe_url(r["url"])
        if probe:
            found = await asyncio.gather(*(_probe(db, s, r, timeout) for r in rows))
            for r, f in zip(rows, found, strict=True):
                r.update(f)
        return rows

    return with_db(s, run)


def _shift(r: dict[str, Any]) -> str:
    if "shift_open" not in r:
        return "-"
    if r["shift_open"]:
        return f"#{r['shift_number']} open since {r['shift_opened_at']} (register time)"
    return f"#{r['shift_number']} closed"


def _reach(r: dict[str, Any]) -> str:
    if "reachable" not in r:
        return "-"
    if not r["reachable"]:
        return "no: " + r["reason"]
    return r.get("reason", "yes")


Probe = Annotated[bool, typer.Option("--probe/--no-probe", help="Ask each register (get_info): reachability, "
                                                                   "FN state and shift.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait for a remote register.", min=0.1)]


def kkt_list(json_: Json = False, probe: Probe = True, timeout: Timeout = 3.0, data_dir: DataDir = None) -> None:
    """Every register: kind, kassas, FN and its health, shift, whether it answers."""
    rows = _kkts(settings(data_dir=data_dir), None, probe, timeout)
    if json_:
        print_json(rows)
        return
    print_table(
        ("KKT", "KIND", "KASSAS", "FN", "FN STATE", "SHIFT", "REACHABLE"),
        [(f"#{r['id']}", r["kind"], ",".join(r["kassas"]) or "-", r["fn_serial"] or "unregistered",
          r.get("device_fn_state") or r["fn_state"], _shift(r), _reach(r)) for r in rows],
    )


def kkt_show(
    kassaid: Annotated[
        str | None, typer.Argument(metavar="[KASSAID]", help="The kassa whose register to show.")
    ] = None,
    kkt_id: Annotated[int | None, typer.Option("--id", help="The register's number instead (kkt list).")] = None,
    json_: Json = False, probe: Probe = True, timeout: Timeout = 3.0, data_dir: DataDir = None,
) -> None:
    """One register in full (no merchant ID): the kassa's, or --id N."""
    if (kassaid is None) == (kkt_id is None):
        raise fail("give a KASSAID or --id N", 2)
    s = settings(data_dir=data_dir)
    if kassaid is not None:
        from kassagate.storage.manage import get_kassa

        found = with_db(s, lambda db: get_kassa(db, kassaid))["kkt_id"]
        if found is None:
            raise fail(f"kassa {kassaid} is bound to no register")
        kkt_id = int(found)
    assert kkt_id is not None
    r = _kkts(s, kkt_id, probe, timeout)[0]
    if json_:
        print_json(r)
        return
    print_fields([
        ("register", f"#{r['id']}"),
        ("kind", r["kind"]),
        ("kassas", ", ".join(r["kassas"]) or "none"),
        ("journal" if r["kind"] == "virtual" else "url", r["journal_path"] if r["kind"] == "virtual" else r["url"]),
        ("FN", r["fn_serial"] or "no fiscal registration"),
        ("registration number", r["kkt_reg_number"]),
        ("FN state (recorded)", r["fn_state"]),
        ("FN state (now)", r.get("device_fn_state")),
        ("shift", _shift(r)),
        ("unsent to the OFD", r.get("unsent_documents")),
        ("reachable", _reach(r)),
        ("updated", when(r["updated_at"])),
    ])


def register(app: typer.Typer) -> None:
    """Add the commands to the ``kassa``, ``cluster`` and ``kkt`` groups (``app`` has them
    from the modules registered before this one)."""
    kassa_app.command("list")(kassa_list)
    kassa_app.command("show")(kassa_show)
    kassa_app.command("disable")(kassa_disable)
    kassa_app.command("enable")(kassa_enable)
    kassa_app.command("delete")(kassa_delete)
    cluster_app.command("list")(cluster_list)
    cluster_app.command("show")(cluster_show)
    cluster_app.command("disable")(cluster_disable)
    cluster_app.command("enable")(cluster_enable)
    cluster_app.command("delete")(cluster_delete)
    kkt_app.command("list")(kkt_list)
    kkt_app.command("show")(kkt_show)
