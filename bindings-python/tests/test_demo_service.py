"""The FastAPI demo service (demo/services/python) started with its run.sh under uvicorn,
with a static-JWKS configuration file, and called over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import AUDIENCE, ISSUER, POLICY
from services import free_port, wait_for_http

import oathmesh

RUN_SH = Path(__file__).resolve().parents[2] / "demo" / "services" / "python" / "run.sh"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, oathmesh.Issuer]]:
    tmp = tmp_path_factory.mktemp("demo")
    issuer = oathmesh.Issuer.from_pem(ISSUER, oathmesh.generate_key().private_pem)
    config = tmp / "verifier.json"
    config.write_text(json.dumps(
        {"audience": AUDIENCE, "trusted_issuers": [ISSUER], "jwks": issuer.jwks(), "policy": POLICY}
    ))
    port = free_port()
    env = dict(os.environ, PORT=str(port), SERVICE_NAME="payments", OATHMESH_CONFIG=str(config))
    log = open(tmp / "service.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([str(RUN_SH)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{url}/healthz")
        except AssertionError:
            raise AssertionError((tmp / "service.log").read_text()) from None
        yield url, issuer
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_healthz_is_open(service: tuple[str, oathmesh.Issuer]) -> None:
    url, _ = service
    r = httpx.get(f"{url}/healthz")
    assert (r.status_code, r.json()) == (200, {"ok": True})


def test_a_bound_token_is_allowed_once(service: tuple[str, oathmesh.Issuer]) -> None:
    url, issuer = service
    body = b'{"amount": 1200}'
    rqh = oathmesh.canonical_request_hash("POST", "/api/charge?order=7", body)
    token = issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge", rqh=rqh)
    headers = {"Authorization": token.authorization, "Content-Type": "application/json"}
    r = httpx.post(f"{url}/api/charge?order=7", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "service": "payments",
        "subject": "svc://checkout",
        "action": "charge",
        "token_id": token.token_id,
        "policy_rule": "services",
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    again = httpx.post(f"{url}/api/charge?order=7", content=body, headers=headers)
    assert (again.status_code, again.json()["error"]) == (401, "replay_detected")


def test_denials_answer_with_the_protocol_error_body(service: tuple[str, oathmesh.Issuer]) -> None:
    url, issuer = service
    r = httpx.get(f"{url}/api/orders", headers={"X-Request-Id": "demo-1"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "OathMesh"
    assert set(r.json()) == {"error", "message", "fix", "step", "request_id"}
    assert (r.json()["error"], r.json()["request_id"]) == ("claim_missing:token", "demo-1")

    rqh = oathmesh.canonical_request_hash("POST", "/api/charge", b'{"amount": 1}')
    bound = issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge", rqh=rqh)
    r = httpx.post(f"{url}/api/charge", content=b'{"amount": 9999}', headers={"Authorization": bound.authorization})
    assert (r.status_code, r.json()["error"], r.json()["step"]) == (401, "binding_mismatch", "12")

    refund = issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="refund")
    r = httpx.delete(f"{url}/api/orders/7", headers={"Authorization": refund.authorization})
    assert (r.status_code, r.json()["error"]) == (403, "policy_denied")
