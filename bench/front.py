"""Front server throughput against the machine's own RSA ceiling, measured in one run.

1. Ceiling: RSA-OAEP-SHA1 private decryptions per second with the default 4096-bit key on
   every core (one process per core, each decrypting in a loop), halved because a request
   needs two (layer 2 and layer 1).
2. Throughput: a real front server (uvicorn + uvloop + httptools, its own process, crypto pool on every core)
   on loopback with durable storage (SQLite WAL, synchronous=FULL, or
   ``KASSAGATE_DATABASE_URL``), fed pre-built encrypted bodies with valid receipts and
   distinct RIDs over keep-alive connections by a uvloop client in this process (its CPU
   competes with the server's); accepted (code 800) requests per second,
   and a check that every accepted request is in the database.

The last line is the headline: accepted/s as a fraction of the ceiling.

    .venv/bin/python bench/front.py [--seconds 10] [--connections 32] [--bits 4096]
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
from concurrent.futures import ProcessPoolExecutor
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


def _decrypt_loop(pem: bytes, ciphertext: bytes, seconds: float) -> tuple[int, float]:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    n = 0
    cpu0 = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        key.decrypt(ciphertext, OAEP)
        n += 1
    return n, time.process_time() - cpu0


CPU_PER_DECRYPTION: list[float] = []


def rsa_ceiling(bits: int, seconds: float) -> tuple[float, int]:
    """RSA-OAEP private decryptions per second on every core (and, into
    ``CPU_PER_DECRYPTION``, the CPU seconds one decryption takes)."""
    cores = len(os.sched_getaffinity(0))
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    ct = key.public_key().encrypt(os.urandom(32), OAEP)
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_decrypt_loop, [pem] * cores, [ct] * cores, [0.3] * cores))  # start and warm every worker
        t0 = time.perf_counter()
        results = list(pool.map(_decrypt_loop, [pem] * cores, [ct] * cores, [seconds] * cores))
        elapsed = time.perf_counter() - t0
    count = sum(n for n, _ in results)
    CPU_PER_DECRYPTION.append(sum(c for _, c in results) / max(count, 1))
    return count / max(elapsed, seconds), cores


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


async def _connection(host: str, port: int, queue: list[bytes], codes: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            writer.write(queue.pop())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            code = json.loads(body)["code"]
            codes[code] = codes.get(code, 0) + 1
    finally:
        writer.close()


async def load(host: str, port: int, requests: list[bytes], connections: int) -> tuple[float, dict[str, int]]:
    codes: dict[str, int] = {}
    queue = list(requests)
    t0 = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, queue, codes) for _ in range(connections)))
    return time.perf_counter() - t0, codes


# ----------------------------------------------------------------------------- server


def serve(data_dir: str, port: int) -> None:
    import uvicorn
    import uvloop

    from kassagate.config import load_settings
    from kassagate.front.app import create_front_app
    from kassagate.front.context import FrontContext

    async def main() -> None:
        settings = load_settings(data_dir=data_dir, port=port)
        ctx = await FrontContext.open(settings)
        config = uvicorn.Config(create_front_app(ctx, close_on_shutdown=True), host="127.0.0.1", port=port,
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
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each measurement")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--bits", type=int, default=4096, choices=(2048, 3072, 4096))
    ap.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return

    import httpx
    import uvloop

    before, cores = rsa_ceiling(args.bits, args.seconds)
    print(f"RSA-OAEP-SHA1 {args.bits}-bit private decryptions, before: {before:.0f}/s on {cores} cores", flush=True)

    with tempfile.TemporaryDirectory(prefix="kassagate-bench-") as tmp:
        env = dict(os.environ, KASSAGATE_RSA_BITS=str(args.bits), KASSAGATE_DATA_DIR=tmp,
                   KASSAGATE_LOG_LEVEL="WARNING")
        subprocess.run([sys.executable, "-m", "kassagate", "kassa", "add", KASSAID, "--token", "-"],
                       input=TOKEN + "\n", text=True, env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", tmp, str(port)], env=env)
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
            count = max(200, int(before / 2 * args.seconds))
            print(f"building {count} encrypted requests ...", flush=True)
            reqs = build_requests(keys, count + 100, "127.0.0.1", port)
            uvloop.run(load("127.0.0.1", port, reqs[:100], args.connections))  # warm up
            server_cpu0, client_cpu0 = tree_cpu(server.pid), time.process_time()
            elapsed, codes = uvloop.run(load("127.0.0.1", port, reqs[100:], args.connections))
            cpu_used = tree_cpu(server.pid) - server_cpu0 + time.process_time() - client_cpu0
            print(f"load: {count} requests in {elapsed:.1f} s", flush=True)
        finally:
            server.terminate()
            server.wait(30)
        import sqlite3

        with sqlite3.connect(Path(tmp) / "kassagate.sqlite3") as db:
            stored = db.execute("SELECT count(*) FROM requests WHERE rid LIKE 'bench-%'").fetchone()[0]
    after, _ = rsa_ceiling(args.bits, args.seconds)
    print(f"RSA-OAEP-SHA1 {args.bits}-bit private decryptions, after: {after:.0f}/s on {cores} cores")
    ceiling = (before + after) / 4
    print(f"ceiling (mean of both, halved: two decryptions per request): {ceiling:.0f} requests/s")
    accepted = codes.get("800", 0)
    rate = accepted / elapsed
    print(f"answers: {dict(sorted(codes.items()))}; stored in the database: {stored}")
    if accepted + 100 != stored or set(codes) != {"800"}:
        raise SystemExit("not every request was accepted and stored")
    print(f"accepted with durable storage: {rate:.0f} requests/s ({args.connections} connections)")
    per_request = cpu_used / max(accepted, 1)
    t_dec = sum(CPU_PER_DECRYPTION) / len(CPU_PER_DECRYPTION)
    print(f"CPU per accepted request (server, crypto workers, load client): {per_request * 1000:.2f} ms; "
          f"per RSA decryption: {t_dec * 1000:.2f} ms")
    print(f"load-independent ratio (2 decryptions' CPU / a request's CPU): {2 * t_dec / per_request:.2f}")
    print(f"ratio accepted/ceiling: {rate / ceiling:.2f}")


if __name__ == "__main__":
    main()
