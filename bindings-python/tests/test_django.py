"""Django: the middleware and the ``require`` decorator through Django's test client, with
settings configured in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import django_setup  # noqa: F401  (configures settings before Django is used)
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import override_settings

import oathmesh
from framework_contract import BODY, FrameworkContract, Response, RouteActionContract

MIDDLEWARE = ["oathmesh.django.OathMeshMiddleware"]


class _Django(FrameworkContract):
    middleware: list[str] = []

    @pytest.fixture(autouse=True)
    def _settings(self, verifier: oathmesh.Verifier) -> Iterator[None]:
        with override_settings(
            OATHMESH={"VERIFIER": verifier}, MIDDLEWARE=self.middleware, OATHMESH_EXEMPT_PATHS=["/healthz"]
        ):
            self.client = Client()
            yield

    def send(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        content_type = headers.pop("Content-Type", "application/octet-stream")
        r = self.client.post(path, data=body, content_type=content_type, headers=headers)
        return Response(r.status_code, r.content, dict(r.headers))


class TestMiddleware(_Django):
    middleware = MIDDLEWARE

    def test_exempt_path(self) -> None:
        assert self.client.get("/healthz").json() == {"ok": True}


class TestDecorator(_Django, RouteActionContract):
    prefix = "/decorated"


class TestDecoratorUnderMiddleware(_Django, RouteActionContract):
    """With both installed, a decorated view is verified once (by the decorator)."""

    prefix = "/decorated"
    middleware = MIDDLEWARE


class FallbackPage:
    """Response-phase middleware like ``FlatpageFallbackMiddleware``: turns a 404 into a page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404:
            return HttpResponse(b"internal page", status=200)
        return response


def test_middleware_verifies_at_entry_before_response_phase_middleware(
    verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]
) -> None:
    """A path routed to no view is still protected: the fallback page is never served to an
    unverified caller (the old middleware verified in ``process_view``, which never ran)."""
    middleware = ["test_django.FallbackPage", *MIDDLEWARE]
    with override_settings(OATHMESH={"VERIFIER": verifier}, MIDDLEWARE=middleware):
        client = Client()
        refused = client.get("/about-us")
        assert (refused.status_code, refused.json()["error"]) == (401, "claim_missing:token")
        allowed = client.get("/about-us", headers={"Authorization": mint().authorization})
        assert (allowed.status_code, allowed.content) == (200, b"internal page")


def test_settings_keyword_arguments(issuer: oathmesh.Issuer, mint: Callable[..., oathmesh.MintedToken]) -> None:
    from conftest import AUDIENCE, ISSUER

    conf = {"audience": AUDIENCE, "trusted_issuers": [ISSUER], "jwks": issuer.jwks()}
    with override_settings(OATHMESH=conf, MIDDLEWARE=MIDDLEWARE):
        client = Client()
        r = client.post("/charge", data=BODY, content_type="application/json", headers={"Authorization": mint().authorization})
        assert r.status_code == 200, r.content


def test_asgi_request_binding(verifier: oathmesh.Verifier, mint: Callable[..., oathmesh.MintedToken]) -> None:
    """Under ASGI, Django's request keeps the ASGI scope; the binding uses it."""
    import asyncio

    from django.test import AsyncClient

    path = "/decorated/charge?b=2&a=%41"
    token = mint(rqh=oathmesh.canonical_request_hash("POST", path, BODY))

    async def post(body: bytes) -> tuple[int, dict[str, str]]:
        r = await AsyncClient().post(path, data=body, content_type="application/json", headers={"Authorization": token.authorization})
        return r.status_code, r.json()

    with override_settings(OATHMESH={"VERIFIER": verifier}, MIDDLEWARE=[]):
        status, body = asyncio.run(post(b'{"amount":100}'))
        assert (status, body["error"]) == (401, "binding_mismatch")
        status, body = asyncio.run(post(BODY))
        assert (status, body["subject"]) == (200, "svc://checkout")
