"""The client installs alone: ``kassagate-client`` (``clients/python/``) ships
``kassagate.client`` and ``kassagate.core`` and needs none of the server's dependencies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLIENT_PROJECT = ROOT / "clients" / "python"


def _dist_name(requirement: str) -> str:
    """The normalized distribution name of a requirement string (``uvicorn[standard]>=0.30``)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _dependencies(pyproject: Path) -> set[str]:
    return {_dist_name(r) for r in tomllib.loads(pyproject.read_text())["project"]["dependencies"]}


def server_only_modules() -> list[str]:
    """Top-level modules of the distributions the server needs and the client does not."""
    server_only = _dependencies(ROOT / "pyproject.toml") - _dependencies(CLIENT_PROJECT / "pyproject.toml")
    assert {"starlette", "sqlalchemy", "uvicorn", "typer"} <= server_only
    return sorted(
        module
        for module, dists in packages_distributions().items()
        if any(_dist_name(d) in server_only for d in dists) and module.isidentifier()
    )


#: Imports the client with the server's dependencies made unimportable, uses it offline
#: (local receipt check, the envelope with a fresh key pair) and prints the kassagate
#: modules loaded and where ``kassagate`` came from.
PROBE = """
import base64, importlib.abc, json, sys
BLOCKED = set(json.loads(sys.argv[1]))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"server dependency imported by the client: {name}")
        return None

sys.meta_path.insert(0, Block())
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
import kassagate
from kassagate.client import KassaClient, Line, PublicKeys, ReceiptInvalid, make_receipt

def pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

keys = PublicKeys.from_json(
    {"rsa_first": pem(), "hmac_first": base64.b64encode(b"a" * 32).decode(),
     "rsa_second": pem(), "hmac_second": base64.b64encode(b"b" * 32).decode()}
)
client = KassaClient("http://127.0.0.1:9", "123", "token")
body = client.build_body(make_receipt([Line("Tea", 15000, quantity="2")], tax_system=1), keys, rid="r-1")
assert set(body) == {"aab", "dde", "test"}, body
broken = make_receipt([Line("Tea", 15000)], tax_system=1)
broken["itog_arr"]["itog_cheka"] += 1
try:
    client.prepare_receipt(broken)
except ReceiptInvalid as exc:
    assert exc.path == "itog_arr.itog_cheka", exc.path
else:
    raise AssertionError("a receipt whose total is off by a kopeck passed the local check")
client.close()
print(json.dumps({"file": kassagate.__file__, "modules": sorted(m for m in sys.modules if m.startswith("kassagate"))}))
"""


def run_probe(*, pythonpath: Path | None = None) -> dict[str, object]:
    env = None
    if pythonpath is not None:
        env = {"PYTHONPATH": str(pythonpath), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(server_only_modules())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def client_side(module: str) -> bool:
    return module == "kassagate" or module.startswith(("kassagate.client", "kassagate.core"))


def test_the_client_works_without_the_server_dependencies() -> None:
    probe = run_probe()
    modules = probe["modules"]
    assert isinstance(modules, list) and "kassagate.client.http" in modules
    assert [m for m in modules if not client_side(m)] == []


def test_the_client_distribution_declares_what_the_client_imports() -> None:
    config = tomllib.loads((CLIENT_PROJECT / "pyproject.toml").read_text())
    assert set(config["tool"]["setuptools"]["packages"]) == {
        "kassagate",
        "kassagate.client",
        "kassagate.core",
        "kassagate.core.receipt",
    }
    assert config["tool"]["setuptools"]["package-dir"] == {"": "../../src"}
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert config["project"]["version"] == server["version"]
    # each dependency of the client is pinned as the server pins it
    server_reqs = {_dist_name(r): r for r in server["dependencies"]}
    for req in config["project"]["dependencies"]:
        assert server_reqs[_dist_name(req)] == req


@pytest.mark.slow
def test_the_client_wheel_alone(tmp_path: Path) -> None:
    """Build the ``kassagate-client`` wheel, install it (without dependencies) into a
    directory of its own and use the client from there with the server's dependencies
    unimportable."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=CLIENT_PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = wheels.glob("kassagate_client-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.startswith("kassagate_client-")]
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert sorted(n for n in names if n.count("/") == 1) == ["kassagate/__init__.py", "kassagate/py.typed"]
    assert {n.split("/")[1] for n in names if n.count("/") == 2} == {"client", "core"}
    requires = {
        _dist_name(line.split(":", 1)[1].strip()) for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    }
    assert requires == _dependencies(CLIENT_PROJECT / "pyproject.toml")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    probe = run_probe(pythonpath=target)
    assert Path(str(probe["file"])).is_relative_to(target)
    assert [m for m in probe["modules"] if not client_side(m)] == []  # type: ignore[union-attr]
