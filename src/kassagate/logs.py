"""Logging for the kassagate processes: one line per record on standard error.

Secrets never reach a log because no code logs them (tokens, private keys, merchant IDs,
callback secrets, receipts' contact data); the tests of each adapter check it at DEBUG.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_kassagate_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that would log request URLs or SQL parameters stay quiet below WARNING.
    for noisy in ("httpx", "httpcore", "sqlalchemy.engine", "aiosqlite", "asyncio", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._kassagate_configured = True  # type: ignore[attr-defined]
