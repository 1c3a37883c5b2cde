"""``kassagate requests list|show|requeue``: the accepted requests, their fiscal data and
timeline, and putting a failed one back in the queue.

Buyers' e-mail addresses and phone numbers are shown as ``***``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kassagate.cli.common import fail, parse_time, print_fields, print_json, print_table, settings, when
from kassagate.cli.manage import DataDir, Json, with_db

requests_app = typer.Typer(
    help="Accepted requests: list, show, requeue a failed one.", no_args_is_help=True
)


def _amount(kopecks: Any) -> str:
    try:
        return f"{int(kopecks) / 100:.2f}"
    except (TypeError, ValueError):
        return "-"


@requests_app.command("list")
def requests_list(
    kassa: Annotated[str | None, typer.Option("--kassa", help="Only this kassa's requests.")] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Only requests sent to this cluster.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="pending, fiscalized, failed or debug.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Accepted at or after: 2026-12-01, 2026-12-01T10:00, or 2h, 7d ago.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Accepted before (same forms).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.", min=1)] = 50,
    json_: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Requests, newest first, by kassa, cluster, state and acceptance time."""
    from kassagate.storage.manage import STATUS_BY_NAME, list_requests

    status = None
    if state is not None:
        if state not in STATUS_BY_NAME:
            raise fail(f"--state must be one of {', '.join(STATUS_BY_NAME)}", 2)
        status = STATUS_BY_NAME[state]
    since_us = parse_time(since, "--since") if since else None
    until_us = parse_time(until, "--until") if until else None
    rows = with_db(
        settings(data_dir=data_dir),
        lambda db: list_requests(db, kassaid=kassa, cluster_id=cluster, status=status, since_us=since_us,
                                 until_us=until_us, limit=limit),
    )
    if json_:
        print_json(rows)
        return
    print_table(
        ("NUID", "KASSA", "CLUSTER", "RID", "ACCEPTED", "STATE", "CODE", "ATTEMPTS", "FD"),
        [(r["nuid"], r["kassaid"], r["cluster_id"], r["rid"], when(r["accepted_at"]), r["status_name"],
          r["error_code"], r["attempts"], r["fd_number"]) for r in rows],
    )


def _show(r: dict[str, Any]) -> None:
    receipt = r.get("receipt") or {}
    total = (receipt.get("itog_arr") or {}).get("itog_cheka")
    print_fields([
        ("nuid", r["nuid"]),
        ("qnuid", r["qnuid"]),
        ("kassa", r["kassaid"] + (f" (via cluster {r['cluster_id']})" if r["cluster_id"] else "")),
        ("rid", r["rid"]),
        ("accepted", when(r["accepted_at"])),
        ("state", r["status_name"] + (f", code {r['error_code']}: {r['error_text']}" if r["error_code"] else "")),
        ("attempts", r["attempts"]),
        ("register", None if r["kkt_id"] is None else
         f"#{r['kkt_id']}" + (" (holds no document of it)" if r["kkt_ruled_out"] else "")),
        ("check type (1054)", r["check_type"]),
        ("total", _amount(total)),
        ("lines", len(receipt.get("products_arr") or [])),
        ("fiscalized", when(r["fiscal_dt"])),
        ("FD", r["fd_number"]),
        ("fiscal sign", r["fiscal_sign"]),
        ("FN", r["fn_serial"]),
        ("registration number", r["kkt_reg_number"]),
        ("shift", r["shift_number"]),
        ("QR", r["qr"]),
        ("ended", when(r["finished_at"])),
    ])
    if r["events"]:
        typer.echo("timeline:")
        for e in r["events"]:
            reg = f" (register #{e['kkt_id']})" if e["kkt_id"] is not None else ""
            typer.echo(f"  {when(e['at'])}  {e['kind']}{reg}: {e['detail'] or ''}".rstrip(": "))


@requests_app.command("show")
def requests_show(
    nuid: Annotated[str | None, typer.Argument(metavar="[NUID]", help="The request's nuid.")] = None,
    rid: Annotated[str | None, typer.Option("--rid", help="Find it by the client's RID instead.")] = None,
    kassa: Annotated[str | None, typer.Option("--kassa", help="With --rid: only this kassa's.")] = None,
    json_: Json = False,
    data_dir: DataDir = None,
) -> None:
    """One request in full: state, fiscal data, timeline (buyers' contacts masked)."""
    from kassagate.storage.manage import find_requests

    if (nuid is None) == (rid is None):
        raise fail("give a NUID or --rid RID", 2)
    rows = with_db(settings(data_dir=data_dir), lambda db: find_requests(db, nuid=nuid, rid=rid, kassaid=kassa))
    if not rows:
        raise fail(f"no request with nuid {nuid}" if nuid else f"no request with RID {rid}")
    if json_:
        print_json(rows[0] if nuid else rows)
        return
    for i, r in enumerate(rows):
        if i:
            typer.echo("")
        _show(r)


@requests_app.command("requeue")
def requests_requeue(
    nuid: Annotated[str, typer.Argument(metavar="NUID", help="The failed request's nuid.")],
    data_dir: DataDir = None,
) -> None:
    """Put a failed request back in the queue. A register that may hold its document is
    asked first, so it is fiscalized at most once."""
    from kassagate.storage.manage import requeue_request

    done = with_db(settings(data_dir=data_dir), lambda db: requeue_request(db, nuid))
    where = "processing picks it up within a second"
    if done.kkt_id is not None and not done.kkt_ruled_out:
        where += f"; register #{done.kkt_id} is asked for its document before anything is sent"
    typer.echo(f"request {nuid} requeued: {where}")


def register(app: typer.Typer) -> None:
    app.add_typer(requests_app, name="requests")

