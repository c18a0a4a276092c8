"""The behaviour every framework adapter must show, written once and run against each
(FastAPI dependency and middleware, Flask, Django middleware and decorator).

A subclass provides ``client`` (a real framework test client) through ``send``; the app
serves ``POST /charge`` (any action the policy allows) and, for
:class:`RouteActionContract`, ``POST /charge-only`` (the route requires action ``charge``). Both answer
``{"subject", "action", "body"}`` so the tests can see the view still reads the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import oathmesh
from conftest import AUDIENCE

BODY = b'{"amount":1}'
ERROR_KEYS = {"error", "message", "fix", "step", "request_id"}


class Response:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = {k.lower(): v for k, v in headers.items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FrameworkContract:
    prefix = ""  # where the app mounts the routes; part of the path the token binds

    def send(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        raise NotImplementedError

    def post(
        self,
        token: oathmesh.MintedToken | None,
        path: str = "/charge?x=1",
        body: bytes = BODY,
        request_id: str | None = "req-123",
    ) -> Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = token.authorization
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        return self.send(self.prefix + path, headers, body)

    def assert_error(self, resp: Response, status: int, code: str, step: str) -> dict[str, Any]:
        assert resp.status == status, resp.body
        body = resp.json
        assert set(body) == ERROR_KEYS
        assert (body["error"], body["step"]) == (code, step)
        assert body["message"] and body["fix"]
        assert resp.headers["content-type"].startswith("application/json")
        return body

    def test_allow(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        resp = self.post(mint(act="charge"))
        assert resp.status == 200, resp.body
        assert resp.json == {"subject": "svc://checkout", "action": "charge", "body": BODY.decode()}

    def test_missing_header(self) -> None:
        resp = self.post(None)
        body = self.assert_error(resp, 401, "claim_missing:token", "00")
        assert body["request_id"] == "req-123"
        assert resp.headers["www-authenticate"] == "OathMesh"

    def test_request_id_generated_when_absent(self) -> None:
        body = self.assert_error(self.post(None, request_id=None), 401, "claim_missing:token", "00")
        assert len(body["request_id"]) == 32

    def test_bearer_scheme_refused(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        token = mint()
        resp = self.send(self.prefix + "/charge", {"Authorization": f"Bearer {token.token}"}, BODY)
        self.assert_error(resp, 401, "claim_missing:token", "00")

    def test_expired(self, past_issuer: oathmesh.Issuer) -> None:
        token = past_issuer.mint(sub="svc://checkout", aud=AUDIENCE, act="charge")
        self.assert_error(self.post(token), 401, "token_expired", "08")

    def test_wrong_audience(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        self.assert_error(self.post(mint(aud="https://other.oathmesh.test")), 401, "audience_mismatch", "10")

    def test_replay(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        token = mint()
        assert self.post(token).status == 200
        self.assert_error(self.post(token), 401, "replay_detected", "13")

    def test_policy_deny(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        body = self.assert_error(self.post(mint(act="refund")), 403, "policy_denied", "14")
        assert "no-refunds" in body["message"]

    def test_bound_token(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        # Percent-encoding and query order exactly as sent.
        path = "/charge?b=2&a=%41"
        token = mint(rqh=oathmesh.canonical_request_hash("POST", self.prefix + path, BODY))
        assert self.post(token, path=path).status == 200

    def test_binding_mismatch_on_tampered_body(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        token = mint(rqh=oathmesh.canonical_request_hash("POST", self.prefix + "/charge?x=1", BODY))
        self.assert_error(self.post(token, body=b'{"amount":100}'), 401, "binding_mismatch", "12")
        # The token was not burned by the failed attempt.
        assert self.post(token).status == 200

    def test_binding_mismatch_on_tampered_query(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        token = mint(rqh=oathmesh.canonical_request_hash("POST", self.prefix + "/charge?x=1", BODY))
        self.assert_error(self.post(token, path="/charge?x=2"), 401, "binding_mismatch", "12")


class RouteActionContract(FrameworkContract):
    """For adapters with a per-route action: ``POST /charge-only`` requires ``act == charge``."""

    def test_route_action(self, mint: Callable[..., oathmesh.MintedToken]) -> None:
        assert self.post(mint(act="charge"), path="/charge-only").status == 200
        body = self.assert_error(self.post(mint(act="ship"), path="/charge-only"), 403, "policy_denied", "14")
        assert "charge" in body["message"]
