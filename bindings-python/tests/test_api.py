"""The Python API over the core: construction, the caller object, errors, audit, minting."""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import oathmesh
from oathmesh import _native, errors
from conftest import AUDIENCE, ISSUER, POLICY


def test_allow_returns_a_frozen_typed_caller(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    token = mint(
        scope=["payments:write", "payments:read"],
        env="prod",
        tenant="acme",
        reason="nightly settlement",
        src={"type": "github_actions", "repo": "acme/app", "run_id": "42"},
        delegated_by="user://alice",
    )
    caller = verifier.verify(token.token, request_id="r-1")
    assert isinstance(caller, oathmesh.Caller)
    assert (caller.subject, caller.issuer, caller.audience, caller.action) == ("svc://checkout", ISSUER, AUDIENCE, "charge")
    assert caller.token_id == token.token_id
    assert caller.scope == ("payments:write", "payments:read")
    assert (caller.env, caller.tenant, caller.reason, caller.delegated_by) == ("prod", "acme", "nightly settlement", "user://alice")
    assert caller.policy_rule == "services"
    assert caller.expires_at == token.expires_at
    assert caller.expires_at.tzinfo == timezone.utc
    assert (caller.expires_at - caller.issued_at).total_seconds() == 120
    assert caller.expires_at_unix == int(token.expires_at.timestamp())
    assert caller.source is not None
    assert (caller.source.type, caller.source.repo, caller.source.run_id, caller.source.sha) == ("github_actions", "acme/app", "42", None)
    assert caller.to_dict()["source"] == {"type": "github_actions", "repo": "acme/app", "run_id": "42"}
    with pytest.raises(AttributeError):
        caller.subject = "svc://evil"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        caller.source.repo = "x"  # type: ignore[misc]
    assert caller == caller and hash(caller) == hash(caller)
    assert "svc://checkout" in repr(caller) and token.token not in repr(caller)


def test_without_policy_every_valid_token_is_allowed(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    verifier = make_verifier(policy=None)
    caller = verifier.verify(mint(act="refund").token)
    assert caller.policy_rule is None and caller.source is None and caller.scope == ()


def test_error_table_covers_every_core_kind() -> None:
    kinds = _native.error_kinds()
    assert [n for n, _, _ in kinds] == list(range(1, 19))
    assert set(errors._BY_KIND) == {n for n, _, _ in kinds}
    for number, code, status in kinds:
        cls = errors._BY_KIND[number]
        assert cls.__name__ == "".join(p.capitalize() for p in code.split("_")), code
        assert issubclass(cls, oathmesh.OathMeshError)
        assert issubclass(cls, oathmesh.Unavailable) == (status == 503), code


def test_errors_carry_the_core_fields(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    with pytest.raises(oathmesh.PolicyDenied) as caught:
        verifier.verify(mint(act="refund").token)
    err = caught.value
    assert (err.code, err.step, err.http_status, err.policy_rule) == ("policy_denied", "14", 403, "no-refunds")
    assert err.fix and err.message
    assert err.to_dict("r-9") == {"error": "policy_denied", "message": err.message, "fix": err.fix, "step": "14", "request_id": "r-9"}
    assert "request_id" not in err.to_dict()
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is oathmesh.PolicyDenied and copy.to_dict() == err.to_dict()


@pytest.mark.parametrize(
    ("mutate", "cls", "code"),
    [
        (lambda t: "not-a-token", oathmesh.TokenMalformed, "token_malformed"),
        (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), oathmesh.SignatureInvalid, "signature_invalid"),
    ],
)
def test_token_failures(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken], mutate: Callable[[str], str], cls: type, code: str) -> None:
    with pytest.raises(cls) as caught:
        verifier.verify(mutate(mint().token))
    assert caught.value.code == code


def test_untrusted_issuer_and_unknown_key(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    other = oathmesh.generate_key()
    with pytest.raises(oathmesh.IssuerUntrusted):
        make_verifier(trusted_issuers=["https://elsewhere.test"]).verify(mint().token)
    with pytest.raises(oathmesh.KeyNotFound):
        make_verifier(jwks=other.jwks).verify(mint().token)


def test_revocation_and_required_binding(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    with pytest.raises(oathmesh.SubjectRevoked) as caught:
        make_verifier(revocation=["svc://checkout"]).verify(mint().token)
    assert caught.value.step == "13.5"
    bound_verifier = make_verifier(require_binding=True)
    with pytest.raises(oathmesh.BindingRequired):
        bound_verifier.verify(mint().token, method="GET", path="/")
    rqh = oathmesh.canonical_request_hash("PUT", "/v1/x?b=1&a=2", b"{}")
    caller = bound_verifier.verify(mint(rqh=rqh).token, method="PUT", path="/v1/x?a=2&b=1", body="{}")
    assert caller.subject == "svc://checkout"
    # A bound token without the request is refused, never accepted unchecked.
    with pytest.raises(oathmesh.BindingMismatch):
        make_verifier().verify(mint(rqh=rqh).token)


def test_request_needs_a_method(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    with pytest.raises(TypeError, match="method"):
        verifier.verify(mint().token, path="/x")


def test_verify_authorization(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    assert verifier.verify_authorization(f"oathmesh {mint().token}").subject == "svc://checkout"
    for header in (None, "", "Bearer x.y.z", f"OathMesh  {mint().token}"):
        with pytest.raises(oathmesh.ClaimMissing) as caught:
            verifier.verify_authorization(header)
        assert (caught.value.code, caught.value.step, caught.value.claim) == ("claim_missing:token", "00", "token")


def test_config_errors_carry_the_core_message(issuer: oathmesh.Issuer, tmp_path: Path) -> None:
    base: dict[str, Any] = {"audience": AUDIENCE, "trusted_issuers": [ISSUER], "jwks": issuer.jwks()}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"leeway": 61}, "leeway"),
        ({"policy": {"version": 1, "rules": [{"name": "x"}]}}, "policy.rules[0].allow"),
        ({"jwks_file": tmp_path / "missing.json"}, "at most one"),
        ({"trusted_issuers": "https://one-string"}, "expected a sequence"),
        ({"policy": "{not json"}, "policy"),
        ({"replay_cache": {"type": "carrier-pigeon"}}, "carrier-pigeon"),
    ]
    for overrides, needle in cases:
        with pytest.raises(oathmesh.ConfigError) as caught:
            oathmesh.Verifier(**{**base, **overrides})
        assert needle in caught.value.message, caught.value.message
        assert isinstance(caught.value, ValueError) and not isinstance(caught.value, oathmesh.OathMeshError)
    with pytest.raises(oathmesh.ConfigError, match="audence"):
        oathmesh.Verifier.from_config({**base, "audence": "x"})
    with pytest.raises(TypeError):
        oathmesh.Verifier(**base, audit=42)  # type: ignore[arg-type]


def test_files_and_json_text(issuer: oathmesh.Issuer, mint: Callable[..., oathmesh.MintedToken], tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(issuer.jwks_json())
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    verifier = oathmesh.Verifier(
        audience=AUDIENCE, trusted_issuers=[ISSUER], jwks_file=tmp_path / "jwks.json", policy_file=tmp_path / "policy.json",
        audit_file=tmp_path / "audit.ndjson",
    )
    assert verifier.verify(mint().token).policy_rule == "services"
    event = json.loads((tmp_path / "audit.ndjson").read_text().splitlines()[0])
    assert event["outcome"] == "allow"
    text_verifier = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks_json(), policy=json.dumps(POLICY))
    assert text_verifier.verify(mint().token).policy_rule == "services"
    assert verifier.audience == AUDIENCE and verifier.leeway == 10


def test_audit_callable_gets_one_event_per_verification(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]) -> None:
    events: list[dict[str, Any]] = []
    verifier = make_verifier(audit=events.append)
    token = mint(env="prod")
    verifier.verify(token.token, request_id="r-1")
    with pytest.raises(oathmesh.ReplayDetected):
        verifier.verify(token.token, request_id="r-2")
    with pytest.raises(oathmesh.ClaimMissing):
        verifier.verify_authorization(None)
    assert [e["outcome"] for e in events] == ["allow", "deny", "deny"]
    allow, replay, missing = events
    assert allow["event"] == "oathmesh.verify" and allow["policy_rule"] == "services"
    assert (allow["sub"], allow["act"], allow["jti"], allow["env"], allow["request_id"]) == ("svc://checkout", "charge", token.token_id, "prod", "r-1")
    assert (replay["code"], replay["step"], replay["request_id"]) == ("replay_detected", "13", "r-2")
    assert missing["code"] == "claim_missing:token" and missing["sub"] is None
    for event in events:
        assert token.token not in json.dumps(event)
        assert event["timestamp"].endswith("Z") and isinstance(event["latency_us"], int)


def test_a_failing_audit_callback_never_changes_the_result(
    make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken], monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("audit backend down")

    verifier = make_verifier(audit=broken)
    assert verifier.verify(mint().token).subject == "svc://checkout"
    with pytest.raises(oathmesh.PolicyDenied):
        verifier.verify(mint(act="refund").token)
    assert len(reported) == 2 and isinstance(reported[0].exc_value, RuntimeError)


def test_audit_to_logging(make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken], caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("oathmesh.test.audit")
    verifier = make_verifier(audit=logger)
    with caplog.at_level(logging.INFO, logger="oathmesh.test.audit"):
        verifier.verify(mint().token)
        with pytest.raises(oathmesh.PolicyDenied):
            verifier.verify(mint(act="refund").token)
    allow, deny = caplog.records
    assert (allow.levelno, deny.levelno) == (logging.INFO, logging.WARNING)
    assert json.loads(allow.getMessage())["outcome"] == "allow"
    assert deny.oathmesh["code"] == "policy_denied"  # type: ignore[attr-defined]


def test_mint(issuer: oathmesh.Issuer) -> None:
    token = issuer.mint(sub="svc://a", aud=AUDIENCE, act="read", ttl_hint=9999)
    assert token.expires_in == 300 and token.token_type == "OathMesh"
    assert token.authorization == f"OathMesh {token.token}"
    assert token.token not in repr(token)
    assert token.expires_at.tzinfo == timezone.utc and token.expires_at > datetime.now(timezone.utc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.token = "x"  # type: ignore[misc]
    assert issuer.issuer == ISSUER and issuer.kid == issuer.jwks()["keys"][0]["kid"]
    for bad, code in [({"sub": "root://x"}, "claim_invalid:sub"), ({"act": "two words"}, "claim_invalid:act"), ({"rqh": "sha256:x"}, "claim_invalid:rqh")]:
        with pytest.raises(oathmesh.MintError) as caught:
            issuer.mint(**{"sub": "svc://a", "aud": AUDIENCE, "act": "read", **bad})
        assert caught.value.code == code


def test_issuer_config_errors(key: oathmesh.GeneratedKey) -> None:
    with pytest.raises(oathmesh.ConfigError) as caught:
        oathmesh.Issuer(issuer=ISSUER)
    assert "exactly one" in caught.value.message
    with pytest.raises(oathmesh.ConfigError) as caught:
        oathmesh.Issuer.from_pem(ISSUER, "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")
    assert "secret" not in str(caught.value)
    assert oathmesh.Issuer.from_pem(ISSUER, key.private_pem, kid="k1").kid == "k1"


def test_generate_key_and_canonical_hash() -> None:
    key = oathmesh.generate_key()
    assert key.private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert key.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert key.jwk["kid"] == key.kid and key.jwk["crv"] == "Ed25519"
    assert "PRIVATE" not in repr(key)
    assert key.kid != oathmesh.generate_key().kid
    # Known answer from the core's tests (sha256 of "GET\n/\n\n" + sha256("")).
    assert oathmesh.canonical_request_hash("GET", "/") == "sha256:7ab4e29f815aa5cca74727c3b5bbea3e2fa3d33ea85848c546d53ea2c67e0e77"
    assert oathmesh.canonical_request_hash("POST", "/p", "{}") == oathmesh.canonical_request_hash("post", "/p", b"{}")


def test_version() -> None:
    assert oathmesh.__version__.count(".") == 2
