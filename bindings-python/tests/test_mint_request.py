"""One ``MintRequest`` for every mint call, and the verifier's documents checked by the core
only (no Python copy of the duplicate or leeway rules)."""

from __future__ import annotations

from typing import Any

import pytest

import oathmesh
from conftest import AUDIENCE, ISSUER


def test_mint_request_and_keywords_mint_the_same_claims(issuer: oathmesh.Issuer, verifier: oathmesh.Verifier) -> None:
    request = oathmesh.MintRequest(sub="svc://checkout", aud=AUDIENCE, act="charge", scope=["orders:write"], env="prod")
    from_request = verifier.verify(issuer.mint(request).token)
    from_keywords = verifier.verify(issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge", scope=["orders:write"], env="prod").token)
    for caller in (from_request, from_keywords):
        assert (caller.subject, caller.action, caller.scope, caller.env) == ("svc://checkout", "charge", ("orders:write",), "prod")
    # Keywords given with a request replace its fields.
    assert verifier.verify(issuer.mint(request, env="staging").token).env == "staging"


def test_mint_request_document_leaves_out_absent_fields() -> None:
    request = oathmesh.MintRequest(sub="svc://a", aud=AUDIENCE, act="read", src={"type": "ci"})
    assert request.to_document() == {"sub": "svc://a", "aud": AUDIENCE, "act": "read", "src": {"type": "ci"}}


def test_mint_request_refuses_unknown_and_wrong_arguments(issuer: oathmesh.Issuer) -> None:
    with pytest.raises(TypeError):
        issuer.mint(sub="svc://a", aud=AUDIENCE, act="read", colour="red")
    with pytest.raises(TypeError):
        issuer.mint({"sub": "svc://a"})  # type: ignore[arg-type]
    with pytest.raises(oathmesh.MintError) as caught:
        issuer.mint(oathmesh.MintRequest(sub="nope", aud=AUDIENCE, act="read"))
    assert caught.value.code == "claim_invalid:sub"


def test_revoked_subjects_given_twice_is_refused_by_the_core(issuer: oathmesh.Issuer) -> None:
    base: dict[str, Any] = {"audience": AUDIENCE, "trusted_issuers": [ISSUER], "jwks": issuer.jwks()}
    with pytest.raises(oathmesh.ConfigError) as caught:
        oathmesh.Verifier(**base, revocation=["svc://a"], revoked_subjects=["svc://b"])
    assert "duplicate" in caught.value.message, caught.value.message


def test_leeway_default_comes_from_the_core(issuer: oathmesh.Issuer) -> None:
    verifier = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks())
    assert verifier.leeway == 10  # the core's DEFAULT_LEEWAY_SECS; Python sends no value
    assert oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks(), leeway=3).leeway == 3
