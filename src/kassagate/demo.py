"""``kassagate serve --demo``: a working kassa to try the system with, and a cabinet login.

The first start creates kassa ``100001`` bound to a new registered virtual register, with
a random token kept in ``<data dir>/demo.json`` (mode 0600) so that later starts print the
same credentials. It also creates the cabinet operator ``demo`` with a random password,
printed that once and kept nowhere (``kassagate user passwd demo`` sets a new one). Token
and password are printed on the terminal, never logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import sys
from pathlib import Path

from kassagate.config import Settings
from kassagate.front.context import FrontContext

DEMO_KASSAID = "100001"
DEMO_LOGIN = "demo"


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
        from kassagate.front.keys import load_or_create_token_key
        from kassagate.provisioning import Provisioning

        token = secrets.token_urlsafe(24)
        token_key = await asyncio.to_thread(load_or_create_token_key, Path(settings.data_dir))
        await Provisioning(ctx.accounts.db, Path(settings.data_dir), token_key).add_kassa(DEMO_KASSAID, token)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"kassaid": DEMO_KASSAID, "token": token}, f)
    assert token is not None
    password = await _ensure_operator(ctx)
    url = f"http://{settings.host}:{settings.port}"
    python = shlex.quote(sys.executable)  # the interpreter kassagate is installed in, from any directory
    data_dir = shlex.quote(str(settings.data_dir))
    if password is not None:
        login_line = f"login {DEMO_LOGIN}, password {password} (shown this once)"
    else:
        login_line = f"login {DEMO_LOGIN}; its password was shown at the first start (new one: user passwd)"
    sys.stdout.write(
        f"""
kassagate demo
  front server : {url}  (keys: GET {url}/v1/keys)
  kassaid      : {DEMO_KASSAID}
  kassatoken   : {token}
  cabinet      : {url}/cabinet/  ({login_line})

Send a first receipt (paste into another terminal):

{python} - <<'PY'
from kassagate.client import KassaClient, Line, make_receipt
with KassaClient("{url}", kassaid="{DEMO_KASSAID}", kassatoken="{token}") as kassa:
    answer = kassa.send(make_receipt([Line("Tea", 15000)], tax_system=1, email="buyer@example.com"))
    print(answer.code, answer.message)
    print(kassa.wait_fiscalized(answer.nuid, answer.qnuid, timeout=10))
PY

The register's fiscal journal: {python} -m kassagate kkt journal {DEMO_KASSAID} --data-dir {data_dir}
The receipts, their fiscal data and the register: {url}/cabinet/
"""
    )
    sys.stdout.flush()
    return DEMO_KASSAID, token


async def _ensure_operator(ctx: FrontContext) -> str | None:
    """Create the demo operator if there is none; its password, or ``None`` when it existed."""
    from kassagate.cabinet.auth import hash_password
    from kassagate.storage.repos import DuplicateError
    from kassagate.storage.users import Users

    users = Users(ctx.db)
    if await users.by_login(DEMO_LOGIN) is not None:
        return None
    password = secrets.token_urlsafe(12)
    try:
        await users.add(DEMO_LOGIN, password_hash=await asyncio.to_thread(hash_password, password), role="operator")
    except DuplicateError:  # another process created it meanwhile
        return None
    return password
