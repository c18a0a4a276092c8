"""Shared fixtures: a real Ed25519 issuer and verifiers built from its published JWKS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import oathmesh

ISSUER = "https://issuer.oathmesh.test"
AUDIENCE = "https://payments.oathmesh.test"

# First matching rule wins: refunds are denied, any service may do anything else.
POLICY = {
    "version": 1,
    "rules": [
        {"name": "no-refunds", "allow": False, "match": {"act": "refund"}},
        {"name": "services", "allow": True, "match": {"sub": "svc://*"}},
    ],
}


@pytest.fixture(scope="session")
def key() -> oathmesh.GeneratedKey:
    return oathmesh.generate_key()


@pytest.fixture(scope="session")
def issuer(key: oathmesh.GeneratedKey) -> oathmesh.Issuer:
    return oathmesh.Issuer.from_pem(ISSUER, key.private_pem)


@pytest.fixture(scope="session")
def past_issuer(key: oathmesh.GeneratedKey) -> oathmesh.Issuer:
    """Signs with the same key, but its clock is 20 minutes behind: its tokens are expired."""
    return oathmesh.Issuer.from_config(
        {"issuer": ISSUER, "private_key_pem": key.private_pem, "testing": {"now": int(time.time()) - 1200}}
    )


@pytest.fixture
def make_verifier(issuer: oathmesh.Issuer) -> Callable[..., oathmesh.Verifier]:
    def make(**overrides: Any) -> oathmesh.Verifier:
        options: dict[str, Any] = {
            "audience": AUDIENCE,
            "trusted_issuers": [ISSUER],
            "jwks": issuer.jwks(),
            "policy": POLICY,
        }
        options.update(overrides)
        return oathmesh.Verifier(**options)

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., oathmesh.Verifier]) -> oathmesh.Verifier:
    return make_verifier()


@pytest.fixture
def mint(issuer: oathmesh.Issuer) -> Callable[..., oathmesh.MintedToken]:
    def mint(**claims: Any) -> oathmesh.MintedToken:
        request: dict[str, Any] = {"sub": "svc://checkout", "aud": AUDIENCE, "act": "charge"}
        request.update(claims)
        return issuer.mint(**request)

    return mint
