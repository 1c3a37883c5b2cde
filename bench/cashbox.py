"""Benchmark: signed /sale requests per second over HTTP against the virtual register
(durable journal: WAL, synchronous=FULL, group commit: every answered sale is on disk),
compared with a bare ASGI app answering a fixed JSON on the same server setup (uvicorn,
uvloop, httptools, one process each), loaded by the same raw asyncio HTTP/1.1 keep-alive
client (pre-built request bytes, a distinct docNumber per sale so that none is a
reprint), in the same run, in alternating rounds so that a busy machine hurts both alike.

    .venv/bin/python bench/cashbox.py [--seconds 6] [--rounds 3] [--connections 64]

The last line is the headline: the ratio register / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

MID = "bench-merchant-id"
FIXED = b'{"status":"success","code":0,"message":""}'


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(FIXED)).encode())]})
    await send({"type": "http.response.body", "body": FIXED})


def serve(kind: str, port: int, data_dir: Path) -> None:
    """The server process: the bare app or one register, on uvicorn + uvloop + httptools."""
    import uvicorn
    import uvloop

    async def main() -> None:
        register = None
        if kind == "bare":
            app: Any = bare_app
        else:
            from kassagate.cashbox.server import create_app
            from kassagate.cashbox.virtual import VirtualRegister, create_register

            path = data_dir / "bench.sqlite3"
            create_register(path, merchant_id=MID, fn_capacity=10**8)
            register = await VirtualRegister.open(path)
            app = create_app(register)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, loop="none", http="httptools", access_log=False,
                                log_level="warning", lifespan="off")
        try:
            await uvicorn.Server(config).serve()
        finally:
            if register is not None:
                await register.close()

    uvloop.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_requests(port: int, n: int, signed: bool) -> list[bytes]:
    from kassagate.cashbox.wire import encode_request

    head = f"POST /sale HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    out = []
    for i in range(n):
        doc = {"amount": 15000, "docTime": "2026-03-02 10:00:00", "docNumber": f"bench-{i}",
               "items": [{"itemName": "Coffee", "itemQty": 1000, "itemAmount": 15000,
                          "itemTaxes": [{"taxPrc": 2200, "calcType": 1}]}],
               "payments": {"cashAmount": 20000}} if signed else {"n": i}
        body = encode_request(doc, MID)
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def load(port: int, requests: list[bytes], seconds: float, connections: int) -> tuple[int, int, float]:
    """Send ``requests`` (each at most once) over keep-alive connections for ``seconds``.
    Returns (answers with code 0, other answers, elapsed seconds)."""
    idx = 0
    ok = bad = 0
    stop_at = time.perf_counter() + seconds

    async def conn() -> None:
        nonlocal idx, ok, bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at and idx < len(requests):
                req = requests[idx]
                idx += 1
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                if b'"code":0' in body:
                    ok += 1
                else:
                    bad += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[conn() for _ in range(connections)])
    return ok, bad, time.perf_counter() - t0


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


class Target:
    """One server process (bare or register) and its pre-built requests."""

    def __init__(self, kind: str, tmp: str, expected_rps: int, seconds: float) -> None:
        self.kind = kind
        self.port = free_port()
        self.data_dir = Path(tmp) / kind
        self.data_dir.mkdir()
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(self.port),
                                      "--data-dir", str(self.data_dir)])
        wait_port(self.port, self.proc)
        self.requests = build_requests(self.port, int(expected_rps * (seconds + 1)), signed=kind == "register")
        self.sent = 0
        self.ok = 0
        self.elapsed = 0.0

    def run(self, seconds: float, connections: int, count: bool = True) -> None:
        ok, bad, elapsed = uvloop.run(load(self.port, self.requests[self.sent:], seconds, connections))
        if bad:
            raise SystemExit(f"{self.kind}: {bad} answers were not code 0")
        self.sent += ok
        if count:
            self.ok += ok
            self.elapsed += elapsed

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="load time per server, split into rounds")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (bare, register, bare, ...)")
    p.add_argument("--connections", type=int, default=64,
                   help="concurrent keep-alive connections")
    p.add_argument("--serve", choices=["bare", "register"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        serve(a.serve, a.port, a.data_dir)
        return
    print(f"cashbox bench: signed /sale vs bare ASGI; uvicorn+uvloop+httptools, 1 process each; "
          f"{a.connections} keep-alive connections; {a.rounds} alternating rounds; {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        bare = Target("bare", tmp, 40000, a.seconds)
        reg = Target("register", tmp, 15000, a.seconds)
        try:
            for t in (bare, reg):
                t.run(0.5, a.connections, count=False)  # warm-up
            for _ in range(a.rounds):
                for t in (bare, reg):
                    t.run(a.seconds / a.rounds, a.connections)
        finally:
            bare.stop()
            reg.stop()
        from kassagate.cashbox.virtual import read_journal

        on_disk = sum(1 for x in read_journal(reg.data_dir / "bench.sqlite3") if x["type"] == "sale")
    if on_disk != reg.sent:
        raise SystemExit(f"register: {reg.sent} sales answered but {on_disk} in the journal")
    print(f"    bare: {bare.ok} requests in {bare.elapsed:.2f} s = {bare.rps:,.0f} req/s")
    print(f"register: {reg.ok} signed /sale in {reg.elapsed:.2f} s = {reg.rps:,.0f} req/s "
          f"(all {on_disk} answered sales are in the journal)")
    print(json.dumps({"bare_rps": round(bare.rps), "register_rps": round(reg.rps)}))
    print(f"ratio register/bare (signed /sale, durable journal): {reg.rps / bare.rps:.3f}")


if __name__ == "__main__":
    main()
