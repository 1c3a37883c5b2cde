"""Cabinet users for ``bench/front.py --cabinet-clients N``: an operator signed in once,
then N clients each asking for the requests page once a second (staggered), as a person
keeping the page open does, while the front server takes its load."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

LOGIN = "bench-operator"
PASSWORD = "bench operator password"


def add_operator(env: Mapping[str, str]) -> None:
    """The operator, through ``kassagate user add`` (the password on stdin)."""
    subprocess.run([sys.executable, "-m", "kassagate", "user", "add", LOGIN, "--operator", "--password-file", "-"],
                   input=PASSWORD + "\n", text=True, env=dict(env), check=True, capture_output=True)


def sign_in(url: str) -> httpx.Cookies:
    """The session cookie of the operator (one Argon2 check on the server, before any
    slice), after one look at the requests page."""
    with httpx.Client(base_url=url, timeout=30) as http:
        form = http.get("/cabinet/login").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = http.post("/cabinet/login", data={"csrf": csrf, "login": LOGIN, "password": PASSWORD})
        if answer.status_code != 303:
            raise SystemExit(f"the cabinet sign-in answered {answer.status_code}")
        http.get("/cabinet/requests")  # the template compiled, as in a server that has shown it before
        return http.cookies


@dataclass
class Polls:
    """The requests pages asked during a slice: seconds each, and answers that were not 200."""

    seconds: list[float] = field(default_factory=list)
    failed: int = 0

    def describe(self) -> str:
        if not self.seconds:
            return "no page asked"
        return (f"{len(self.seconds)} requests pages, median {statistics.median(self.seconds) * 1000:.0f} ms, "
                f"slowest {max(self.seconds) * 1000:.0f} ms, not 200: {self.failed}")


async def poll(url: str, cookies: httpx.Cookies, deadline: float, offset: float, out: Polls) -> None:
    """Ask for ``/cabinet/requests`` every second from ``offset`` s on until ``deadline``."""
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=30) as http:
        next_at = time.perf_counter() + offset
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            t0 = time.perf_counter()
            answer = await http.get("/cabinet/requests")
            out.seconds.append(time.perf_counter() - t0)
            out.failed += answer.status_code != 200 or 'id="requests"' not in answer.text
            next_at += 1.0
