"""Fixtures of the client tests: server key pairs (2048 bits, generated once)."""

from __future__ import annotations

import pytest

from support.client_reference import ServerKeys, make_server_keys


@pytest.fixture(scope="session")
def server_keys() -> ServerKeys:
    return make_server_keys()


@pytest.fixture(scope="session")
def other_server_keys() -> ServerKeys:
    return make_server_keys()
