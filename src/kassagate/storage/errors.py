"""Errors of the storage layer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError


class StorageError(Exception):
    """The database refused or could not take a write (the message names no data)."""


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """The database's errors inside, raised as :class:`StorageError`: callers outside
    ``storage`` see one error type whatever the engine (SQL parameters are never in the
    messages: ``hide_parameters``)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(f"{type(exc).__name__}: {exc}") from exc
