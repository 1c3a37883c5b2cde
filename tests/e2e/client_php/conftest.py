"""The ``php`` fixture of the PHP client's tests: the path of a ``php`` with the extensions
the library needs. Without one the tests skip, saying why, except under
``KASSAGATE_REQUIRE_PHP=1`` (set by ``.ci/run``): then they fail, so that CI never passes
without running the PHP client."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PHP_CLIENT = Path(__file__).resolve().parents[3] / "clients" / "php"
REQUIRE_PHP = os.environ.get("KASSAGATE_REQUIRE_PHP") == "1"
#: PHP extensions the library needs beyond the core.
EXTENSIONS = ("curl", "json", "openssl")


def php_unavailable_reason() -> str | None:
    php = shutil.which("php")
    if php is None:
        return "php is not installed (Debian: apt-get install php-cli php-curl)"
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=60, check=False).stdout
    loaded = {line.strip().lower() for line in modules.splitlines()}
    missing = [ext for ext in EXTENSIONS if ext not in loaded]
    if missing:
        return f"php lacks the extension(s) {', '.join(missing)} (Debian: apt-get install php-curl)"
    return None


@pytest.fixture(scope="session")
def php() -> str:
    reason = php_unavailable_reason()
    if reason is not None:
        if REQUIRE_PHP:
            pytest.fail(f"KASSAGATE_REQUIRE_PHP=1 but {reason}")
        pytest.skip(reason)
    return str(shutil.which("php"))
