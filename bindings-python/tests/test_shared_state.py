"""Issue 6 through the Python keywords, against the real services: Redis (replay cache and
revocation shared by receivers), a JWKS server on loopback, policy files reloaded while the
verifier runs (JSON and Pkl), and the HMAC-chained audit file."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import AUDIENCE, ISSUER
from services import JwksServer, oathmesh_bin, pkl_path, redis_cli, redis_url

import oathmesh


def unique_subject(name: str) -> str:
    # The Redis instance lives for the whole suite: subjects never collide between tests.
    return f"svc://{name}-{uuid.uuid4().hex[:8]}"


def replace_file(path: Path, text: str) -> None:
    """Writes beside the file and renames over it, as a deployment does (never half-read)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --- Redis ---------------------------------------------------------------------------------


def test_two_verifiers_sharing_redis_accept_a_token_exactly_once(
    make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    # One receiver with the shorthand, one with the explicit form: the same Redis keys.
    first = make_verifier(redis_url=redis_url())
    second = make_verifier(replay_cache={"type": "redis", "url": redis_url(), "on_error": "reject"})
    token = mint(sub=unique_subject("replay"))
    assert first.verify(token.token).token_id == token.token_id
    with pytest.raises(oathmesh.ReplayDetected) as denied:
        second.verify(token.token)
    assert (denied.value.code, denied.value.step, denied.value.http_status) == ("replay_detected", "13", 401)
    assert redis_cli("EXISTS", f"oathmesh:replay:{token.token_id}") == "1"
    # A token the second receiver sees first is refused by the first.
    other = mint(sub=unique_subject("replay"))
    second.verify(other.token)
    with pytest.raises(oathmesh.ReplayDetected):
        first.verify(other.token)


def test_a_revocation_written_to_redis_is_seen_at_once(
    make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    verifier = make_verifier(revocation={"type": "redis", "url": redis_url(), "timeout_ms": 500})
    subject = unique_subject("revoked")
    assert verifier.verify(mint(sub=subject).token).subject == subject
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    redis_cli("HSET", "oathmesh:revocations", subject, now)
    try:
        with pytest.raises(oathmesh.SubjectRevoked) as denied:
            verifier.verify(mint(sub=subject).token)
        assert (denied.value.code, denied.value.step) == ("subject_revoked", "13.5")
        # Other subjects are unaffected.
        verifier.verify(mint(sub=unique_subject("fine")).token)
    finally:
        redis_cli("HDEL", "oathmesh:revocations", subject)
    assert verifier.verify(mint(sub=subject).token).subject == subject


def test_redis_url_shorthand_covers_revocation_too(
    make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    verifier = make_verifier(redis_url=redis_url())
    subject = unique_subject("shorthand")
    redis_cli("HSET", "oathmesh:revocations", subject, "2026-01-01T00:00:00Z")
    try:
        with pytest.raises(oathmesh.SubjectRevoked):
            verifier.verify(mint(sub=subject).token)
    finally:
        redis_cli("HDEL", "oathmesh:revocations", subject)


# --- JWKS fetching -------------------------------------------------------------------------


def test_keys_are_fetched_from_the_issuer_url() -> None:
    key = oathmesh.generate_key()
    with JwksServer(json.dumps(key.jwks)) as server:
        issuer = oathmesh.Issuer.from_pem(server.url, key.private_pem)
        # No static keys: the verifier fetches {iss}/.well-known/jwks.json.
        verifier = oathmesh.Verifier(
            audience=AUDIENCE, trusted_issuers=[server.url], jwks_fetch={"freshness_secs": 60}
        )
        [warm] = verifier.prewarm()
        assert warm == oathmesh.PrewarmResult(issuer=server.url, ok=True, keys=1, error=None)
        for _ in range(3):
            caller = verifier.verify(issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge").token)
            assert caller.issuer == server.url
        assert server.fetches == 1  # fresh keys are reused, not refetched per token
        # A token signed by a key the issuer never published is still refused.
        stranger = oathmesh.Issuer.from_pem(server.url, oathmesh.generate_key().private_pem)
        with pytest.raises(oathmesh.KeyNotFound):
            verifier.verify(stranger.mint(sub="svc://checkout", aud=AUDIENCE, act="charge").token)


def test_an_unreachable_issuer_fails_closed_with_503() -> None:
    with JwksServer("{}") as server:
        url = server.url
    # The server is gone: nothing listens on its port any more.
    verifier = oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[url])
    assert verifier.prewarm()[0].ok is False
    issuer = oathmesh.Issuer.from_pem(url, oathmesh.generate_key().private_pem)
    with pytest.raises(oathmesh.JwksUnavailable) as denied:
        verifier.verify(issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge").token)
    assert denied.value.http_status == 503


def test_static_keys_with_jwks_fetch_is_a_config_error(issuer: oathmesh.Issuer) -> None:
    with pytest.raises(oathmesh.ConfigError, match="jwks_fetch"):
        oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks(), jwks_fetch={})


# --- Policy files --------------------------------------------------------------------------


def policy(allow_refunds: bool) -> str:
    return json.dumps({"version": 1, "rules": [
        {"name": "refunds", "allow": allow_refunds, "match": {"act": "refund"}},
        {"name": "services", "allow": True, "match": {"sub": "svc://*"}},
    ]})


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def refund_outcome(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> str:
    try:
        return verifier.verify(mint(act="refund").token).policy_rule or "no rule"
    except oathmesh.PolicyDenied as err:
        return f"denied by {err.policy_rule}"


def test_a_rewritten_policy_file_is_reloaded_and_a_broken_one_keeps_the_last_good(
    tmp_path: Path, make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(policy(allow_refunds=False))
    verifier = make_verifier(policy=None, policy_file=path)
    assert refund_outcome(verifier, mint) == "denied by refunds"

    replace_file(path, policy(allow_refunds=True))
    # Seen on the verify path itself (one stat a second), with no explicit reload call.
    assert wait_until(lambda: refund_outcome(verifier, mint) == "refunds")
    assert verifier.policy_reloads == 1

    replace_file(path, '{"version": 1, "rules": [ broken')
    # Each verification is a chance to look at the file; the last good policy stays.
    assert wait_until(lambda: refund_outcome(verifier, mint) == "refunds" and verifier.policy_reload_errors == 1)
    assert verifier.policy_reloads == 1

    replace_file(path, policy(allow_refunds=False))
    assert verifier.reload_policy_now() is True  # or ask for a check at once
    assert refund_outcome(verifier, mint) == "denied by refunds"
    assert verifier.reload_policy_now() is False
    replace_file(path, "[]")
    with pytest.raises(oathmesh.ConfigError, match="policy_file"):
        verifier.reload_policy_now()
    assert refund_outcome(verifier, mint) == "denied by refunds"


def pkl_policy(allow_refunds: bool) -> str:
    return (
        "version = 1\n"
        "rules = new Listing {\n"
        f'  new {{ name = "refunds"; allow = {str(allow_refunds).lower()}; match = new Mapping {{ ["act"] = "refund" }} }}\n'
        '  new { name = "services"; allow = true; match = new Mapping { ["sub"] = "svc://*" } }\n'
        "}\n"
    )


def test_a_pkl_policy_is_evaluated_by_pkl_and_reloaded(
    tmp_path: Path, make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    path = tmp_path / "policy.pkl"
    path.write_text(pkl_policy(allow_refunds=False))
    verifier = make_verifier(policy=None, policy_file=path, pkl_path=pkl_path())
    assert refund_outcome(verifier, mint) == "denied by refunds"
    assert verifier.verify(mint(act="charge").token).policy_rule == "services"
    replace_file(path, pkl_policy(allow_refunds=True))
    assert verifier.reload_policy_now() is True
    assert refund_outcome(verifier, mint) == "refunds"
    replace_file(path, "rules = new Listing { new { name = ")  # not Pkl
    with pytest.raises(oathmesh.ConfigError):
        verifier.reload_policy_now()
    assert refund_outcome(verifier, mint) == "refunds"


def test_a_missing_pkl_binary_is_a_config_error(tmp_path: Path, issuer: oathmesh.Issuer) -> None:
    path = tmp_path / "policy.pkl"
    path.write_text(pkl_policy(allow_refunds=False))
    with pytest.raises(oathmesh.ConfigError):
        oathmesh.Verifier(
            audience=AUDIENCE, trusted_issuers=[ISSUER], jwks=issuer.jwks(),
            policy_file=path, pkl_path=tmp_path / "no-such-pkl",
        )


# --- Audit HMAC chain ----------------------------------------------------------------------


def recompute_chain(key: bytes, text: str) -> int:
    """Checks the chain the way docs/configuration.md defines it; returns the event count."""
    prev = "0" * 64
    lines = text.splitlines()
    for seq, line in enumerate(lines, start=1):
        event = json.loads(line)
        assert event["seq"] == seq and event["prev_hash"] == prev
        signed, sep, _ = line.partition(',"hmac":')
        assert sep, line
        assert hmac.compare_digest(event["hmac"], hmac.new(key, signed.encode(), hashlib.sha256).hexdigest())
        prev = hashlib.sha256(line.encode()).hexdigest()
    return len(lines)


def test_the_audit_file_is_hmac_chained_and_verifies(
    tmp_path: Path, make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    key = "audit-chain-key-" + uuid.uuid4().hex
    key_file = tmp_path / "audit.key"
    key_file.write_text(key + "\n")  # one trailing newline is not part of the key
    key_file.chmod(0o600)  # audit keys readable by others are refused
    log = tmp_path / "audit.ndjson"
    seen: list[dict[str, Any]] = []
    verifier = make_verifier(audit_file=log, audit_hmac_key_file=key_file, audit=seen.append)
    token = mint()
    verifier.verify(token.token)
    with pytest.raises(oathmesh.ReplayDetected):
        verifier.verify(token.token)
    with pytest.raises(oathmesh.PolicyDenied):
        verifier.verify(mint(act="refund").token)

    text = log.read_text()
    assert recompute_chain(key.encode(), text) == 3
    assert [json.loads(line)["outcome"] for line in text.splitlines()] == ["allow", "deny", "deny"]
    assert len(seen) == 3 and "hmac" not in seen[0]  # the callback gets the plain event
    assert key not in text and token.token not in text

    cli = [oathmesh_bin(), "audit", "verify", "--key-file", str(key_file), str(log)]
    ok = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "OK: 3 events" in ok.stdout, ok.stdout + ok.stderr
    # Tampering with one event breaks the chain at that line.
    lines = text.splitlines()
    lines[1] = lines[1].replace('"deny"', '"allow"', 1)
    log.write_text("\n".join(lines) + "\n")
    bad = subprocess.run(cli, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and ":2:" in bad.stdout + bad.stderr, bad.stdout + bad.stderr


def test_audit_hmac_key_inline_continues_an_existing_chain(
    tmp_path: Path, make_verifier: Callable[..., oathmesh.Verifier], mint: Callable[..., oathmesh.MintedToken]
) -> None:
    key = "inline-audit-key-0123456789"
    log = tmp_path / "audit.ndjson"
    make_verifier(audit_file=log, audit_hmac_key=key).verify(mint().token)
    make_verifier(audit_file=log, audit_hmac_key=key).verify(mint().token)  # a restart
    # Two events and, between them, the restart's segment header (a chained line too).
    assert recompute_chain(key.encode(), log.read_text()) == 3
    assert json.loads(log.read_text().splitlines()[1])["event"] == "oathmesh.audit_segment"
    with pytest.raises(oathmesh.ConfigError, match="HMAC key"):
        make_verifier(audit_file=log, audit_hmac_key="short")
