"""Errors of the storage layer."""

from __future__ import annotations


class StorageError(Exception):
    """The database refused or could not take a write (the message names no data)."""
