"""The README's snippets, extracted and run as written, then exercised with real framework
test clients. The snippets read `jwks.json` from the working directory: the tests write the
test issuer's JWKS there."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncio
import json
import os
import subprocess

import django_setup  # noqa: F401
import pytest
from services import IssuerProcess, issuer_server, oathmesh_bin, pkl_path, redis_url, sha256_hex

import oathmesh

README = Path(__file__).resolve().parents[1] / "README.md"
ISSUER = "https://issuer.internal"
AUDIENCE = "https://billing.internal"


def snippet(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```python\n(.*?)```", text, re.S)
    assert found, f"README has no snippet {name!r}"
    return found.group(1)


def run(name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"readme_{name.replace('-', '_')}"}
    exec(compile(snippet(name), f"README.md:{name}", "exec"), namespace)
    return namespace


@pytest.fixture
def readme_issuer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[oathmesh.Issuer]:
    issuer = oathmesh.Issuer.from_pem(ISSUER, oathmesh.generate_key().private_pem)
    (tmp_path / "jwks.json").write_text(issuer.jwks_json())
    monkeypatch.chdir(tmp_path)
    yield issuer


def test_basics(capsys: pytest.CaptureFixture[str]) -> None:
    run("basics")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("svc://checkout charge checkout-charges ")
    assert out[1].startswith("replay_detected 13 401 ")


def test_fastapi(readme_issuer: oathmesh.Issuer) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(run("fastapi")["app"])
    token = readme_issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
    r = client.post("/charge", headers={"Authorization": token.authorization})
    assert (r.status_code, r.json()) == (200, {"charged_by": "svc://checkout"})
    r = client.post("/charge", headers={"Authorization": token.authorization, "X-Request-Id": "r-1"})
    assert r.status_code == 401 and r.json()["error"] == "replay_detected" and r.json()["request_id"] == "r-1"
    wrong_action = readme_issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="refund")
    assert client.post("/charge", headers={"Authorization": wrong_action.authorization}).status_code == 403


def test_flask(readme_issuer: oathmesh.Issuer) -> None:
    client = run("flask")["app"].test_client()
    token = readme_issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
    r = client.post("/charge", headers={"Authorization": token.authorization})
    assert (r.status_code, r.get_json()) == (200, {"charged_by": "svc://checkout"})
    r = client.post("/charge")
    assert r.status_code == 401 and r.get_json()["error"] == "claim_missing:token"


def test_django(readme_issuer: oathmesh.Issuer) -> None:
    from django.http import JsonResponse
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import path

    settings_ns = run("django-settings")
    views = run("django-views")
    urls = types.ModuleType("readme_django_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("charge", views["charge"]),
        path("healthz", lambda request: JsonResponse({"ok": True})),
        path("whoami", lambda request: JsonResponse({"subject": request.oathmesh_caller.subject})),
    ]
    sys.modules[urls.__name__] = urls
    try:
        with override_settings(
            ROOT_URLCONF=urls.__name__,
            OATHMESH=settings_ns["OATHMESH"],
            MIDDLEWARE=settings_ns["MIDDLEWARE"],
            OATHMESH_EXEMPT_PATHS=settings_ns["OATHMESH_EXEMPT_PATHS"],
        ):
            client = Client()
            token = readme_issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
            r = client.post("/charge", headers={"Authorization": token.authorization})
            assert (r.status_code, r.json()) == (200, {"charged_by": "svc://checkout"})
            other = readme_issuer.mint(sub="svc://reports", aud=AUDIENCE, act="read")
            assert client.get("/whoami", headers={"Authorization": other.authorization}).json() == {"subject": "svc://reports"}
            assert client.get("/whoami").status_code == 401
            assert client.get("/healthz").json() == {"ok": True}
    finally:
        del sys.modules[urls.__name__]


CLIENT_SECRET = "readme-client-secret-0123456789"


@pytest.fixture(scope="module")
def readme_issuer_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IssuerProcess]:
    clients = (
        f'[[clients]]\nid = "checkout"\nsecret_sha256 = "{sha256_hex(CLIENT_SECRET)}"\n'
        f'allowed_sub = ["svc://checkout"]\nallowed_aud = ["{AUDIENCE}"]\nallowed_act = ["charge"]\n'
    )
    with issuer_server(tmp_path_factory.mktemp("readme-issuer"), clients, CLIENT_SECRET) as process:
        yield process


@pytest.fixture
def client_env(readme_issuer_process: IssuerProcess, monkeypatch: pytest.MonkeyPatch) -> oathmesh.Verifier:
    monkeypatch.setenv("OATHMESH_ISSUER_URL", readme_issuer_process.url)
    monkeypatch.setenv("OATHMESH_CLIENT_SECRET", CLIENT_SECRET)
    # The receiving side: keys fetched from the running issuer.
    return oathmesh.Verifier(audience=AUDIENCE, trusted_issuers=[readme_issuer_process.url])


def test_client(client_env: oathmesh.Verifier, capsys: pytest.CaptureFixture[str]) -> None:
    ns = run("client")
    assert capsys.readouterr().out.startswith("mint_denied 403 ")
    assert client_env.verify_authorization(ns["headers"]["Authorization"]).subject == "svc://checkout"
    caller = client_env.verify(ns["bound"].token, method="POST", path="/charge?order=7", body=ns["body"])
    assert caller.action == "charge"


def test_async_client(client_env: oathmesh.Verifier) -> None:
    ns = run("async-client")
    headers = asyncio.run(ns["billing_headers"](b'{"amount": 5}'))
    caller = client_env.verify_authorization(
        headers["Authorization"], method="POST", path="/charge", body=b'{"amount": 5}'
    )
    assert caller.subject == "svc://checkout"


def test_shared_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OATHMESH_REDIS_URL", redis_url())
    monkeypatch.setenv("OATHMESH_PKL", pkl_path())
    (tmp_path / "policy.pkl").write_text(
        'version = 1\nrules = new Listing {\n  new { name = "checkout"; allow = true; '
        'match = new Mapping { ["sub"] = "svc://checkout" } }\n}\n'
    )
    (tmp_path / "audit.key").write_text(os.urandom(16).hex())
    (tmp_path / "audit.key").chmod(0o600)  # audit keys readable by others are refused
    verifier = run("shared-state")["verifier"]
    assert verifier.audience == AUDIENCE and verifier.reload_policy_now() is False
    # issuer.internal does not exist here: prewarm's failed fetch is an ops event in the
    # chained audit file, which the CLI verifies with the key.
    [event] = [json.loads(line) for line in (tmp_path / "audit.ndjson").read_text().splitlines()]
    assert (event["event"], event["state"], event["seq"]) == ("oathmesh.jwks", "fetch_failed", 1)
    checked = subprocess.run(
        [oathmesh_bin(), "audit", "verify", "--key-file", "audit.key", "audit.ndjson"],
        capture_output=True, text=True, timeout=30,
    )
    assert checked.returncode == 0 and "OK: 1 events" in checked.stdout, checked.stdout + checked.stderr
