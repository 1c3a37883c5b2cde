# Over 400 lines: the ceiling, the load client, the server and the report of one benchmark, run as one file.
"""Front server throughput against the machine's own RSA ceiling, measured in one run.

1. Ceiling: RSA-OAEP-SHA1 private decryptions per second with the default 4096-bit key on
   every core (one process per core, each decrypting in a loop), halved because a request
   needs two (layer 2 and layer 1).
2. Throughput: a real front server (uvicorn + uvloop + httptools, its own process, crypto
   pool on every core) on loopback with durable storage (SQLite WAL, synchronous=FULL),
   logging one line per request at INFO as ``serve`` does (into a file), with its metrics,
   fed pre-built encrypted bodies with valid receipts and distinct RIDs over keep-alive
   connections by a uvloop client in this process (its CPU competes with the server's);
   accepted (code 800) requests per second, and a check that every request sent was
   accepted and is in the database.
3. Interleaved: ceiling, load, ceiling, load, …, ceiling. The machine's speed drifts
   within seconds (other tenants), so each load slice is compared with the ceiling slices
   just before and after it, and the headline is the median of the rounds. A slice's rate
   counts the answers from 0.5 s after its start to its end, with every connection busy.

4. With ``--cabinet-clients N``, the server serves the cabinet too (as ``kassagate serve``
   does) and each round has two load slices, one with no cabinet user and one with N
   operators' browsers asking for the requests page once a second
   (``bench/cabinet_clients.py``), in alternating order, each between two ceiling slices.

The last line is the headline: accepted/s as a fraction of the ceiling (with cabinet
clients: both fractions and their quotient).

    .venv/bin/python bench/front.py [--rounds 5] [--seconds 3] [--ceiling-seconds 1.5] [--cabinet-clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha512
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
KASSAID = "700001"
TOKEN = "bench-token-0123456789"


# ----------------------------------------------------------------------------- ceiling


_KEYS: dict[bytes, rsa.RSAPrivateKey] = {}


def _decrypt_loop(pem: bytes, ciphertext: bytes, seconds: float) -> tuple[int, float, float]:
    """Decrypt for ``seconds``: (decryptions, CPU seconds, wall seconds of the loop). The
    key is loaded once per process, outside the timing (loading a 4096-bit key checks it,
    which takes about 0.3 s here)."""
    key = _KEYS.get(pem)
    if key is None:
        loaded = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        key = _KEYS[pem] = loaded
    n = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + seconds
    now = start
    while now < end:
        key.decrypt(ciphertext, OAEP)
        n += 1
        now = time.perf_counter()
    return n, time.process_time() - cpu0, now - start


CPU_PER_DECRYPTION: list[float] = []


class Ceiling:
    """RSA-OAEP private decryptions per second on every core, measured as often as needed
    with one pool of processes (one per core) kept warm in between."""

    def __init__(self, bits: int) -> None:
        self.cores = len(os.sched_getaffinity(0))
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self._pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        self._ct = key.public_key().encrypt(os.urandom(32), OAEP)
        self._pool = ProcessPoolExecutor(self.cores)
        self._run(0.3)  # start every worker, load the key in each and warm them

    def _run(self, seconds: float) -> list[tuple[int, float, float]]:
        n = self.cores
        return list(self._pool.map(_decrypt_loop, [self._pem] * n, [self._ct] * n, [seconds] * n))

    def measure(self, seconds: float) -> float:
        """Decryptions per second now, on all cores together (each process's count over
        its own loop's time), and, into ``CPU_PER_DECRYPTION``, the CPU seconds one
        decryption takes."""
        results = self._run(seconds)
        count = sum(n for n, _, _ in results)
        CPU_PER_DECRYPTION.append(sum(c for _, c, _ in results) / max(count, 1))
        return sum(n / wall for n, _, wall in results)

    def close(self) -> None:
        self._pool.shutdown()


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[bytes]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / os.sysconf("SC_CLK_TCK")
        todo += children.get(p, [])
    return total


# ----------------------------------------------------------------------------- envelopes


def seal(plaintext: bytes, public_key: Any, hmac_key: bytes) -> tuple[str, str]:
    k, iv = os.urandom(32), os.urandom(16)
    enc = Cipher(algorithms.AES(k), modes.CTR(iv)).encryptor()
    c = enc.update(plaintext) + enc.finalize()
    m = hmac.new(hmac_key, iv + c, sha512).digest()
    return base64.b64encode(public_key.encrypt(k, OAEP)).decode(), base64.b64encode(m + iv + c).decode()


def receipt(amount: int) -> dict[str, Any]:
    return {
        "kassaid": KASSAID, "kassatoken": TOKEN, "cms": "bench", "check_send_type": "none", "name_zakaz": "bench",
        "check_vend_address": "", "check_vend_mesto": "", "check_vend_num_avtovat": "",
        "products_arr": [{
            "name_tovar": "Tea", "price_piece_bez_skidki": amount, "kolvo": 1, "skidka": 0, "price_piece": amount,
            "summa": amount, "stavka_nds": 6, "priznak_sposoba_rascheta": 4, "priznak_predmeta_rascheta": 1,
            "priznak_agenta": "none",
        }],
        "oplata_arr": {"rezhim_nalog": 1, "money_nal": 0, "money_electro": amount, "money_predoplata": 0,
                       "money_postoplata": 0, "money_vstrecha": 0, "kassir_inn": "", "kassir_fio": "",
                       "client_email": "", "client_phone": ""},
        "itog_arr": {"priznak_rascheta": 1, "itog_cheka": amount},
    }


def build_requests(keys: dict[str, str], count: int, host: str, port: int) -> list[bytes]:
    first = serialization.load_pem_public_key(keys["rsa_first"].encode())
    second = serialization.load_pem_public_key(keys["rsa_second"].encode())
    h1, h2 = base64.b64decode(keys["hmac_first"]), base64.b64decode(keys["hmac_second"])
    out = []
    for i in range(count):
        ab, de = seal(json.dumps(receipt(100 + i % 9000)).encode(), first, h1)
        layer2 = {"ab": ab, "de": de, "kassaid": KASSAID, "kassatoken": TOKEN, "rid": f"bench-{i}"}
        aab, dde = seal(json.dumps(layer2).encode(), second, h2)
        body = json.dumps({"aab": aab, "dde": dde, "test": "0"}).encode()
        out.append(
            f"POST /v1/fiscalize HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
    return out


# ----------------------------------------------------------------------------- load


@dataclass
class Slice:
    """One load slice: answers by code, when each 800 came, when the slice started and
    when it stopped sending."""

    codes: dict[str, int] = field(default_factory=dict)
    accepted_at: list[float] = field(default_factory=list)
    t0: float = 0.0
    deadline: float = 0.0
    cabinet_clients: int = 0

    def steady_rate(self, ramp: float) -> float:
        """Accepted answers per second between ``t0 + ramp`` and the deadline: the server's
        rate with every connection busy, without the start (connections opening, the
        pipeline filling) or the end (the last requests draining)."""
        start = self.t0 + ramp
        n = sum(1 for t in self.accepted_at if start <= t <= self.deadline)
        return n / max(self.deadline - start, 1e-9)


class LoadClient(asyncio.Protocol):
    """One keep-alive connection sending from ``queue`` (popped from the end) until
    ``deadline``, each request as soon as the previous answer is in; ``on_answer(body)``
    gets each answer's body. A plain protocol (no stream objects), so that the load costs
    as little CPU as it can (``bench/e2e.py`` uses it too)."""

    def __init__(self, queue: list[bytes], deadline: float, on_answer: Callable[[bytes], None],
                 done: asyncio.Future[None]) -> None:
        self.queue, self.deadline, self.on_answer, self.done = queue, deadline, on_answer, done
        self.buf = bytearray()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports do not subclass asyncio.Transport
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if self.queue and time.perf_counter() < self.deadline:
            self.transport.write(self.queue.pop())
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
        if len(buf) < end + 4 + length:
            return
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        self.on_answer(body)
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)


async def connect(host: str, port: int, queue: list[bytes], deadline: float, on_answer: Callable[[bytes], None]
                  ) -> None:
    """One :class:`LoadClient` connection, until it has sent its last request and read its answer."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    await loop.create_connection(lambda: LoadClient(queue, deadline, on_answer, done), host, port)
    await asyncio.wait_for(done, deadline - time.perf_counter() + 60)


def _count(out: Slice) -> Callable[[bytes], None]:
    def on_answer(body: bytes) -> None:
        code = "800" if b'"code":"800"' in body else str(json.loads(body)["code"])
        out.codes[code] = out.codes.get(code, 0) + 1
        if code == "800":
            out.accepted_at.append(time.perf_counter())

    return on_answer


async def load(host: str, port: int, queue: list[bytes], connections: int, seconds: float,
               cabinet: tuple[Any, int, Any] | None = None) -> Slice:
    """Send from ``queue`` (popped from the end) over ``connections`` keep-alive
    connections for ``seconds``; requests in flight at the deadline are answered too.
    ``cabinet``: (session cookies, clients, ``cabinet_clients.Polls``) to poll the
    cabinet's requests page meanwhile."""
    out = Slice(t0=time.perf_counter())
    out.deadline = out.t0 + seconds
    on_answer = _count(out)
    pollers = []
    if cabinet is not None:
        import cabinet_clients

        cookies, clients, polls = cabinet
        pollers = [cabinet_clients.poll(f"http://{host}:{port}", cookies, out.deadline, i / clients, polls)
                   for i in range(clients)]
    await asyncio.gather(*(connect(host, port, queue, out.deadline, on_answer) for _ in range(connections)),
                         *pollers)
    if not queue:
        raise SystemExit("ran out of pre-built requests: build more")
    return out


# ----------------------------------------------------------------------------- server


def serve(data_dir: str, port: int, cabinet: bool) -> None:
    import uvicorn
    import uvloop
    from starlette.routing import Mount

    from kassagate.cabinet.app import PREFIX, create_cabinet_app
    from kassagate.config import load_settings
    from kassagate.front.app import create_front_app
    from kassagate.front.context import FrontContext
    from kassagate.logs import configure_logging

    async def main() -> None:
        settings = load_settings(data_dir=data_dir, port=port)
        configure_logging(settings.log_level, settings.log_format)
        ctx = await FrontContext.open(settings)
        mounts = [Mount(PREFIX, create_cabinet_app(ctx.db, settings))] if cabinet else []
        config = uvicorn.Config(create_front_app(ctx, close_on_shutdown=True, mounts=mounts), host="127.0.0.1",
                                port=port,
                                log_level="warning", access_log=False, lifespan="on", backlog=4096,
                                loop="none", http="httptools")
        await uvicorn.Server(config).serve()

    uvloop.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="load slices, each between two ceiling slices")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each load slice")
    ap.add_argument("--ceiling-seconds", type=float, default=1.5, help="length of each ceiling slice")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--bits", type=int, default=4096, choices=(2048, 3072, 4096))
    ap.add_argument("--cabinet-clients", type=int, default=0,
                    help="also run every round with this many operators polling the cabinet's requests page")
    ap.add_argument("--serve", nargs=3, metavar=("DATA_DIR", "PORT", "CABINET"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2] == "1")
        return

    import statistics

    import httpx
    import uvloop

    rsa_now = Ceiling(args.bits)
    cores = rsa_now.cores
    ceilings = [rsa_now.measure(args.ceiling_seconds)]
    print(f"RSA-OAEP-SHA1 {args.bits}-bit private decryptions: {ceilings[0]:.0f}/s on {cores} cores", flush=True)

    slices: list[Slice] = []
    with tempfile.TemporaryDirectory(prefix="kassagate-bench-") as tmp:
        env = dict(os.environ, KASSAGATE_RSA_BITS=str(args.bits), KASSAGATE_DATA_DIR=tmp,
                   KASSAGATE_LOG_LEVEL="INFO")
        subprocess.run([sys.executable, "-m", "kassagate", "kassa", "add", KASSAID, "--token", "-"],
                       input=TOKEN + "\n", text=True, env=env, check=True, capture_output=True)
        clients = args.cabinet_clients
        if clients:
            import cabinet_clients

            cabinet_clients.add_operator(env)
        port = free_port()
        with open(os.path.join(tmp, "server.log"), "wb") as server_log:
            server = subprocess.Popen([sys.executable, __file__, "--serve", tmp, str(port), "1" if clients else "0"],
                                      env=env, stderr=server_log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 120
            while True:
                try:
                    keys = httpx.get(url + "/v1/keys", timeout=2).json()
                    break
                except httpx.HTTPError:
                    if time.time() > deadline or server.poll() is not None:
                        raise SystemExit("the front server did not start") from None
                    time.sleep(0.2)
            kinds = [0, clients] if clients else [0]
            count = int(ceilings[0] / 2 * args.seconds * args.rounds * len(kinds) * 1.5) + 100
            print(f"building {count} encrypted requests ...", flush=True)
            queue = build_requests(keys, count, "127.0.0.1", port)
            uvloop.run(load("127.0.0.1", port, queue, args.connections, 1.0))  # warm up
            cookies = cabinet_clients.sign_in(url) if clients else None
            polls = cabinet_clients.Polls() if clients else None
            cpu_used, accepted_total = 0.0, 0
            for r in range(args.rounds):
                for n in kinds if r % 2 == 0 else kinds[::-1]:
                    server_cpu0, client_cpu0 = tree_cpu(server.pid), time.process_time()
                    cabinet = (cookies, n, polls) if n else None
                    piece = uvloop.run(load("127.0.0.1", port, queue, args.connections, args.seconds, cabinet))
                    piece.cabinet_clients = n
                    if n == 0:
                        cpu_used += tree_cpu(server.pid) - server_cpu0 + time.process_time() - client_cpu0
                        accepted_total += piece.codes.get("800", 0)
                    slices.append(piece)
                    ceilings.append(rsa_now.measure(args.ceiling_seconds))
        finally:
            server.terminate()
            server.wait(30)
            rsa_now.close()
        import sqlite3

        with sqlite3.connect(Path(tmp) / "kassagate.sqlite3") as db:
            stored = db.execute("SELECT count(*) FROM requests WHERE rid LIKE 'bench-%'").fetchone()[0]
    sent = count - len(queue)
    codes: dict[str, int] = {}
    for piece in slices:
        for code, n in piece.codes.items():
            codes[code] = codes.get(code, 0) + n
    print(f"answers: {dict(sorted(codes.items()))}; sent {sent}, stored in the database: {stored}")
    if stored != sent or set(codes) != {"800"}:
        raise SystemExit("not every request was accepted and stored")
    ramp = min(0.5, args.seconds / 4)
    ratios: dict[int, list[float]] = {n: [] for n in kinds}
    print(f"{args.rounds} rounds: {len(kinds)} load slice(s) of {args.seconds:g} s ({args.connections} connections; "
          f"accepted/s counted from {ramp:g} s after its start to its end), each between two ceiling slices of "
          f"{args.ceiling_seconds:g} s (decryptions/s on all cores, mean of both, halved: two per request)")
    for i, piece in enumerate(slices):
        ceiling = (ceilings[i] + ceilings[i + 1]) / 4
        rate = piece.steady_rate(ramp)
        ratios[piece.cabinet_clients].append(rate / ceiling)
        print(f"  round {i // len(kinds) + 1}, {piece.cabinet_clients} cabinet clients: accepted {rate:.0f}/s, "
              f"ceiling {ceiling:.0f}/s, ratio {rate / ceiling:.2f}")
    per_request = cpu_used / max(accepted_total, 1)
    t_dec = sum(CPU_PER_DECRYPTION) / len(CPU_PER_DECRYPTION)
    print(f"CPU per accepted request (server, crypto workers, load client): {per_request * 1000:.2f} ms; "
          f"per RSA decryption: {t_dec * 1000:.2f} ms")
    print(f"load-independent ratio (2 decryptions' CPU / a request's CPU): {2 * t_dec / per_request:.2f}")
    if clients:
        assert polls is not None
        print(f"cabinet, {clients} clients asking for the requests page every second: {polls.describe()}")
        if polls.failed or not polls.seconds:
            raise SystemExit("the cabinet's requests page did not answer 200")
        without, with_ = statistics.median(ratios[0]), statistics.median(ratios[clients])
        spread = max(ratios[0]) - min(ratios[0])
        print(f"ratio accepted/ceiling (medians of the {args.rounds} rounds): {without:.2f} with no cabinet client, "
              f"{with_:.2f} with {clients}; with/without {with_ / without:.2f} (spread of the ratio without: "
              f"{spread:.2f})")
        return
    print(f"ratio accepted/ceiling (median of the {args.rounds} rounds): {statistics.median(ratios[0]):.2f}")


if __name__ == "__main__":
    main()
