"""``kassagate serve --demo``: a working kassa to try the system with.

The first start creates kassa ``100001`` bound to a new registered virtual register, with
a random token kept in ``<data dir>/demo.json`` (mode 0600) so that later starts print the
same credentials. The token is printed on the terminal, never logged.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from kassagate.config import Settings
from kassagate.front.context import FrontContext

DEMO_KASSAID = "100001"


def _demo_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "demo.json"


async def ensure_demo(ctx: FrontContext, settings: Settings) -> tuple[str, str]:
    """Create the demo kassa if it does not exist; print how to use it. Returns (kassaid, token)."""
    path = _demo_file(settings)
    token: str | None = None
    if path.exists():
        token = json.loads(path.read_text()).get("token")
    exists = await ctx.accounts.get_kassa(DEMO_KASSAID) is not None
    if exists and token is None:
        sys.stdout.write(
            f"kassagate demo: kassa {DEMO_KASSAID} exists but {path} with its token is gone; "
            "start with a new --data-dir for a fresh demo.\n"
        )
        return DEMO_KASSAID, ""
    if not exists:
        from kassagate.cli.accounts import _add_kassa

        token = secrets.token_urlsafe(24)
        await _add_kassa(
            settings,
            DEMO_KASSAID,
            token,
            type_="standard",
            debug=False,
            activated=True,
            cluster=None,
            kkt="virtual",
            merchant_id=None,
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"kassaid": DEMO_KASSAID, "token": token}, f)
    assert token is not None
    url = f"http://{settings.host}:{settings.port}"
    sys.stdout.write(
        f"""
kassagate demo
  front server : {url}  (keys: GET {url}/v1/keys)
  kassaid      : {DEMO_KASSAID}
  kassatoken   : {token}

Send a first receipt (in another terminal):

  .venv/bin/python - <<'PY'
  from kassagate.client import KassaClient, Line, make_receipt
  with KassaClient("{url}", kassaid="{DEMO_KASSAID}", kassatoken="{token}") as kassa:
      answer = kassa.send(make_receipt([Line("Tea", 15000)], tax_system=1, email="buyer@example.com"))
      print(answer.code, answer.message)
      print(kassa.wait_fiscalized(answer.nuid, answer.qnuid, timeout=10))
  PY

The register's fiscal journal: kassagate kkt journal {DEMO_KASSAID} --data-dir {settings.data_dir}
"""
    )
    sys.stdout.flush()
    return DEMO_KASSAID, token
