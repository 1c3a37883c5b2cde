"""The client's public surface: what ``kassagate.client`` exports is pinned here, so that
adding or removing a name is a decision visible in review; the clients' parameters are
spelled out (no ``**options``), so that type checkers see them."""

from __future__ import annotations

import inspect

import pytest

import kassagate.client
from kassagate.client import AsyncKassaClient, KassaClient

EXPORTED = [
    "Answer",
    "AsyncKassaClient",
    "ClientError",
    "KassaClient",
    "Line",
    "ProtocolError",
    "PublicKeys",
    "ReceiptInvalid",
    "Status",
    "StatusNotFound",
    "TransportError",
    "WaitTimeout",
    "make_receipt",
]

CLIENT_PARAMETERS = [
    "base_url",
    "kassaid",
    "kassatoken",
    "cluster",
    "keys",
    "timeout",
    "check",
    "today",
    "fiscalize_path",
    "refresh_keys",
    "http",
]


def test_the_exported_names() -> None:
    assert kassagate.client.__all__ == EXPORTED


def test_every_exported_name_resolves() -> None:
    for name in kassagate.client.__all__:
        assert getattr(kassagate.client, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from kassagate.client import *", namespace)  # noqa: S102 - a fixed import statement
    assert sorted(k for k in namespace if not k.startswith("__")) == sorted(EXPORTED)


@pytest.mark.parametrize("name", ["encode_json", "seal", "parse_answer", "parse_receipt", "ACCEPTED_CODES"])
def test_internals_are_reached_through_their_modules(name: str) -> None:
    assert not hasattr(kassagate.client, name)


def test_the_errors_derive_from_client_error() -> None:
    errors = ["ProtocolError", "ReceiptInvalid", "StatusNotFound", "TransportError", "WaitTimeout"]
    for name in errors:
        assert issubclass(getattr(kassagate.client, name), kassagate.client.ClientError), name


@pytest.mark.parametrize("client", [KassaClient, AsyncKassaClient])
def test_the_constructors_spell_out_their_parameters(client: type) -> None:
    parameters = inspect.signature(client.__init__).parameters
    assert list(parameters)[1:] == CLIENT_PARAMETERS
    kinds = {p.kind for p in parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
    assert all(p.annotation is not inspect.Parameter.empty for name, p in parameters.items() if name != "self")
