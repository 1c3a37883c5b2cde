"""Token verification costs under a millisecond of CPU, for a wrong token and for no such
account alike, and depends on the token key."""

from __future__ import annotations

import os
import time

from kassagate.storage.tokens import TokenVerifier, hash_token, hash_token_pbkdf2, new_token

TRIES = 300


async def test_verification_costs_under_a_millisecond_of_cpu() -> None:
    key = os.urandom(32)
    verifier = TokenVerifier(key)
    salt, stored = hash_token("the-right-token-0123456789", key)
    wrong = [new_token() for _ in range(TRIES)]
    t0 = time.process_time()
    for token in wrong:
        assert not (await verifier.verify(token, salt, stored)).ok
        assert not (await verifier.verify(token, None, None)).ok  # no such account
    per_check = (time.process_time() - t0) / (2 * TRIES)
    assert per_check < 0.001, per_check
    assert (await verifier.verify("the-right-token-0123456789", salt, stored)).ok


async def test_the_hash_needs_the_token_key() -> None:
    key, other = os.urandom(32), os.urandom(32)
    salt, stored = hash_token("the-right-token-0123456789", key)
    assert (await TokenVerifier(key).verify("the-right-token-0123456789", salt, stored)).ok
    assert not (await TokenVerifier(other).verify("the-right-token-0123456789", salt, stored)).ok


async def test_a_pbkdf2_row_is_verified_and_rehashed_under_the_key() -> None:
    key = os.urandom(32)
    verifier = TokenVerifier(key)
    salt, stored = hash_token_pbkdf2("old-token-0123456789", iterations=1000)
    wrong = await verifier.verify("old-token-0123456789x", salt, stored)
    assert not wrong.ok and wrong.rehashed is None
    verdict = await verifier.verify("old-token-0123456789", salt, stored)
    assert verdict.ok and verdict.rehashed is not None
    new_salt, new_hash = verdict.rehashed
    assert new_hash.startswith("hmac_sha256$")
    assert (await verifier.verify("old-token-0123456789", new_salt, new_hash)).ok


def test_generated_tokens_have_at_least_128_random_bits() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) * 6 >= 128 for t in tokens)
